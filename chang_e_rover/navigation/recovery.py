"""What a goal drive does when it is held: back off, keep wheels off rocks, remember dead
ends, end short. Pure Python.

Each behaviour is named for what the rover does; the navigator (navigator.py) says
when each applies. Goals are navigator.Goal; poses anything with x, y and yaw (the
odometry).
"""
from __future__ import annotations

from collections.abc import Callable
import math

from chang_e_rover.hazard.gate import CENTRE, KeepOut
from chang_e_rover.robot_description import RoverGeometry

Note = Callable[[float, str, str], None]


class BackOff:
    """Back straight off recovery.backoff_m over the ground the rover came by, then vote again.

    Near a hazard the arc vote and the gate can hold the rover in place: every arc
    vetoed, the turn in place refused because a corner of the footprint would sweep the
    hazard cell, an arc found and refused as the corners swing to it, and round again
    (seen for minutes at a time in the mission's rock field and near Monte Carlo goals).
    As MER's drivers do, the rover then backs straight off (the gate checks that too).
    A back-off that has not moved recovery.progress_m in stall_retry.held_s is held
    itself (Monte Carlo seed 23, k = 2: lr seized, pushed ahead as the rover reversed,
    stood 60 s a time for ten minutes); it ends then, and where it ended is kept
    (held_at) until the rover has moved recovery.backoff_m from there.
    """

    def __init__(self, p: dict, note: Note):
        self.p, self.note = p, note
        self.began: tuple[float, float, float] | None = None   # x, y, t where it began
        self.held_at: tuple[float, float] | None = None        # where one ended held
        self.why = ''                                           # why the last one began
        self.sign = 1            # the end that led: a back-off drives the other way

    @property
    def active(self) -> bool:
        return self.began is not None

    def start(self, t: float, pose, goal, why: str, sign: int = 1) -> tuple[float, float]:
        """Begin a back-off from pose, the end of sign leading (+1 front); return the
        twist to drive."""
        goal.backoffs += 1
        self.began, self.why, self.sign = (pose.x, pose.y, t), why, sign
        self.note(t, '-', f'{why}: backing off {self.p["recovery.backoff_m"]:.1f} m')
        return self.twist()

    def twist(self) -> tuple[float, float]:
        return -self.sign * self.p['recovery.backoff_speed_m_s'], 0.0

    def drive(self, t: float, pose, goal) -> tuple[float, float] | None:
        """The twist of the back-off under way, or None once it has ended."""
        p = self.p
        bx, by, bt = self.began
        moved = math.hypot(pose.x - bx, pose.y - by)
        stuck = t - bt >= p['stall_retry.held_s'] and moved < p['recovery.progress_m']
        if moved < p['recovery.backoff_m'] and t - bt < p['recovery.no_progress_s'] \
                and not stuck:
            return self.twist()
        self.began = None
        self.held_at = (pose.x, pose.y) if moved < p['recovery.backoff_m'] else None
        goal.best_xy, goal.best_t = (pose.x, pose.y), t   # the new approach gets its full time
        self.note(t, '-', f'backed off {moved:.2f} m in {t - bt:.0f} s'
                          f'{" (held)" if stuck else ""}: voting again')
        return None

    def moved_on(self, pose) -> None:
        """Forget where the last back-off was held once the rover is backoff_m from there."""
        if self.held_at is not None and math.dist(
                self.held_at, (pose.x, pose.y)) >= self.p['recovery.backoff_m']:
            self.held_at = None

    def cancel(self) -> None:
        self.began = None

    def reset(self) -> None:
        """A new goal: no back-off under way, none held."""
        self.began = self.held_at = None


def no_headway(goal, pose, t: float, to_go: Callable[[float, float], float], p: dict) -> bool:
    """Whether the drive has come no nearer than recovery.progress_m in recovery.no_progress_s.

    Headway is the cost to go (to_go, the straight line without a plan) lower than where
    the rover stood best, both judged on the current map; the goal keeps where and when.
    """
    if goal.best_xy is None or to_go(pose.x, pose.y) < to_go(*goal.best_xy) - \
            p['recovery.progress_m']:
        goal.best_xy, goal.best_t = (pose.x, pose.y), t
        return False
    return t - goal.best_t > p['recovery.no_progress_s']


