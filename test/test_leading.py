"""Which end leads a goal drive, and the look-then-back-up of a rover led by its rear
(navigation/leading.py), without ROS or physics."""
import math

import numpy as np

from chang_e_rover import config
from chang_e_rover.drive.odometry import Odometry2D
from chang_e_rover.hazard.gate import Footprint, Grid, vote_arcs
from chang_e_rover.navigation.leading import leading_sign
from chang_e_rover.navigation.navigator import Navigator
from chang_e_rover.robot_description import load_urdf, rover_geometry, WHEEL_IDS

GEOMETRY = rover_geometry(load_urdf(config.urdf_path('rover.urdf')))
P = config.load_params('rover.yaml', 'drive_controller')
FOOT = Footprint.of_rover(GEOMETRY, P['hazard.footprint_end_margin_m'],
                          P['hazard.footprint_side_margin_m'])
DT = 0.1


class Notes(list):
    def __call__(self, t, wheel, what):
        self.append(what)


def seen_up_to(x_max: float) -> Grid:
    """A 16 m square of level ground about the origin, seen for x < x_max, unseen beyond."""
    cost = np.zeros((160, 160), np.int8)
    cost[:, int(round((x_max + 8.0) / 0.1)):] = -1
    return Grid(cost, -8.0, -8.0, 0.1)


def drive(nav: Navigator, pose: Odometry2D, t: float, seconds: float, healthy, locked,
          seen=lambda pose: 8.0) -> tuple[float, list[float]]:
    """Step the navigator, moving pose as the twist it commands (through its gate) says;
    a map a second, seen up to seen(pose) (m along x)."""
    speeds = []
    end = t + seconds
    while t < end and nav.active:
        if t - nav.hazard_t >= 1.0 - 1e-9:
            nav.hazard(seen_up_to(seen(pose)), t)
        twist = nav.step(t, pose, healthy, lambda _t: None, 0.0, locked)
        v, omega, _ = nav.gate(t, pose, *twist)
        yaw = pose.yaw + omega * DT
        pose.set_pose(pose.x + v * math.cos(yaw) * DT, pose.y + v * math.sin(yaw) * DT, yaw)
        speeds.append(v)
        t += DT
    return t, speeds


def rover(yaw: float = 0.0) -> Odometry2D:
    pose = Odometry2D()
    pose.set_pose(0.0, 0.0, yaw)
    return pose


def test_the_end_with_fewer_seized_wheels_leads():
    assert leading_sign(()) == 1
    assert leading_sign(('lf',)) == -1 and leading_sign(('rf', 'lm')) == -1
    assert leading_sign(('lr',)) == 1 and leading_sign(('lm', 'rm')) == 1
    assert leading_sign(('lf', 'rr')) == 1, 'a tie: the front, with the cameras, leads'
    assert leading_sign(('lf', 'rf', 'lr')) == -1


def test_with_a_seized_front_wheel_the_rover_turns_round_and_backs_to_its_goal():
    notes = Notes()
    nav = Navigator(GEOMETRY, P, P['max_speed_m_s'], notes)
    nav.hazard(seen_up_to(8.0), 0.0)
    nav.set_goal(3.0, 0.0, 0.0)
    healthy = [w for w in WHEEL_IDS if w != 'lf']
    pose = rover()
    assert not nav.navcams
    t, speeds = drive(nav, pose, 0.0, 1.0, healthy, ('lf',))
    assert nav.navcams, 'led by the rear, the mast looks at the way on'
    t, speeds = drive(nav, pose, t, 300.0, healthy, ('lf',))
    assert nav.goal.reached and math.hypot(pose.x - 3.0, pose.y) < P['goal_tolerance_m']
    assert not nav.navcams, 'the goal reached, the navcams rest'
    assert 'lf locked: leading with the rear' in notes
    assert min(speeds) < 0.0 and max(speeds) <= 0.0, 'it never pushed the seized wheel ahead'
    assert math.cos(pose.yaw) < -0.9, 'the rear faces the goal'
    healthy_run = Navigator(GEOMETRY, P, P['max_speed_m_s'], Notes())
    healthy_run.hazard(seen_up_to(8.0), 0.0)
    healthy_run.set_goal(3.0, 0.0, 0.0)
    _, forward = drive(healthy_run, rover(), 0.0, 300.0, list(WHEEL_IDS), ())
    assert healthy_run.goal.reached and min(forward) >= 0.0 and not healthy_run.navcams


def test_led_by_the_rear_it_keeps_to_seen_ground_and_turns_to_look_where_that_ends():
    notes = Notes()
    nav = Navigator(GEOMETRY, P, P['max_speed_m_s'], notes)
    nav.hazard(seen_up_to(1.0), 0.0)       # the cameras saw only the ground behind
    nav.set_goal(5.0, 0.0, 0.0)
    healthy = [w for w in WHEEL_IDS if w != 'rf']
    pose = rover(math.pi)                  # the rear already toward the goal
    seen = [1.0]

    def cameras(p):                        # what the front has faced is seen from then on
        if math.cos(p.yaw) > 0.95:
            seen[0] = 8.0
        return seen[0]
    t = 0.0
    while not nav.look.active and t < 60.0:
        t, _ = drive(nav, pose, t, DT, healthy, ('rf',), cameras)
        assert pose.x < 0.3, 'it backed onto ground it had not seen'
    assert 'no arc open over seen ground: turning to look' in notes
    t, speeds = drive(nav, pose, t, 400.0, healthy, ('rf',), cameras)
    assert 'looked: leading with the rear again' in notes
    assert nav.goal.reached and max(speeds) <= 0.0 and min(speeds) < 0.0


def test_an_arc_onto_unseen_ground_is_vetoed_and_what_the_rover_stands_on_does_not_count():
    curvatures = np.linspace(-1.0, 1.0, 5)
    args = (seen_up_to(0.0), (0.0, 0.0, 0.0), (5.0, 0.0), FOOT, curvatures, 2.0, 0.1, 1.0, 30.0)
    blind = vote_arcs(*args, max_unseen=0.2)
    assert all(v.vetoed and v.unseen > 0.2 for v in blind)
    assert not any(v.vetoed for v in vote_arcs(*args)), 'unseen ground only costs by default'
    behind = vote_arcs(seen_up_to(0.0), (0.0, 0.0, math.pi), (-5.0, 0.0), FOOT, curvatures,
                       2.0, 0.1, 1.0, 30.0, max_unseen=0.2)
    assert not any(v.vetoed for v in behind) and max(v.unseen for v in behind) < 0.05, \
        'the unseen half under the rover is not ground it enters'


def test_a_look_whose_turn_is_held_ends_in_a_back_off():
    notes = Notes()
    nav = Navigator(GEOMETRY, P, P['max_speed_m_s'], notes)
    nav.set_goal(5.0, 0.0, 0.0)
    healthy = [w for w in WHEEL_IDS if w != 'rf']
    pose = rover(math.pi)                  # held: the commanded turn never comes
    t, twists = 0.0, []
    while t < P['recovery.no_progress_s'] + 5.0:
        if t - nav.hazard_t >= 1.0 - 1e-9:
            nav.hazard(seen_up_to(1.0), t)
        twists.append(nav.step(t, pose, healthy, lambda _t: None, 0.0, ('rf',)))
        t += DT
    assert 'no arc open over seen ground: turning to look' in notes
    assert any(n.startswith('no headway in 60 s') for n in notes)
    assert not nav.look.active and nav.backoff.active and twists[-1][0] > 0.0, \
        'backing off forward, the seized front wheel trailing'
