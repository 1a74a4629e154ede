"""The navigator's behaviours one at a time, without ROS or physics (navigation/)."""
import ast
import math
from pathlib import Path

import numpy as np
import pytest

from chang_e_rover import config
from chang_e_rover.drive.odometry import Odometry2D
from chang_e_rover.hazard.gate import Footprint, Grid, Vote
from chang_e_rover.navigation import arcs
from chang_e_rover.navigation.arcs import ArcVoter, BlockedSearch, FaceGoal
from chang_e_rover.navigation.goal_status import GoalState, GoalStatus
from chang_e_rover.navigation.guard import HazardGuard
from chang_e_rover.navigation.navigator import Goal, Navigator
from chang_e_rover.navigation.recovery import BackOff, end_short, keep_out, no_headway
from chang_e_rover.robot_description import load_urdf, rover_geometry, WHEEL_IDS

GEOMETRY = rover_geometry(load_urdf(config.urdf_path('rover.urdf')))
P = config.load_params('rover.yaml', 'drive_controller')
FOOTPRINT = Footprint.of_rover(GEOMETRY, P['hazard.footprint_end_margin_m'],
                               P['hazard.footprint_side_margin_m'])
ALL = list(WHEEL_IDS)
PACKAGE = Path(__file__).resolve().parent.parent / 'chang_e_rover'


class Notes(list):
    def __call__(self, t, wheel, what):
        self.append(what)


def pose_at(x=0.0, y=0.0, yaw=0.0) -> Odometry2D:
    pose = Odometry2D()
    pose.set_pose(x, y, yaw)
    return pose


def clear_grid() -> Grid:
    return Grid(np.zeros((100, 100), np.int8), -5.0, -5.0, 0.1)   # 10 m square at -5


def no_hold(t):
    return None


def test_the_arc_driven_stays_until_another_beats_it_by_the_hysteresis(monkeypatch):
    # Near a goal arcs of opposite curvature took turns from vote to vote (their scores
    # a hair apart), the corners swung between them and the wheels never turned.
    scores = iter([(0.30, 0.20), (0.30, 0.30 + 0.6 * P['arcs.hysteresis']),
                   (0.30, 0.30 + 1.5 * P['arcs.hysteresis'])])

    def votes(*args, **kwargs):
        left, right = next(scores)
        return sorted([Vote(0.7, left, 0.1, 0.4, False), Vote(-0.7, right, 0.1, 0.4, False)],
                      key=lambda v: v.score, reverse=True)
    monkeypatch.setattr(arcs, 'vote_arcs', votes)
    voter = ArcVoter(GEOMETRY, P, FOOTPRINT, Notes())
    chosen = []
    for t in (0.0, 0.6, 1.2):
        voter.vote(t, clear_grid(), Goal(0.5, 0.0), pose_at(), ALL, True)
        chosen.append(voter.arc.curvature)
    assert chosen == [0.7, 0.7, -0.7]


def test_the_vote_waits_its_period_and_is_off_with_the_gate(monkeypatch):
    calls = []
    monkeypatch.setattr(arcs, 'vote_arcs', lambda *a, **k: calls.append(a) or
                        [Vote(0.0, 1.0, 0.0, 1.0, False)])
    voter = ArcVoter(GEOMETRY, P, FOOTPRINT, Notes())
    for t in (0.0, 0.2, 0.5):
        voter.vote(t, clear_grid(), Goal(3.0, 0.0), pose_at(), ALL, True)
    assert len(calls) == 2 and voter.arc is not None and voter.nav is not None
    voter.vote(1.0, clear_grid(), Goal(3.0, 0.0), pose_at(), ALL, False)
    assert voter.arc is None and len(calls) == 2, 'egress: no arcs, straight to the goal'


