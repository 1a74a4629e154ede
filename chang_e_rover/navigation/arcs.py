"""Choosing the way on: arc voting over the hazard map, and the turns in place. Pure Python.

ArcVoter scores candidate arcs (hazard/gate.py vote_arcs) by hazard and by how much
they lower the cost to go (hazard/planner.py); FaceGoal and BlockedSearch are the two
turns in place a goal drive makes instead of an arc.
"""
from __future__ import annotations

from collections.abc import Callable
import math

import numpy as np

from chang_e_rover.hazard.gate import Footprint, Grid, Vote, vote_arcs
from chang_e_rover.hazard.planner import navigation_function, NavField
from chang_e_rover.navigation.leading import flip, flip_keep_out, flip_xy
from chang_e_rover.navigation.recovery import dead_ends
from chang_e_rover.robot_description import RoverGeometry, WHEEL_IDS

VOTE_PERIOD_S = 0.5     # the arcs are voted on twice a second

Note = Callable[[float, str, str], None]


class ArcVoter:
    """The arc to drive, voted on the hazard map twice a second, with hysteresis.

    A new map or a new goal asks for a new cost to go (planner.cell_m cells; 0 turns the
    planner off and arcs are scored by the straight line). Within a turning radius of the
    goal the straight line is the measure: the cost to go is exact only to its cells, and
    near the goal that turned arcs away from it (Monte Carlo seed 3, k = 1: held 0.3 m
    off, the vote flipping between arcs).
    """

    def __init__(self, geometry: RoverGeometry, p: dict, footprint: Footprint, note: Note):
        self.geometry, self.p, self.footprint, self.note = geometry, p, footprint, note
        self.voted_t = -math.inf
        self.arc: Vote | None = None          # the arc voted last
        self.nav: NavField | None = None      # cost to go over the hazard map
        self.nav_due = True
        self.heading: float | None = None     # where the cost to go falls fastest
        self.closed: tuple[tuple[float, float, float], ...] = ()   # the goal's dead ends
        self.sign = 1                         # the end the arcs are voted for
        self.blind = False                    # no arc open, some shut by unseen ground

    def new_goal(self) -> None:
        """Forget the cost to go: the next vote plans to the new goal."""
        self.nav, self.nav_due = None, True

    def new_map(self) -> None:
        """Plan again at the next vote: the map has changed."""
        self.nav_due = True

    def vote(self, t: float, grid: Grid | None, goal, pose, healthy: list[str],
             enabled: bool, sign: int = 1, max_unseen: float = 1.0) -> None:
        """Choose among candidate arcs by hazard and progress (at most every VOTE_PERIOD_S).

        :param goal: the goal (x, y, keep_outs); pose: the odometry (x, y, yaw).
        :param enabled: False for egress: no hazard avoidance, straight to the goal.
        :param sign: -1 to vote arcs driven in reverse (navigation/leading.py); an arc's
            curvature is then the one the rear end follows.
        :param max_unseen: the share of unseen ground over which an arc is vetoed.
        """
        if not enabled:
            self.arc = None
            return
        if grid is None or goal is None or t - self.voted_t < VOTE_PERIOD_S:
            return
        self.voted_t = t
        p = self.p
        if sign != self.sign:                 # the other end leads: no arc to keep
            self.sign, self.arc = sign, None
        closed = dead_ends(goal)
        if closed != self.closed:
            self.closed, self.nav_due = closed, True
        if self.nav_due and p['planner.cell_m'] > 0:     # a new map, goal or dead end
            self.nav_due = False
            self.nav = navigation_function(
                grid, (goal.x, goal.y), p['planner.cell_m'],
                self.footprint.half_width, p['arcs.veto_cost'], p['arcs.hazard_weight'],
                p['arcs.unknown_cost'], closed)
        k = p['arcs.max_curvature']
        near = math.hypot(goal.x - pose.x, goal.y - pose.y) < 1.0 / k
        votes = vote_arcs(grid, flip((pose.x, pose.y, pose.yaw), sign),
                          (goal.x, goal.y), self.footprint,
                          np.linspace(-k, k, int(p['arcs.count'])), p['arcs.length_m'],
                          p['hazard.sample_m'], p['arcs.hazard_weight'], p['arcs.unknown_cost'],
                          p['arcs.veto_cost'], None if near else self.nav,
                          tuple(flip_keep_out(k, sign) for k in goal.keep_outs
                                if k.wheel not in healthy),
                          None if self.arc is None or self.arc.vetoed else self.arc.curvature,
                          p['recovery.keep_out_slack_m'],
                          tuple(flip_xy(self.geometry.wheel_xy[w], sign)
                                for w in WHEEL_IDS if w not in healthy),
                          p['arcs.dead_wheel_cost'], self.geometry.wheel_width / 2, max_unseen)
        self.heading = None if self.nav is None else self.nav.heading(pose.x, pose.y, 1.0 / k)
        best = votes[0]
        self.blind = best.vetoed and any(v.unseen > max_unseen for v in votes)
        # Hysteresis: the arc driven stays while it scores within arcs.hysteresis of the
        # best. Near a goal the progress term is small and the hazard term decides; arcs of
        # opposite curvature took turns from vote to vote, the corners swung between them
        # and the wheels, waiting for the corners, never turned (Monte Carlo seed 10, k = 2:
        # 0.5 m from the goal for 8 minutes, until the cap).
        kept = next((v for v in votes if self.arc is not None and not self.arc.vetoed
                     and v.curvature == self.arc.curvature and not v.vetoed), None)
        if kept is not None and best.score - kept.score < p['arcs.hysteresis']:
            best = kept
        if self.arc is not None and best.vetoed != self.arc.vetoed:
            self.note(t, '-', 'no safe arc: turning in place' if best.vetoed
                      else f'safe arc found (curvature {best.curvature:.2f})')
        self.arc = best

    def to_go(self, goal, x: float, y: float) -> float:
        """The cost to go from (x, y): the planner's, or the straight line where it has none."""
        value = self.nav.value(x, y) if self.nav is not None else math.inf
        return value if math.isfinite(value) else math.hypot(goal.x - x, goal.y - y)


