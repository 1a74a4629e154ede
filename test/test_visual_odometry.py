"""Visual odometry from the hazcam pairs, and the drive's odometry that takes its steps.

The wheels cannot see themselves slip: dragging a seized wheel over the Monte Carlo's
rough ground (seed 7, lr seized) they counted 0.55 m too much over 5.4 m, and the
rover stopped 0.62 m short of a 6 m goal (wheels and gyro alone). The visual steps are measured against the simulator's ground truth.
"""
import math

import numpy as np
import pytest
import transforms3d

from chang_e_rover.drive.controller import DriveCore
from chang_e_rover.hazard.visual_odometry import VisualOdometry, VOParams
from chang_e_rover.robot_description import WHEEL_IDS
from harness import CONTROLLER, GEOMETRY, Rover


def _pose(world) -> np.ndarray:
    g = world.ground_truth()
    T = np.eye(4)
    T[:3, :3] = transforms3d.quaternions.quat2mat(g.quaternion)
    T[:3, 3] = g.position
    return T


@pytest.mark.timeout(900)
def test_dragging_a_seized_wheel_the_visual_steps_keep_the_odometry_on_the_truth():
    rover = Rover('rocks', truth_map=True, odom_from_truth=True, visual_odometry=True,
                  **{'terrain.seed': 7, 'terrain.rock_abundance': 0.03,
                     'camera.hazcam.width': 512, 'camera.hazcam.height': 512})
    vo = rover.visual.vo
    frames: dict[float, np.ndarray] = {}
    errors: list[float] = []
    process = vo.process

    def measured(t, left, right):     # each step against the true motion between its frames
        frames[t] = _pose(rover.world)
        motion = process(t, left, right)
        if motion is not None:
            truth = np.linalg.solve(frames[motion.t0], frames[motion.t1])
            errors.append(float(np.linalg.norm(motion.translation - truth[:3, 3])))
        return motion

    vo.process = measured
    rover.inject('lr', 'stall')
    reached = rover.drive_to(6.0, 0.0, timeout=600.0)
    x, y = rover.position()
    odo = rover.core.odometry
    err = np.array(errors)
    print(f'{len(err)} visual steps: error median {1e3 * np.median(err):.2f} mm, max '
          f'{1e3 * err.max():.2f} mm; odometry {math.hypot(odo.x - x, odo.y - y):.3f} m off '
          f'at the end ({rover.odom_error_max:.3f} m at most); arrival '
          f'{math.hypot(x - 6.0, y):.3f} m off; wheel slip {rover.core.wheel_slip}')
    assert rover.detected.get('lr', (0, ''))[1] == 'stall'
    assert reached
    assert len(err) >= 0.9 * rover.world.time - 5, 'a step from nearly every pair'
    assert np.median(err) < 0.001 and err.max() < 0.003, 'each step within 3 mm of the truth'
    assert rover.core.visual_steps + rover.core.visual_idle >= len(err) - 2, 'the drive took the steps'
    assert rover.odom_error_max < 0.10, 'odometry on the truth all the way'
    assert math.hypot(x - 6.0, y) < 0.25, 'arrived where the goal is, by ground truth'


def test_visual_odometry_refuses_what_it_cannot_use():
    vo = VisualOdometry(np.array([[100.0, 0, 63.5], [0, 100.0, 63.5], [0, 0, 1]]), 0.2,
                        np.eye(4), VOParams())
    grey = np.full((128, 128), 90, np.uint8)
    with pytest.raises(ValueError, match='one size'):
        vo.process(0.0, grey, grey[:64])
    with pytest.raises(ValueError, match='not finite'):
        vo.process(math.nan, grey, grey)
    assert vo.last is None, 'a refused pair changes nothing'
    assert vo.process(0.0, grey, grey) is None     # the first frame: nothing to link to
    assert vo.process(1.0, grey, grey) is None, 'no texture, no features, no step'
    assert 'features' in vo.last_reason and vo.unlinked == 1 and vo.linked == 0
    with pytest.raises(ValueError, match='baseline'):
        VisualOdometry(np.eye(3), 0.0, np.eye(4))