def test_a_blocked_vote_ends_a_turn_to_face_the_goal(monkeypatch):
    # With every arc vetoed the rover turns in place one way until one opens. A turn to
    # face the goal (as a back-off leaves) turned it straight back into the vetoes each
    # time: the arc that opened at one end of the search was never driven (Monte Carlo
    # seed 22, k = 2: from -30 to +28 deg and back for 50 s at a time).
    blocked = [Vote(0.0, -math.inf, 0.0, 0.0, True)]
    open_arc = [Vote(0.5, 0.8, 0.0, 1.6, False), Vote(0.0, -math.inf, 0.0, 0.0, True)]
    answer = [blocked]
    monkeypatch.setattr(arcs, 'vote_arcs', lambda *args, **kwargs: answer[0])
    nav = Navigator(GEOMETRY, P, P['max_speed_m_s'], Notes())
    nav.hazard(clear_grid(), 0.0)
    nav.set_goal(4.0, 0.0, 0.0)
    nav.face_goal.turning = True                   # as a back-off leaves it
    v, omega = nav.step(0.0, pose_at(yaw=0.3), ALL, no_hold)   # the goal to the right
    assert v == 0.0 and omega < 0.0 and not nav.face_goal.turning
    answer[0] = open_arc                           # turned past the goal: an arc opens
    v, omega = nav.step(1.0, pose_at(yaw=-0.3), ALL, no_hold)
    assert v > 0.0, 'the arc that opened is driven, not a turn back to face the goal'


def test_the_blocked_search_keeps_the_way_it_began():
    search = BlockedSearch()
    assert search.drive(-0.1) == -0.1
    assert search.drive(0.1) == -0.1, 'the goal now on the other side: the search goes on'
    search.stop()
    assert search.drive(0.1) == 0.1


def test_facing_the_goal_goes_on_to_half_the_threshold():
    face = FaceGoal(P)
    threshold = P['goal_turn_in_place_rad']
    behind = Vote(0.0, 0.0, 0.0, 0.0, False)          # the best arc makes no progress
    ahead = Vote(0.0, 1.0, 0.0, 1.5, False)
    assert not face.needed(1.5 * threshold, 3.0, ahead), 'an arc makes progress: drive it'
    assert face.needed(1.5 * threshold, 3.0, behind)
    assert face.needed(0.6 * threshold, 3.0, ahead), 'once begun, on past the threshold'
    assert not face.needed(0.4 * threshold, 3.0, ahead)
    assert not face.needed(0.8 * threshold, 3.0, behind), 'not begun again under it'
    assert face.needed(1.5 * threshold, 0.5, ahead), 'nearer than a turning radius: face it'


def test_a_back_off_ends_at_its_distance_or_held_and_remembers_where_it_was_held():
    notes, goal = Notes(), Goal(5.0, 0.0)
    backoff = BackOff(P, notes)
    assert backoff.start(0.0, pose_at(), goal, 'why') == (-P['recovery.backoff_speed_m_s'], 0.0)
    assert backoff.active and goal.backoffs == 1 and notes[-1].startswith('why: backing off')
    assert backoff.drive(5.0, pose_at(-0.2), goal) == backoff.twist()
    assert backoff.drive(10.0, pose_at(-P['recovery.backoff_m']), goal) is None
    assert not backoff.active and backoff.held_at is None
    assert goal.best_xy == (-P['recovery.backoff_m'], 0.0) and goal.best_t == 10.0
    # held: not progress_m in stall_retry.held_s
    backoff.start(20.0, pose_at(), goal, 'why')
    held_s = P['stall_retry.held_s']
    assert backoff.drive(20.0 + held_s - 0.1, pose_at(-0.05), goal) is not None
    assert backoff.drive(20.0 + held_s, pose_at(-0.05), goal) is None
    assert '(held)' in notes[-1] and backoff.held_at == (-0.05, 0.0)
    backoff.moved_on(pose_at(0.3))
    assert backoff.held_at is not None
    backoff.moved_on(pose_at(-0.05 + P['recovery.backoff_m']))
    assert backoff.held_at is None


def test_no_headway_is_no_progress_m_nearer_in_no_progress_s():
    goal = Goal(5.0, 0.0, best_t=0.0)

    def to_go(x, y):
        return math.hypot(goal.x - x, goal.y - y)
    wait, step = P['recovery.no_progress_s'], P['recovery.progress_m']
    assert not no_headway(goal, pose_at(), 0.0, to_go, P) and goal.best_xy == (0.0, 0.0)
    assert not no_headway(goal, pose_at(0.5 * step), wait, to_go, P)
    assert no_headway(goal, pose_at(0.5 * step), wait + 0.1, to_go, P)
    assert not no_headway(goal, pose_at(1.5 * step), wait + 0.2, to_go, P)
    assert goal.best_t == wait + 0.2, 'progress: the watch starts again'