def end_short(goal, pose, t: float, why: str, tolerance: float, note: Note) -> bool:
    """End a drive held within tolerance (goal_held_tolerance_m) of its goal, reached short.

    Held that near, a back-off takes the rover away from the goal to approach again
    among the keep-outs it has just set, at the slow turns of a rover with wheels out
    (Monte Carlo seed 4, k = 2: held 0.25 m from its goal by a free wheel on a rock
    beside it at 628 s, a back-off left it the last ten minutes within 1.3 m of the
    goal, turning and backing off, and it timed out 1.28 m off). As a rover team would,
    the drive ends where it was held, and says how short. Return whether it ended.
    """
    distance = math.hypot(goal.x - pose.x, goal.y - pose.y)
    if goal.reached or tolerance <= 0 or distance > tolerance:
        return False
    goal.reached, goal.short_m = True, distance
    note(t, '-', f'goal reached {distance:.2f} m short at ({pose.x:.2f}, {pose.y:.2f}): '
                 f'{why}, within goal_held_tolerance_m')
    return True


def keep_out(goal, pose, geometry: RoverGeometry, wheels: list[str], t: float, radius: float,
             note: Note) -> None:
    """Keep the places where these wheels held the rover out of their tracks (radius m).

    A seized wheel dragged against a rock small enough for the map (Monte Carlo seed 24,
    k = 1: rr against a 0.14 m rock) held the rover; backing off and facing the goal
    drove the wheel back onto the same rock, for ten minutes. The vote refuses arcs that
    take the wheel back there while the wheel is out of service, and the rover turns
    until an arc passes by it (recovery.keep_out_m; 0 turns this off).
    """
    if radius <= 0 or goal is None:
        return
    c, s = math.cos(pose.yaw), math.sin(pose.yaw)
    for w in wheels:
        wx, wy = geometry.wheel_xy[w]
        place = (pose.x + c * wx - s * wy, pose.y + s * wx + c * wy)
        goal.keep_outs.append(KeepOut(w, (wx, wy), place, radius))
        note(t, w, f'keep-out: ({place[0]:.2f}, {place[1]:.2f}), '
                   f'{radius:.2f} m, while it is out of service')


class BoxedIn:
    """Every arc vetoed and the turn in place refused by the gate: the rover can do nothing
    where it stands. Held so for recovery.boxed_in_s (a new map or two may open a way),
    it backs off at once rather than after recovery.no_progress_s without headway: a
    minute a time in a pocket among rocks whose way out is behind."""

    def __init__(self, p: dict):
        self.p = p
        self.since: float | None = None

    def held(self, t: float, boxed: bool) -> bool:
        """Whether the rover, boxed in now or not, has been for boxed_in_s."""
        if not boxed or self.p['recovery.boxed_in_s'] <= 0:
            self.since = None
            return False
        if self.since is None:
            self.since = t
        return t - self.since >= self.p['recovery.boxed_in_s']

    def reset(self) -> None:
        self.since = None


def dead_end(goal, pose, t: float, radius: float, note: Note) -> None:
    """Keep the place the rover stands, where the drive found no way on, out of the rest of
    the goal drive: arcs that take the rover's centre back within radius of it are refused
    and the cost to go is planned round it (recovery.dead_end_m; 0 turns this off).

    The map shows what the rover cannot cross, not where its footprint cannot turn: the
    cost to go (hazard/planner.py) can lead between rocks into a pocket where every arc
    is vetoed and the turn in place refused; without the dead end the back-off finds the
    arc it came by clear and the vote takes it back in, for as long as the map stays.
    A place already within radius of a dead end is not added again.
    """
    if radius <= 0 or goal is None:
        return
    here = (pose.x, pose.y)
    if any(k.wheel == CENTRE and math.dist(k.place, here) < radius for k in goal.keep_outs):
        return
    goal.keep_outs.append(KeepOut(CENTRE, (0.0, 0.0), here, radius))
    note(t, '-', f'dead end: ({here[0]:.2f}, {here[1]:.2f}), {radius:.2f} m, kept out '
                 'for this goal')


def dead_ends(goal) -> tuple[tuple[float, float, float], ...]:
    """The goal's dead ends as (x, y, radius) discs for the cost to go."""
    return tuple((*k.place, k.radius_m) for k in goal.keep_outs if k.wheel == CENTRE)
