"""The hazard cameras and the gate on the simulator: the rover stops itself before what it cannot climb.

The whole drive stack with /rover/hazard_camera (its own executor and thread,
as in one-process bringup) on the ICD test terrains; the operator commands
top speed straight ahead, the features begin 3 m ahead across the path.
"""
import math

import pytest

from chang_e_rover.sim.terrain import FEATURE_START_X
from flown_stack import cross_rock_field, GEOMETRY, HazardStack


@pytest.fixture
def stack(ros, request):
    # a terrain name (visual odometry as config says), or (name, visual odometry on)
    terrain, vo = request.param if isinstance(request.param, tuple) else (request.param, None)
    s = HazardStack(ros, terrain, visual_odometry=vo)
    yield s
    s.close()


@pytest.mark.parametrize('stack', ['step25', 'ramp25'], indirect=True)
def test_the_rover_stops_short_of_what_it_cannot_climb(stack):
    front = stack.drive_ahead(100.0)
    short = FEATURE_START_X - front
    print(f'stopped with the tyres {short:.2f} m short of the feature')
    assert short >= 0.3, 'stopped at least 0.3 m short, never climbing'
    assert stack.controller.core.gate_state == 'blocked'
    mapper = stack.hazard.mapper
    assert mapper.processed + mapper.views.skipped >= 50, 'a pair a second handled'
    # standing at the gate, a map at least every map.max_interval_s (a pair a second)
    assert mapper.processed >= 100 / (mapper.views.max_interval_s + 1)


def _visual_odometry_was_used(stack):
    """The hazard node's visual odometry reached the controller, and its odometry is on the truth."""
    core, vo = stack.controller.core, stack.hazard.vo
    truth = stack.sim.world.ground_truth().position
    off = math.hypot(core.odometry.x - truth[0], core.odometry.y - truth[1])
    print(f'visual odometry: {vo.linked} pairs linked, {vo.unlinked} not; the controller took '
          f'{core.visual_steps} steps, {core.visual_idle} while standing (not taken), refused '
          f'{core.visual_refused}; odometry {off:.3f} m off')
    assert vo.linked >= 0.8 * stack.hazard.mapper.processed
    assert core.visual_steps >= 20
    assert core.visual_steps + core.visual_idle >= 0.8 * vo.linked and core.visual_refused <= 2
    assert off < 0.05


@pytest.mark.parametrize('stack', ['ramp20'], indirect=True)
def test_the_rover_climbs_a_20_degree_ramp(stack):
    front = stack.drive_ahead(100.0)
    assert front > FEATURE_START_X + 1.5, 'on up the ramp'
    assert stack.controller.core.gate_state == 'clear'


@pytest.mark.parametrize('stack', ['step20'], indirect=True)
def test_the_rover_climbs_a_20_cm_step(stack):
    # Each wheel in turn is held against the step face until its unit breaks away (the
    # integral raised to the torque that lifts it); none may be judged seized on the way.
    # The hazard node's visual odometry (on in the stack, docs/drive.md, "Visual odometry")
    # reaches the controller through rover/visual_odom.
    front = stack.drive_ahead(110.0)
    assert stack.controller.core.gate_state == 'clear'
    assert front > FEATURE_START_X + 1.0
    truth = stack.sim.world.ground_truth().position
    rear = truth[0] + min(x for x, _ in GEOMETRY.wheel_xy.values())
    assert rear > FEATURE_START_X + 0.3, f'the whole rover up: rear axle at x={rear:.2f} m'
    faults = {w: v.fault for w, v in stack.controller.core.wheels.items() if v.fault != 'none'}
    assert not faults, f'wheels judged failed on a step they can climb: {faults}'
    _visual_odometry_was_used(stack)


@pytest.fixture
def rock_field(ros):
    s = HazardStack(ros, 'rocks', seed=3, rock_abundance=0.1)
    yield s
    s.close()


@pytest.mark.timeout(2400)
def test_through_a_rock_field_to_a_goal_15_m_away(rock_field):
    """The flown stack through the rocks, and its own map (stereo, registered by its own
    odometry) against the simulator's true rocks and heightfield."""
    q = cross_rock_field(rock_field, goal_x=15.0, cap_s=420.0)
    print(f"attitude error at most (deg): {q['attitude_error_deg']}")
    print(f"map within 5 m: {q}")
    assert q['reached'], f"goal not reached; rover at {q['position']}"
    assert q['arrival_error_m'] < 0.5, 'arrived (odometry drift on rocks ~1 %)'
    assert not q['touched'], f"touched rocks taller than the step limit: {q['touched']}"
    assert q['healthy'] == 6, 'no wheel left out of service by the rocks'
    # Visual odometry keeps the odometry on the truth over the rocks (measured: 0.05 m at
    # most; wheels and gyro alone: 0.31 m).
    assert q['odom_error_m'] < 0.15, f"odometry {q['odom_error_m']:.3f} m off the truth"
    # The map as flown: the aims, strictly. Rocks of max_step_m or more whose top
    # was in a frame within the cameras' 5 m; false hazards among cells the truth calls
    # free; heights within 5 m of the path.
    assert q['tall'] > 20 and q['rocks'] >= 5, 'a field with tall rocks in view'
    assert q['recall'] >= 0.99, f"rocks missed: {q['missed']}"
    assert q['false_hazard_share'] <= 0.01, 'false hazards at most 1 % of free cells'
    # The drive's own attitude over the rocks, once aligned (the ramp's bound,
    # test_attitude_ramp.py): roll and pitch within 1 deg, heading drift under 1 deg.
    worst = q['attitude_error_deg']
    assert max(worst.values()) < 1.0, f'attitude error (deg): {worst}'
    assert q['cells'] > 5000 and q['rmse_m'] < 0.08, 'height map against the true heightfield'