def test_a_drive_held_near_its_goal_ends_there_short():
    notes = Notes()
    tolerance = P['goal_held_tolerance_m']
    far = Goal(tolerance + 0.1, 0.0)
    assert not end_short(far, pose_at(), 1.0, 'held', tolerance, notes) and not far.reached
    near = Goal(tolerance - 0.05, 0.0)
    assert not end_short(near, pose_at(), 1.0, 'held', 0.0, notes), '0 turns it off'
    assert end_short(near, pose_at(), 1.0, 'held', tolerance, notes)
    assert near.reached and near.short_m == pytest.approx(tolerance - 0.05)
    assert notes == [f'goal reached {tolerance - 0.05:.2f} m short at (0.00, 0.00): held, '
                     'within goal_held_tolerance_m']


def test_a_keep_out_is_where_the_wheel_stood_in_odom():
    notes, goal = Notes(), Goal(5.0, 0.0)
    keep_out(goal, pose_at(1.0, 2.0, math.pi / 2), GEOMETRY, ['lf'], 0.0, 0.35, notes)
    wx, wy = GEOMETRY.wheel_xy['lf']
    (k,) = goal.keep_outs
    assert k.wheel == 'lf' and k.radius_m == 0.35
    assert k.place == pytest.approx((1.0 - wy, 2.0 + wx))
    keep_out(goal, pose_at(), GEOMETRY, ['rr'], 0.0, 0.0, notes)
    assert len(goal.keep_outs) == 1 and len(notes) == 1, 'radius 0 turns it off'


def test_the_hazard_guard_refuses_a_wall_ahead_a_stale_map_and_not_when_off():
    notes = Notes()
    guard = HazardGuard(P, FOOTPRINT, notes)
    assert guard.check(0.0, 0.05, 0.0, pose_at(), None, 0.0, True) == (0.05, 0.0, False)
    assert guard.state == 'no map'
    cost = np.zeros((100, 100), np.int8)
    cost[:, 60:63] = 100                               # a wall 1.0-1.3 m ahead
    wall = Grid(cost, -5.0, -5.0, 0.1)
    assert guard.check(0.0, 0.05, 0.0, pose_at(), wall, 0.0, True) == (0.0, 0.0, True)
    assert guard.state == 'blocked' and guard.where[0] == pytest.approx(1.0, abs=0.31)
    assert guard.check(0.0, -0.05, 0.0, pose_at(), wall, 0.0, True) == (-0.05, 0.0, False)
    assert guard.state == 'clear', 'backing away from it'
    stale = P['hazard.map_timeout_s'] + 0.5
    assert guard.check(stale, -0.05, 0.0, pose_at(), wall, 0.0, True) == (0.0, 0.0, True)
    assert guard.state == 'stale'
    assert guard.check(stale, 0.05, 0.0, pose_at(), wall, 0.0, False) == (0.05, 0.0, False)
    assert guard.state == 'off' and notes[-1] == 'hazard gate: off (commanded)'


def test_a_held_stall_backs_off_unless_the_last_back_off_was_held():
    notes = Notes()
    nav = Navigator(GEOMETRY, P, P['max_speed_m_s'], notes)
    nav.set_goal(5.0, 0.0, 0.0)
    assert not nav.held_stall(10.0, pose_at(), ['lf'])
    assert nav.backoff.active and nav.goal.backoffs == 1 and nav.face_goal.turning
    assert [k.wheel for k in nav.goal.keep_outs] == ['lf'] and not nav.advancing
    nav.backoff.cancel()
    nav.backoff.held_at = (0.0, 0.0)                 # it ended held, here
    assert not nav.held_stall(20.0, pose_at(), ['lm'])
    assert not nav.backoff.active and nav.goal.backoffs == 1 and nav.advancing
    assert notes[-1] == 'lm stalled and the rover held, its last back-off held too: driving on'
    near = Navigator(GEOMETRY, P, P['max_speed_m_s'], notes)
    near.set_goal(0.2, 0.0, 0.0)
    assert near.held_stall(5.0, pose_at(), ['lf']) and near.goal.reached
    assert near.step(5.1, pose_at(), ALL, no_hold) is None, 'the drive is over'