class Wheels:
    """A DriveCore whose six wheels all turn at speed (rad/s) as the rover drives straight."""

    def __init__(self):
        self.core = DriveCore(GEOMETRY, CONTROLLER, start_t=0.0)
        self.t = 0.0
        self.angle = 0.0
        self.period = 1.0 / CONTROLLER['control_rate_hz']
        for w in WHEEL_IDS:
            self.core.wheel_status(w, 'ENABLED', 'none', 0.0)
        self.core.yaw_rate(0.0)

    def run(self, seconds: float, speed: float, driving: bool = True) -> None:
        end = self.t + seconds
        while self.t < end - 1e-9:
            self.t += self.period
            self.angle += speed * self.period
            for w in WHEEL_IDS:
                self.core.encoder(w, self.t, self.angle)
                self.core.wheel_status(w, 'ENABLED', 'none', self.t)
            self.core.command_velocity(0.05 if driving else 0.0, 0.0, self.t)
            self.core.step(self.t, self.period)


def test_a_rover_held_while_its_wheels_turn_stays_where_it_is_in_the_odometry():
    rig = Wheels()
    core, r = rig.core, GEOMETRY.wheel_radius
    rig.run(1.0, 0.05 / r)
    t0, x0 = rig.t, core.odometry.x
    rig.run(1.0, 0.05 / r)
    t1 = rig.t
    assert core.odometry.x == pytest.approx(x0 + 0.05, abs=0.003), 'the wheels count 5 cm'
    core.visual_motion(t0, t1, [0.0, 0.0, 0.0])     # the cameras saw it stand still
    rig.run(0.05, 0.05 / r)
    assert core.odometry.x == pytest.approx(x0 + 0.0025, abs=0.001)
    assert core.visual_steps == 1 and core.wheel_slip == pytest.approx(1.0, abs=0.05)
    # a half-length step: slip 0.5, and the odometry is where the step put it
    t2 = rig.t
    rig.run(1.0, 0.05 / r)
    core.visual_motion(t2, rig.t, [0.025, 0.0, 0.0])
    before = core.odometry.x
    rig.run(0.05, 0.05 / r)
    assert core.odometry.x == pytest.approx(before - 0.025 + 0.0025, abs=0.002)
    assert core.wheel_slip == pytest.approx(0.5, abs=0.05)


def test_visual_steps_that_cannot_be_placed_are_refused_and_change_nothing():
    rig = Wheels()
    core, r = rig.core, GEOMETRY.wheel_radius
    rig.run(12.0, 0.05 / r)
    for bad in ([math.nan, 0, 0], [0, math.inf, 0], [0, 0]):
        with pytest.raises(ValueError):
            core.visual_motion(rig.t - 1.0, rig.t, bad)
    with pytest.raises(ValueError):
        core.visual_motion(rig.t, rig.t - 1.0, [0, 0, 0])
    x = core.odometry.x
    core.visual_motion(0.5, 1.5, [0.05, 0, 0])            # older than the track kept
    core.visual_motion(rig.t - 1.0, rig.t, [0.5, 0, 0])   # would move it 0.45 m
    rig.run(0.05, 0.05 / r)
    assert core.visual_refused == 2 and core.visual_steps == 0
    assert core.odometry.x == pytest.approx(x + 0.0025, abs=0.001), 'the wheels alone'


def test_no_visual_step_is_taken_while_the_rover_is_not_driven():
    """On the deck the unfolding ramp can fill the cameras' view: its motion must not
    move a rover that is not driving."""
    rig = Wheels()
    rig.run(3.0, 0.0, driving=False)
    rig.core.visual_motion(rig.t - 2.0, rig.t - 1.0, [0.05, 0.0, 0.0])
    rig.run(0.05, 0.0, driving=False)
    assert rig.core.visual_idle == 1 and rig.core.visual_refused == 0
    assert rig.core.odometry.x == 0.0
    rig.run(2.0, 0.0)                  # driven (the wheels held): the step is taken
    rig.core.visual_motion(rig.t - 1.5, rig.t - 0.5, [0.03, 0.0, 0.0])
    rig.run(0.05, 0.0)
    assert rig.core.visual_steps == 1 and rig.core.odometry.x == pytest.approx(0.03, abs=1e-6)
