"""What the live view draws: the rover's links as primitives, the path driven, the goal.

Pure Python and numpy. Geometry comes from the URDF; each link is drawn in its own
frame, so the frame tree (frames.py) moves it.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass
import math

from chang_e_rover.live.frames import quaternion
from chang_e_rover.robot_description import Geometry, Robot, rpy_matrix

# A visual without a material: the URDF gives no colour, Foxglove needs one.
DEFAULT_RGBA = (0.7, 0.7, 0.7, 1.0)


@dataclass(frozen=True)
class Primitive:
    """A Foxglove scene primitive: kind cube, cylinder (axis z) or sphere."""

    kind: str
    size: tuple[float, float, float]                # m, extent along the primitive's x, y, z
    position: tuple[float, float, float]            # m, in the link's frame
    orientation: tuple[float, float, float, float]  # x, y, z, w
    rgba: tuple[float, float, float, float]


def primitive(geometry: Geometry) -> Primitive:
    """Return a URDF visual as a scene primitive (a URDF cylinder's axis is z, as Foxglove's)."""
    if geometry.kind == 'box':
        kind, size = 'cube', tuple(geometry.size)
    elif geometry.kind == 'cylinder':
        radius, length = geometry.size
        kind, size = 'cylinder', (2 * radius, 2 * radius, length)
    elif geometry.kind == 'sphere':
        kind, size = 'sphere', (2 * geometry.size[0],) * 3
    else:
        raise ValueError(f'geometry {geometry.kind!r}: box, cylinder or sphere expected')
    return Primitive(kind, tuple(float(v) for v in size), tuple(float(v) for v in geometry.xyz),
                     quaternion(rpy_matrix(geometry.rpy)), tuple(geometry.rgba or DEFAULT_RGBA))


def link_primitives(robot: Robot) -> dict[str, list[Primitive]]:
    """Return each link's visual geometry as primitives in the link's own frame; links
    without visuals (optical frames, the IMU) are left out."""
    return {name: [primitive(v) for v in link.visuals]
            for name, link in robot.links.items() if link.visuals}


class Trail:
    """The path driven: positions at least spacing_m apart, the newest max_points of them."""

    def __init__(self, spacing_m: float, max_points: int):
        if not (spacing_m > 0 and max_points >= 2):
            raise ValueError(f'path: spacing_m {spacing_m} must be > 0 and max_points '
                             f'{max_points} at least 2')
        self.spacing_m = spacing_m
        self.points: deque[tuple[float, float, float]] = deque(maxlen=int(max_points))

    def add(self, position: tuple[float, float, float]) -> bool:
        """Keep position if it is spacing_m or more from the last one kept; return whether."""
        if not all(math.isfinite(v) for v in position):
            return False
        if self.points and math.dist(self.points[-1], position) < self.spacing_m:
            return False
        self.points.append(tuple(float(v) for v in position))
        return True