def test_held_on_its_arc_the_drive_backs_off_and_the_hold_is_taken():
    notes = Notes()
    nav = Navigator(GEOMETRY, P, P['max_speed_m_s'], notes)
    nav.hazard(clear_grid(), 0.0)
    nav.set_goal(3.0, 1.0, 0.0)
    asked = []
    v, omega = nav.step(0.0, pose_at(), [w for w in ALL if w != 'lm'],
                        lambda t: asked.append(t) or 0.2)
    assert asked == [0.0] and v < 0.0 and omega == 0.0
    assert notes[-1].startswith('held: the gyro sees 0.20 of the arc')
    assert [k.wheel for k in nav.goal.keep_outs] == ['lm'] and nav.goal.backoffs == 1
    nav.step(0.1, pose_at(), ALL, lambda t: asked.append(t) or 0.2)
    assert asked == [0.0], 'not asked while backing off'


def test_the_goal_status_follows_the_drive_and_keeps_how_it_ended():
    nav = Navigator(GEOMETRY, P, P['max_speed_m_s'], Notes())
    assert nav.status(pose_at()) == GoalStatus(GoalState.NONE)
    nav.set_goal(5.0, 0.0, 0.0, stamp_ns=123)
    assert nav.status(pose_at(1.0)) == GoalStatus(GoalState.ACTIVE, 5.0, 0.0, 123, 4.0)
    assert not nav.held_stall(10.0, pose_at(1.0), ['lf'])            # it backs off
    held = nav.status(pose_at(1.0))
    assert held.state is GoalState.HELD and held.reason == 'lf stalled and the rover held'
    nav.cancel(11.0)
    assert nav.status(pose_at(0.5)) == GoalStatus(GoalState.FAILED, 5.0, 0.0, 123, 4.5,
                                                  reason='cancelled by a velocity command')
    nav.set_goal(0.05, 0.0, 12.0, stamp_ns=124)
    assert nav.step(12.1, pose_at(), ALL, no_hold) == (0.0, 0.0)
    assert nav.status(pose_at()) == GoalStatus(GoalState.REACHED, 0.05, 0.0, 124, 0.05)
    nav.cancel(13.0)
    assert nav.status(pose_at()).state is GoalState.REACHED, 'a stop after arriving is no news'
    nav.set_goal(0.2, 0.0, 14.0, stamp_ns=125)
    assert nav.held_stall(15.0, pose_at(), ['lf'])                    # held near: ends short
    short = nav.status(pose_at())
    assert short.state is GoalState.REACHED_SHORT and short.short_by_m == pytest.approx(0.2)
    assert Navigator.refused(math.nan, 0.0, 1, pose_at(), 'not finite') is None
    assert Navigator.refused(3.0, 4.0, 9, pose_at(), "frame 'map'") == GoalStatus(
        GoalState.FAILED, 3.0, 4.0, 9, 5.0, reason="frame 'map'")


def imported(folder: str) -> set[str]:
    """The chang_e_rover capabilities a folder's modules import (docs/drive.md, Structure)."""
    out = set()
    for path in (PACKAGE / folder).glob('*.py'):
        for node in ast.walk(ast.parse(path.read_text())):
            module = node.module if isinstance(node, ast.ImportFrom) else None
            if module and module.startswith('chang_e_rover.'):
                out.add(module.split('.')[1])
    return out - {folder}


def test_drive_imports_navigation_which_imports_hazard_never_the_reverse():
    assert 'navigation' in imported('drive')
    assert imported('navigation') == {'hazard', 'robot_description'}
    assert not {'drive', 'navigation'} & imported('hazard')


def pursuit_curvature(aside: float, yaw: float = 0.0) -> float:
    """Pure pursuit of the x axis from (., aside) heading yaw: 2 sin(a) / d to the point
    goal_lookahead_m ahead on the line."""
    lookahead = P['goal_lookahead_m']
    alpha = math.atan2(-aside, lookahead) - yaw
    return 2 * math.sin(alpha) / math.hypot(lookahead, aside)


