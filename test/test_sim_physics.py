"""Physical validation of the simulator: the rover climbs what Yutu-2 can, and no more.

Each test drives the MuJoCo world directly with the flight software's wheel
velocity loop (drive.wheel_control), all six wheels driven, lunar gravity.
"""
import numpy as np
import pytest

from chang_e_rover import config
from chang_e_rover.drive.wheel_control import VelocityLoop
from chang_e_rover.robot_description import load_urdf, rover_geometry, WHEEL_IDS
from chang_e_rover.sim.world import World

TOP_SPEED = config.load_params('rover.yaml', 'drive_controller')['max_speed_m_s']
GEOMETRY = rover_geometry(load_urdf(config.urdf_path('rover.urdf')))
FEATURE_X = 3.0
SLIP_TOLERANCE = 0.03   # stated: 1 m of wheel travel on flat ground moves the rover 1 m +- 3 %


def make_world(terrain: str) -> World:
    return World(overrides={'terrain.name': terrain})


def drive(world: World, wheel_speed: float, seconds: float, until=None) -> None:
    """Run the six wheels' velocity loops at the simulator's control period."""
    p = config.load_params('rover.yaml', 'wheel_unit')
    loops = [VelocityLoop(p['kp_nm_s_per_rad'], p['ki_nm_per_rad'], p['integral_limit_nm'])
             for _ in WHEEL_IDS]
    period = float(world.params['physics.control_period_s'])
    last = world.wheel_readings()['encoder_rad']
    for _ in range(int(seconds / period)):
        enc = world.wheel_readings()['encoder_rad']
        speed = (enc - last) / period
        last = enc
        for i, wid in enumerate(WHEEL_IDS):
            world.set_wheel_torque(wid, loops[i].update(wheel_speed, speed[i], world.time))
        world.step(period)
        if until is not None and until(world):
            break


def rear_axle_x(world: World) -> float:
    truth = world.ground_truth()
    return float(truth.position[0]) + GEOMETRY.wheel_xy['lr'][0]


@pytest.mark.parametrize('terrain, climbs', [('ramp20', True), ('ramp25', False),
                                             ('step20', True), ('step25', False)])
def test_climbs_its_limits_and_no_more(terrain, climbs):
    world = make_world(terrain)
    world.step(1.0)
    # 150 s at top speed is 8.3 m of wheel travel: the whole rover could be 4 m past the edge.
    drive(world, TOP_SPEED / GEOMETRY.wheel_radius, 150.0,
          until=lambda w: rear_axle_x(w) > FEATURE_X + 1.0)
    over = rear_axle_x(world) > FEATURE_X + 0.5
    assert over == climbs, (f'{terrain}: rear axle at x={rear_axle_x(world):.2f} m, '
                            f'body z={world.ground_truth().position[2]:.2f} m')
    if climbs:
        x = world.ground_truth().position[0]
        expected_z = world.terrain.ground_height(np.array(x), np.array(0.0))
        assert world.ground_truth().position[2] == pytest.approx(
            expected_z + GEOMETRY.base_height, abs=0.05)


def test_parked_rover_stays_put():
    world = make_world('flat')
    world.step(1.0)
    start = world.ground_truth().position.copy()
    world.step(60.0)   # motors unpowered: gear friction alone holds it
    assert np.linalg.norm(world.ground_truth().position - start) < 0.005


def test_one_metre_of_wheel_travel_moves_one_metre():
    world = make_world('flat')
    world.step(1.0)
    start = world.ground_truth().position.copy()
    enc0 = world.wheel_readings()['encoder_rad'].copy()
    travel = lambda w: np.mean(w.wheel_readings()['encoder_rad'] - enc0) * GEOMETRY.wheel_radius
    drive(world, TOP_SPEED / GEOMETRY.wheel_radius, 40.0, until=lambda w: travel(w) >= 1.0)
    drive(world, 0.0, 5.0)
    moved = np.linalg.norm(world.ground_truth().position[:2] - start[:2])
    wheel_travel = travel(world)
    assert wheel_travel == pytest.approx(1.0, abs=0.05)
    assert moved == pytest.approx(wheel_travel, rel=SLIP_TOLERANCE)


def test_true_speed_follows_wheel_speed_and_stays_under_top_speed():
    world = make_world('flat')
    world.step(1.0)
    peak = 0.0
    for _ in range(20):
        drive(world, TOP_SPEED / GEOMETRY.wheel_radius, 1.0)
        peak = max(peak, float(np.linalg.norm(world.ground_truth().linear[:2])))
    assert peak == pytest.approx(TOP_SPEED, rel=0.05)


def test_stalled_wheel_is_locked_and_draws_current():
    world = make_world('flat')
    world.step(1.0)
    world.set_fault('lf', 'stall')
    drive(world, TOP_SPEED / GEOMETRY.wheel_radius, 10.0)
    r = world.wheel_readings()
    names, q, v, _ = world.joint_state('rover')
    speed = dict(zip(names, v))
    assert abs(speed['wheel_lf_joint']) < 0.005 and speed['wheel_rm_joint'] > 0.1
    assert abs(r['current_a'][WHEEL_IDS.index('lf')]) > 2.0 * abs(r['current_a'][WHEEL_IDS.index('rm')])
    truth = world.ground_truth()
    # dragged, not tipped: upright and still going forward at a reduced speed
    assert truth.position[2] == pytest.approx(GEOMETRY.base_height, abs=0.02)
    assert 0.3 * TOP_SPEED < truth.linear[0] < TOP_SPEED


def test_open_circuit_wheel_is_dragged():
    world = make_world('flat')
    world.step(1.0)
    world.set_fault('rf', 'open_circuit')
    drive(world, TOP_SPEED / GEOMETRY.wheel_radius, 10.0)
    names, _, v, _ = world.joint_state('rover')
    speed = dict(zip(names, v))
    assert world.wheel_readings()['current_a'][WHEEL_IDS.index('rf')] == 0.0
    # no torque of its own, yet it turns: the others drag it along the ground
    assert speed['wheel_rf_joint'] > 0.5 * speed['wheel_lf_joint']