class FaceGoal:
    """Turn in place toward the goal rather than drive the voted arc.

    The rover faces the goal first when the best arc makes almost no progress (the
    goal is behind) or when the goal lies nearer than the tightest turning radius
    (no arc can bend onto it). Once begun, the turn goes on until the heading error
    is half the threshold: without that hysteresis the rover, 0.2 m from a goal 35 deg
    off its heading, switched between the turn and the arc on each vote (the arc's
    progress hovering at the threshold) and its corners swung between the two
    steering patterns for minutes, never settling long enough to drive (Monte Carlo
    seeds 12 and 15, k = 1).
    """

    def __init__(self, p: dict):
        self.p = p
        self.turning = False

    def needed(self, err: float, distance: float, arc: Vote) -> bool:
        """Whether to turn in place now, for heading error err (rad), distance to go (m)."""
        threshold = self.p['goal_turn_in_place_rad']
        if self.turning:
            self.turning = abs(err) > threshold / 2
        elif abs(err) > threshold:
            length = min(self.p['arcs.length_m'], distance)   # the vote's arc length
            self.turning = (arc.progress <= 0.05 * length
                            or distance < 1.0 / self.p['arcs.max_curvature'])
        return self.turning


class BlockedSearch:
    """No safe arc ahead: turn in place, one way until an arc opens, and look again.

    The search keeps the direction it began in until an arc opens (the navigator ends a
    turn to face the goal as it begins): facing the goal undid the search (Monte Carlo
    seed 22, k = 2: a turn right opened an arc, the face turned left back into the
    vetoes, and round, for 50 s at a time).
    """

    def __init__(self):
        self.turn = 0.0      # rad/s, 0 when not searching

    def drive(self, turn: float) -> float:
        """The yaw rate to search at: the one it began with, else turn."""
        self.turn = self.turn or turn
        return self.turn

    def stop(self) -> None:
        """An arc is open: the next search begins afresh."""
        self.turn = 0.0
