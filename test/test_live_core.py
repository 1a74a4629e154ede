"""The live view's pure parts: URDF to frames and primitives, the path, the hazard map's cells,
and their Foxglove messages decoded back through the schemas the SDK advertises."""
import math

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from hypothesis import given, settings, strategies as st
import numpy as np
import pytest

from chang_e_rover import config
from chang_e_rover.live import encode
from chang_e_rover.live.frames import FrameTree, pose_transform
from chang_e_rover.live.grid import occupancy_cells
from chang_e_rover.live.scene import link_primitives, Trail
from chang_e_rover.robot_description import load_urdf, rpy_matrix

ROBOT = load_urdf(config.urdf_path('rover.urdf'))
MOVING = [j.name for j in ROBOT.joints.values() if j.kind in ('revolute', 'continuous')]


def decoder(schema_name: str, file_descriptor_set: bytes):
    """Return a function that decodes protobuf payloads of schema_name, built from the
    FileDescriptorSet a Foxglove server advertises (as the Foxglove app does)."""
    pool = descriptor_pool.DescriptorPool()
    for proto in descriptor_pb2.FileDescriptorSet.FromString(file_descriptor_set).file:
        pool.Add(proto)
    cls = message_factory.GetMessageClass(pool.FindMessageTypeByName(schema_name))
    return cls.FromString


def decode(message):
    """Encode a foxglove.messages object and decode it through its own schema."""
    schema = message.get_schema()
    assert schema.encoding == 'protobuf'
    return decoder(schema.name, schema.data)(message.encode())