def test_without_a_map_the_rover_holds_the_line_to_its_goal_not_the_bearing_to_its_point():
    # The drive-off: from the deck's place straight down the ramp to (5, 0), the gate off.
    # A slide at the ramp's foot puts the rover 0.12 m aside, 0.9 m short.
    nav = Navigator(GEOMETRY, P, 0.055, Notes())
    nav.gate_enabled = False
    nav.set_goal(5.0, 0.0, 0.0)
    nav.step(0.0, pose_at(), ALL, no_hold)
    for short in (3.0, 0.9, 0.3):
        v, omega = nav.step(1.0, pose_at(5.0 - short, 0.12), ALL, no_hold)
        # the same arc back to the line however near the goal: aiming at the point would
        # ask a bearing of atan(0.12 / short), 22 deg at 0.3 m
        assert v > 0 and omega < 0
        assert omega / v == pytest.approx(pursuit_curvature(0.12), rel=1e-9)
    # on the line, pointing along it: straight on
    v, omega = nav.step(2.0, pose_at(4.0, 0.0), ALL, no_hold)
    assert omega == pytest.approx(0.0, abs=1e-12) and v > 0
    # on the line, turned 3 deg off it: back toward it
    v, omega = nav.step(2.0, pose_at(4.0, 0.0, math.radians(3)), ALL, no_hold)
    assert omega / v == pytest.approx(pursuit_curvature(0.0, math.radians(3)), rel=1e-9)
    assert omega < 0
    # past the goal's perpendicular 0.15 m aside (beyond goal_tolerance_m): going on
    # could only take it further, so the goal is reached there
    assert math.hypot(0.01, 0.15) > P['goal_tolerance_m']
    assert nav.step(3.0, pose_at(5.01, 0.15), ALL, no_hold) == (0.0, 0.0)
    assert nav.goal is not None and nav.goal.reached


def test_the_line_is_from_where_the_goal_was_taken_up_and_a_new_goal_takes_a_new_one():
    nav = Navigator(GEOMETRY, P, 0.055, Notes())
    nav.set_goal(0.0, 4.0, 0.0)                      # no map: the line from (2, 0)
    nav.step(0.0, pose_at(2.0, 0.0, math.pi / 2), ALL, no_hold)
    heading = math.atan2(4.0, -2.0)
    # halfway along the line from (2, 0) to (0, 4), aimed along it: straight on
    v, omega = nav.step(1.0, pose_at(1.0, 2.0, heading), ALL, no_hold)
    assert omega == pytest.approx(0.0, abs=1e-9) and v > 0
    # 0.9 m right of the line, facing along y: the pursuit point is 57 deg to the left,
    # so it turns in place toward it
    v, omega = nav.step(1.5, pose_at(2.0, 2.0, math.pi / 2), ALL, no_hold)
    assert v == 0.0 and omega > 0
    nav.set_goal(2.0, 6.0, 2.0)
    v, omega = nav.step(2.0, pose_at(2.0, 2.0, math.pi / 2), ALL, no_hold)
    assert nav.goal.start_xy == (2.0, 2.0)
    assert omega == pytest.approx(0.0, abs=1e-12) and v > 0


def test_on_steep_ground_the_rover_drives_straight_on_and_corrects_on_level_ground():
    # Down the lander's 30 deg ramp: straight on, corners straight (the yaw trim holds the
    # heading); a slide aside or a turn is taken up on level ground.
    nav = Navigator(GEOMETRY, P, 0.055, Notes())
    nav.gate_enabled = False
    nav.set_goal(5.0, 0.0, 0.0)
    ramp = math.radians(30)
    assert ramp > P['goal_line_steep_rad']
    nav.step(0.0, pose_at(), ALL, no_hold, pitch=ramp)
    v, omega = nav.step(1.0, pose_at(3.5, 0.12), ALL, no_hold, pitch=ramp)
    assert v > 0 and omega == pytest.approx(0.0, abs=1e-12)
    v, omega = nav.step(1.5, pose_at(3.5, 0.12, math.radians(3)), ALL, no_hold, pitch=ramp)
    assert v > 0 and omega == 0.0
    # level again: back to the line
    v, omega = nav.step(2.0, pose_at(4.3, 0.12), ALL, no_hold, pitch=0.02)
    assert omega / v == pytest.approx(pursuit_curvature(0.12), rel=1e-9) and omega < 0
    # with the gate on (a goal without a map on a slope) the line is pursued as on the level
    nav.gate_enabled = True
    v, omega = nav.step(2.5, pose_at(3.5, 0.12), ALL, no_hold, pitch=ramp)
    assert omega / v == pytest.approx(pursuit_curvature(0.12), rel=1e-9)
