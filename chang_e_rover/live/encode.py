"""The live view's plain values as Foxglove's well-known messages (foxglove.messages).

No rclpy: the node converts ROS messages to plain values, the pure modules make
transforms, primitives and cells of them, and this module wraps those for the
SDK's typed channels. Times are nanoseconds of the stack's clock (sim time on the
simulator).
"""
from __future__ import annotations

from typing import Any, Iterable

from foxglove.messages import (Color, CubePrimitive, CylinderPrimitive, FrameTransform,
                               FrameTransforms, Grid, LinePrimitive, LinePrimitiveLineType,
                               PackedElementField, PackedElementFieldNumericType, Point3, Pose,
                               Quaternion, RawImage, SceneEntity, SceneUpdate, SpherePrimitive,
                               Timestamp, Vector2, Vector3)

from chang_e_rover.live.frames import Transform
from chang_e_rover.live.grid import GridCells
from chang_e_rover.live.scene import Primitive

ROVER_PREFIX = 'rover/'          # scene entity ids of the rover's links: rover/<link>
PATH_ID, GOAL_ID = 'path', 'goal'
# How the path and the goal look: display choices, not figures of the rover.
PATH_THICKNESS_M = 0.04
PATH_RGBA = (0.2, 0.6, 1.0, 1.0)
GOAL_RGBA = (1.0, 0.3, 0.9, 0.6)
GOAL_HEIGHT_M = 0.02             # a disc on the ground, its radius the goal tolerance
NUMERIC = {'uint8': PackedElementFieldNumericType.Uint8,
           'int8': PackedElementFieldNumericType.Int8}
LEVELS = {0: 'OK', 1: 'WARN', 2: 'ERROR', 3: 'STALE'}


def timestamp(ns: int) -> Timestamp:
    sec, nsec = divmod(int(ns), 1_000_000_000)
    return Timestamp(sec, nsec)


def _pose(position, orientation) -> Pose:
    x, y, z, w = orientation
    return Pose(position=Vector3(x=position[0], y=position[1], z=position[2]),
                orientation=Quaternion(x=x, y=y, z=z, w=w))


def _color(rgba) -> Color:
    return Color(r=rgba[0], g=rgba[1], b=rgba[2], a=rgba[3])


def frame_transforms(transforms: Iterable[Transform], stamp_ns: int) -> FrameTransforms:
    t = timestamp(stamp_ns)
    return FrameTransforms(transforms=[
        FrameTransform(timestamp=t, parent_frame_id=tf.parent, child_frame_id=tf.child,
                       translation=Vector3(x=tf.translation[0], y=tf.translation[1],
                                           z=tf.translation[2]),
                       rotation=Quaternion(x=tf.rotation[0], y=tf.rotation[1],
                                           z=tf.rotation[2], w=tf.rotation[3]))
        for tf in transforms])


def link_entity(link: str, primitives: list[Primitive], stamp_ns: int) -> SceneEntity:
    """One rover link, drawn in its own frame and locked to it (it moves with the frame)."""
    kinds: dict[str, list] = {'cube': [], 'cylinder': [], 'sphere': []}
    for p in primitives:
        cls = {'cube': CubePrimitive, 'cylinder': CylinderPrimitive,
               'sphere': SpherePrimitive}[p.kind]
        extra = {'bottom_scale': 1.0, 'top_scale': 1.0} if p.kind == 'cylinder' else {}
        kinds[p.kind].append(cls(pose=_pose(p.position, p.orientation),
                                 size=Vector3(x=p.size[0], y=p.size[1], z=p.size[2]),
                                 color=_color(p.rgba), **extra))
    return SceneEntity(timestamp=timestamp(stamp_ns), frame_id=link, id=ROVER_PREFIX + link,
                       frame_locked=True, cubes=kinds['cube'], cylinders=kinds['cylinder'],
                       spheres=kinds['sphere'])


def path_entity(points: Iterable[tuple[float, float, float]], frame: str,
                stamp_ns: int) -> SceneEntity:
    return SceneEntity(timestamp=timestamp(stamp_ns), frame_id=frame, id=PATH_ID, lines=[
        LinePrimitive(type=LinePrimitiveLineType.LineStrip, thickness=PATH_THICKNESS_M,
                      points=[Point3(x=p[0], y=p[1], z=p[2]) for p in points],
                      color=_color(PATH_RGBA), pose=_pose((0, 0, 0), (0, 0, 0, 1)))])


def goal_entity(position: tuple[float, float, float], radius_m: float, frame: str,
                stamp_ns: int) -> SceneEntity:
    return SceneEntity(timestamp=timestamp(stamp_ns), frame_id=frame, id=GOAL_ID, cylinders=[
        CylinderPrimitive(pose=_pose(position, (0, 0, 0, 1)), bottom_scale=1.0, top_scale=1.0,
                          size=Vector3(x=2 * radius_m, y=2 * radius_m, z=GOAL_HEIGHT_M),
                          color=_color(GOAL_RGBA))])


def scene_update(entities: list[SceneEntity]) -> SceneUpdate:
    return SceneUpdate(entities=entities)


def grid(cells: GridCells, resolution_m: float, origin: tuple, frame: str,
         stamp_ns: int) -> Grid:
    """origin: ((x, y, z), (qx, qy, qz, qw)) of the corner of cell (0, 0) in frame."""
    return Grid(timestamp=timestamp(stamp_ns), frame_id=frame, pose=_pose(*origin),
                column_count=cells.column_count,
                cell_size=Vector2(x=resolution_m, y=resolution_m),
                row_stride=cells.row_stride, cell_stride=cells.cell_stride,
                fields=[PackedElementField(name=n, offset=o, type=NUMERIC[t])
                        for n, o, t in cells.fields], data=cells.data)


def raw_image(width: int, height: int, encoding: str, step: int, data: bytes, frame: str,
              stamp_ns: int) -> RawImage:
    return RawImage(timestamp=timestamp(stamp_ns), frame_id=frame, width=width, height=height,
                    encoding=encoding, step=step, data=data)


# The diagnostics as JSON, one record per DiagnosticArray.
DIAGNOSTICS_SCHEMA: dict[str, Any] = {
    'type': 'object',
    'properties': {
        'stamp_ns': {'type': 'integer'},
        'status': {'type': 'array', 'items': {'type': 'object', 'properties': {
            'name': {'type': 'string'}, 'hardware_id': {'type': 'string'},
            'level': {'type': 'string', 'enum': list(LEVELS.values())},
            'message': {'type': 'string'},
            'values': {'type': 'object', 'additionalProperties': {'type': 'string'}}}}},
    },
}


def diagnostics_record(stamp_ns: int, statuses: Iterable[tuple]) -> dict[str, Any]:
    """statuses: (name, hardware_id, level 0..3, message, [(key, value), ...]) each."""
    return {'stamp_ns': int(stamp_ns), 'status': [
        {'name': name, 'hardware_id': hw, 'level': LEVELS.get(level, str(level)),
         'message': message, 'values': dict(values)}
        for name, hw, level, message, values in statuses]}