def matrix(translation, rotation) -> np.ndarray:
    """The 4x4 pose of a translation and a quaternion (x, y, z, w), written out here."""
    x, y, z, w = rotation
    m = np.eye(4)
    m[:3, :3] = [[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                 [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                 [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]]
    m[:3, 3] = translation
    return m


@settings(max_examples=25, deadline=None)
@given(st.lists(st.floats(-3.0, 3.0), min_size=len(MOVING), max_size=len(MOVING)))
def test_the_frame_tree_places_every_link_where_the_urdf_does(angles):
    tree = FrameTree(ROBOT)
    given_ = {n: q for n, q in zip(MOVING, angles) if n != 'rocker_right_joint'}
    tree.update(given_.keys(), given_.values())
    by_child = {tf.child: tf for tf in tree.transforms()}
    assert set(by_child) == set(ROBOT.links) - {ROBOT.root}
    expected = dict(given_, rocker_right_joint=-given_['rocker_left_joint'])   # the mimic
    for link in ROBOT.links:
        pose, frame = np.eye(4), link
        while frame in by_child:
            pose = matrix(by_child[frame].translation, by_child[frame].rotation) @ pose
            frame = by_child[frame].parent
        assert frame == 'base_link'
        np.testing.assert_allclose(pose, ROBOT.transform_to_root(link, expected), atol=1e-9)


def test_unknown_joints_and_unreadable_positions_leave_the_last_known_one():
    tree = FrameTree(ROBOT)
    tree.update(['wheel_lf_joint', 'no_such_joint', 'mast_joint'], [1.0, 2.0, 3.0])
    tree.update(['wheel_lf_joint'], [math.nan])
    assert tree.positions == {'wheel_lf_joint': 1.0}
    wheel = next(tf for tf in tree.transforms() if tf.child == 'wheel_lf')
    assert wheel.rotation == pytest.approx((0.0, math.sin(0.5), 0.0, math.cos(0.5)))
    assert wheel.translation == pytest.approx(ROBOT.joints['wheel_lf_joint'].xyz)


def test_a_pose_is_normalised_and_a_zero_quaternion_refused():
    tf = pose_transform('odom', 'base_link', (1.0, 2.0, 0.3), (0.0, 0.0, 2.0, 0.0))
    assert tf.rotation == (0.0, 0.0, 1.0, 0.0) and tf.translation == (1.0, 2.0, 0.3)
    for bad in ((0.0, 0.0, 0.0, 0.0), (math.nan, 0.0, 0.0, 1.0)):
        with pytest.raises(ValueError, match='not a pose'):
            pose_transform('odom', 'base_link', (0.0, 0.0, 0.0), bad)


def test_every_visual_of_the_urdf_becomes_a_primitive_in_its_links_frame():
    prims = link_primitives(ROBOT)
    assert set(prims) == {n for n, link in ROBOT.links.items() if link.visuals}
    assert 'hazcam_left_optical_frame' not in prims and len(prims) >= 19
    (body,) = prims['base_link']
    visual = ROBOT.links['base_link'].visuals[0]
    assert body.kind == 'cube' and body.size == visual.size and body.position == visual.xyz
    assert body.rgba == visual.rgba
    (wheel,) = prims['wheel_lf']
    radius, width = ROBOT.links['wheel_lf'].visuals[0].size
    assert wheel.kind == 'cylinder' and wheel.size == (2 * radius, 2 * radius, width)
    # The cylinder's axis (z) turned onto the axle (y), as the URDF's rpy says.
    np.testing.assert_allclose(matrix((0, 0, 0), wheel.orientation)[:3, :3],
                               rpy_matrix(ROBOT.links['wheel_lf'].visuals[0].rpy),
                               atol=1e-9)


def test_the_path_keeps_points_a_spacing_apart_and_the_newest_only():
    trail = Trail(0.1, 3)
    kept = [trail.add((x, 0.0, 0.0)) for x in (0.0, 0.05, 0.1, math.nan, 0.25, 0.4)]
    assert kept == [True, False, True, False, True, True]
    assert list(trail.points) == [(0.1, 0.0, 0.0), (0.25, 0.0, 0.0), (0.4, 0.0, 0.0)]
    with pytest.raises(ValueError, match='spacing_m'):
        Trail(0.0, 10)


def test_the_hazard_map_cells_carry_colour_and_the_cost_itself():
    values = [-1, 0, 50, 99, 100, 10]
    cells = occupancy_cells(3, 2, values)
    assert (cells.column_count, cells.row_count, cells.cell_stride) == (3, 2, 5)
    assert cells.row_stride == 15 and len(cells.data) == 30
    rgba = np.frombuffer(cells.data, np.uint8).reshape(6, 5)
    assert rgba[0, 3] == 0, 'unknown is not drawn'
    assert tuple(rgba[1, :3]) == (0, 255, 0) and tuple(rgba[3, :3]) == (255, 0, 0)
    assert rgba[2, 0] > 200 and rgba[2, 1] > 200, 'half the limit is yellow'
    assert rgba[4, 3] > rgba[1, 3], 'untraversable is more opaque than any cost'
    assert rgba[:, 4].view(np.int8).tolist() == values
    for width, height, bad in ((3, 2, values[:5]), (0, 0, []), (3, 2, [101] * 6),
                               (3, 2, [-2] * 6)):
        with pytest.raises(ValueError):
            occupancy_cells(width, height, bad)


def test_the_foxglove_messages_decode_back_through_their_schemas():
    tree = FrameTree(ROBOT)
    tree.update(['steer_lf_joint'], [0.3])
    tfs = decode(encode.frame_transforms(tree.transforms(), 12_500_000_000)).transforms
    steer = next(t for t in tfs if t.child_frame_id == 'steer_lf')
    assert steer.parent_frame_id == 'rocker_left' and steer.timestamp.seconds == 12
    assert steer.timestamp.nanos == 500_000_000
    assert (steer.rotation.z, steer.rotation.w) == pytest.approx((math.sin(0.15), math.cos(0.15)))
    prims = link_primitives(ROBOT)
    update = decode(encode.scene_update(
        [encode.link_entity('wheel_lf', prims['wheel_lf'], 0),
         encode.path_entity([(0, 0, 0), (1, 0, 0)], 'odom', 0),
         encode.goal_entity((2.0, 1.0, 0.0), 0.1, 'odom', 0)]))
    wheel, path, goal = update.entities
    assert (wheel.id, wheel.frame_id, wheel.frame_locked) == ('rover/wheel_lf', 'wheel_lf', True)
    assert wheel.cylinders[0].size.x == pytest.approx(prims['wheel_lf'][0].size[0])
    assert wheel.cylinders[0].top_scale == 1.0, 'a cylinder, not a cone'
    assert [p.x for p in path.lines[0].points] == [0, 1]
    assert (goal.cylinders[0].pose.position.x, goal.cylinders[0].size.x) == (2.0, 0.2)
    g = decode(encode.grid(occupancy_cells(3, 2, [-1, 0, 50, 99, 100, 10]), 0.1,
                           ((-1.0, -2.0, 0.0), (0, 0, 0, 1)), 'odom', 0))
    assert (g.column_count, g.cell_size.x, g.pose.position.y) == (3, 0.1, -2.0)
    assert [f.name for f in g.fields] == ['red', 'green', 'blue', 'alpha', 'cost']
    assert np.frombuffer(g.data, np.int8).reshape(6, 5)[:, 4].tolist() == [-1, 0, 50, 99, 100, 10]


def test_diagnostics_become_records_with_level_names():
    record = encode.diagnostics_record(5, [('rover/wheel_lf', 'lf', 1, 'hot', [('t', '80')])])
    assert record == {'stamp_ns': 5, 'status': [{'name': 'rover/wheel_lf', 'hardware_id': 'lf',
                                                 'level': 'WARN', 'message': 'hot',
                                                 'values': {'t': '80'}}]}
