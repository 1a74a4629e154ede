"""Goal following: the twist that takes the rover to its goal over the hazard map. Pure Python.

The drive controller (drive/controller.py) calls step each control period with the
odometry's pose and the wheels in service, commands the twist it returns, and passes
every motion through gate. The behaviours it chooses between live in arcs.py (arc
voting, facing the goal, the blocked search) and recovery.py (backing off, keep-outs,
ending short); this module says when each applies.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
import math

from chang_e_rover.hazard.gate import Footprint, Grid, KeepOut
from chang_e_rover.navigation.arcs import ArcVoter, BlockedSearch, FaceGoal
from chang_e_rover.navigation.goal_status import GoalState, GoalStatus
from chang_e_rover.navigation.guard import HazardGuard
from chang_e_rover.navigation.leading import leading_sign, Look
from chang_e_rover.navigation.recovery import (BackOff, BoxedIn, dead_end, end_short, keep_out,
                                               no_headway)
from chang_e_rover.robot_description import RoverGeometry, WHEEL_IDS

Note = Callable[[float, str, str], None]
CANCELLED = 'cancelled by a velocity command'
# Asked when a held arc would be acted on: the share of the arc's yaw rate the gyro saw
# if the rover has not followed its arc for arc_check.held_s (asking starts the watch
# again), else None. The drive's arc check (drive/monitors.py ArcCheck.take_hold).
ArcHold = Callable[[float], float | None]


@dataclass
class Goal:
    x: float
    y: float
    reached: bool = False
    short_m: float = 0.0              # how far short it ended, held (goal_held_tolerance_m)
    best_xy: tuple[float, float] | None = None   # where its cost to go was lowest (odometry)
    best_t: float = 0.0               # when it last came recovery.progress_m nearer
    backoffs: int = 0
    keep_outs: list[KeepOut] = field(default_factory=list)   # places wheels held the
                                      # rover, and dead ends (the rover's centre)
    stamp_ns: int = 0                 # header stamp of the message that set it
    cancelled: bool = False           # dropped by a velocity command before it was reached
    start_xy: tuple[float, float] | None = None   # where the rover took it up (odometry):
                                      # without a map it holds the line from here to the goal


class Navigator:
    """The goal, the hazard map, and the behaviours that drive the one over the other."""

    def __init__(self, geometry: RoverGeometry, p: dict, top_speed: float, note: Note):
        """:param top_speed: the drive's top speed (m/s); note(t, wheel, what) records events."""
        self.geometry, self.p, self.top_speed, self.note = geometry, p, top_speed, note
        self.goal: Goal | None = None
        self.last: Goal | None = None        # the last goal set, kept after a cancel
        self.hazard_map: Grid | None = None
        self.hazard_t = -math.inf            # when the last map came
        # Off only for egress from the lander: the ramp is steeper than the limits the
        # map enforces, and it is known ground (the lander sequencer switches it).
        self.gate_enabled = True
        footprint = Footprint.of_rover(geometry, p['hazard.footprint_end_margin_m'],
                                       p['hazard.footprint_side_margin_m'])
        self.voter = ArcVoter(geometry, p, footprint, note)
        self.guard = HazardGuard(p, footprint, note)
        self.face_goal = FaceGoal(p)
        self.blocked = BlockedSearch()
        self.backoff = BackOff(p, note)
        self.boxed = BoxedIn(p)
        self.sign = 1       # +1 the front leads, -1 the rear (navigation/leading.py)
        self.look = Look(p)

    # ---- inputs ------------------------------------------------------------------------
    def set_goal(self, x: float, y: float, t: float, stamp_ns: int = 0) -> None:
        """Drive to (x, y) in odom; raises ValueError for a goal that is not finite.

        :param stamp_ns: the header stamp of the goal message, echoed in its status.
        """
        if not (math.isfinite(x) and math.isfinite(y)):
            raise ValueError(f'goal ({x}, {y}) is not finite')
        self.goal = self.last = Goal(x, y, best_t=t, stamp_ns=stamp_ns)
        self.voter.new_goal()
        self.backoff.reset()
        self.boxed.reset()
        self.look.reset()
        self.face_goal.turning = False
        self.blocked.stop()
        self.note(t, '-', f'goal ({x:.2f}, {y:.2f}) accepted')

    def cancel(self, t: float) -> None:
        """Drop the goal: the operator drives."""
        if self.active:
            self.note(t, '-', f'goal {CANCELLED}')
            self.goal.cancelled = True
        self.goal = None

    def hazard(self, grid: Grid, t: float) -> None:
        """A new hazard map (cost grid in odom), received at t."""
        self.hazard_map = grid
        self.hazard_t = t
        self.voter.new_map()

    @property
    def active(self) -> bool:
        """A goal is being driven to."""
        return self.goal is not None and not self.goal.reached

    @property
    def navcams(self) -> bool:
        """The mast's navcams to look at the way on: the rear leads a goal drive, and the
        hazcams face the ground it came from (hazard/mast.py)."""
        return self.active and self.sign < 0

    @property
    def advancing(self) -> bool:
        """A goal is being driven to, and not by backing off."""
        return self.active and not self.backoff.active

    def status(self, pose) -> GoalStatus:
        """The last goal's status, its distance from pose (odometry x, y)."""
        g = self.last
        if g is None:
            return GoalStatus(GoalState.NONE)
        distance = math.hypot(g.x - pose.x, g.y - pose.y)
        state, short, reason = GoalState.ACTIVE, 0.0, ''
        if g.reached:
            state = GoalState.REACHED_SHORT if g.short_m > 0 else GoalState.REACHED
            short = g.short_m
        elif g.cancelled:
            state, reason = GoalState.FAILED, CANCELLED
        elif self.backoff.active:
            state, reason = GoalState.HELD, self.backoff.why or 'backing off'
        return GoalStatus(state, g.x, g.y, g.stamp_ns, distance, short, reason)

    @staticmethod
    def refused(x: float, y: float, stamp_ns: int, pose, why: str) -> GoalStatus | None:
        """The FAILED status of a goal refused for why, or None for a point not finite
        (a status names its goal by its point)."""
        if not (math.isfinite(x) and math.isfinite(y)):
            return None
        return GoalStatus(GoalState.FAILED, x, y, stamp_ns, math.hypot(x - pose.x, y - pose.y),
                          reason=why)

    # ---- the control step --------------------------------------------------------------
    def step(self, t: float, pose, healthy: list[str], arc_hold: ArcHold, pitch: float = 0.0,
             locked: tuple[str, ...] = ()) -> tuple[float, float] | None:
        """The twist (v m/s, omega rad/s) to command for the goal, or None without one.

        :param pose: the odometry (x, y, yaw); healthy: the wheels in service; pitch: the
            attitude estimate's (rad); locked: the wheels out of service that do not turn
            (a seized motor), which decide the end that leads.
        """
        if not self.active:
            return None
        self._lead(t, locked)
        # Led by the rear, arcs stay on ground the cameras have seen, but where the rover
        # has just looked.
        unseen = self.p['look.max_unseen'] if self.sign < 0 and not self.look.looked_near(
            pose) else 1.0
        self.voter.vote(t, self.hazard_map, self.goal, pose, healthy, self.gate_enabled,
                        self.sign, unseen)
        backing = self._recover(t, pose, healthy, arc_hold)
        if self.goal.reached:         # held within goal_held_tolerance_m: ended short
            return 0.0, 0.0
        v, omega = backing if backing is not None else self._follow(t, pose, pitch)
        if self.goal.reached:
            self.note(t, '-', f'goal reached at ({pose.x:.2f}, {pose.y:.2f})')
        return v, omega

    def _lead(self, t: float, locked: tuple[str, ...]) -> None:
        """Lead with the end that has fewer locked wheels; on a change, vote afresh."""
        sign = leading_sign(locked) if self.gate_enabled else 1
        if sign == self.sign:
            return
        self.sign = sign
        self.face_goal.turning = False
        self.blocked.stop()
        self.look.reset()
        self.note(t, '-', f'{", ".join(locked) or "no wheel"} locked: leading with the '
                          f'{"rear" if sign < 0 else "front"}')

    def gate(self, t: float, pose, v: float, omega: float) -> tuple[float, float, bool]:
        """Return the motion the hazard gate lets through, and whether it refused (v, omega)."""
        return self.guard.check(t, v, omega, pose, self.hazard_map, self.hazard_t,
                                self.gate_enabled)

    def _follow(self, t: float, pose, pitch: float) -> tuple[float, float]:
        """Toward the goal: along the voted arc, or turning in place, or along the line
        to it without a map (or with the gate off)."""
        g, p = self.goal, self.p
        dx, dy = g.x - pose.x, g.y - pose.y
        distance = math.hypot(dx, dy)
        if g.start_xy is None:
            g.start_xy = (pose.x, pose.y)
        if distance < p['goal_tolerance_m']:
            g.reached = True
            return 0.0, 0.0
        arc = self.voter.arc if self.hazard_map is not None and self.gate_enabled else None
        if arc is None:
            return self._hold_line(pose, pitch)
        bearing = math.atan2(dy, dx)
        radius = 1.0 / p['arcs.max_curvature']
        if self.voter.nav is not None and distance > radius:
            # Where the cost to go falls fastest, one turning radius out: round a crater
            # rather than at it.
            bearing = self.voter.heading if self.voter.heading is not None else bearing
        err = bearing - pose.yaw - (math.pi if self.sign < 0 else 0.0)   # of the leading end
        err = math.atan2(math.sin(err), math.cos(err))
        turn = math.copysign(p['max_yaw_rate_rad_s'], err)
        v = self._approach_speed(distance)
        if self.look.active or (arc.vetoed and self.voter.blind):
            return self._look(t, pose, err)
        if arc.vetoed:
            self.face_goal.turning = False      # a blocked vote ends a turn to face the goal
            return 0.0, self.blocked.drive(turn)
        self.blocked.stop()
        if self.face_goal.needed(err, distance, arc):
            return 0.0, turn            # the goal is behind or out of an arc's reach: face it
        # The arc is the leading end's: in reverse the yaw rate is the speed times its
        # curvature, as forward.
        return self.sign * v, max(-p['max_yaw_rate_rad_s'],
                                  min(p['max_yaw_rate_rad_s'], v * arc.curvature))

    def _look(self, t: float, pose, err: float) -> tuple[float, float]:
        """Turn the cameras to the way on and wait for its map (leading.Look); at its end
        stand for a step and vote again at once (the rear then turns to the way on).
        err: the leading end's heading error.

        The look and the turn back each get recovery.no_progress_s without headway (a half
        turn takes a third of it): a look whose turn is held (a rover with three wheels out
        can be) ends in the back-off of no headway rather than turning to the cap.
        """
        g = self.goal
        if not self.look.active:
            self.look.start(t, pose)
            g.best_xy, g.best_t = (pose.x, pose.y), t
            self.note(t, '-', 'no arc open over seen ground: turning to look')
        omega = self.look.drive(t, math.atan2(-math.sin(err), -math.cos(err)), self.hazard_t)
        if omega is None:
            g.best_xy, g.best_t = (pose.x, pose.y), t
            self.note(t, '-', 'looked: leading with the rear again')
            self.voter.voted_t = -math.inf
        return 0.0, omega or 0.0

    def _approach_speed(self, left: float) -> float:
        """Top speed, slowed near the goal so that the governor's ramp stops the rover on it."""
        return min(self.top_speed, math.sqrt(2 * self.p['max_accel_m_s2'] * left) * 0.7)

    def _hold_line(self, pose, pitch: float) -> tuple[float, float]:
        """Without a map: pure pursuit of the line from where the goal was taken up to the
        goal. The rover steers the arc through the point goal_lookahead_m ahead of its
        place on the line (curvature 2 sin(a) / d, a the bearing of that point off the
        heading, d its distance), turning in place only when a is over
        goal_turn_in_place_rad; the curvature asked for a sideways offset does not grow as
        the goal nears. Pitched over goal_line_steep_rad with the gate off (the lander's
        ramp) it drives straight on (docs/drive.md, Without a map). Reached within
        goal_tolerance_m, or on passing the goal's perpendicular to the line: going on
        could not bring it nearer."""
        g, p = self.goal, self.p
        line_x, line_y = g.x - g.start_xy[0], g.y - g.start_xy[1]
        length = math.hypot(line_x, line_y)
        ux, uy = line_x / length, line_y / length
        along = (pose.x - g.start_xy[0]) * ux + (pose.y - g.start_xy[1]) * uy
        if along >= length:
            g.reached = True
            return 0.0, 0.0
        v = self._approach_speed(length - along)
        if not self.gate_enabled and abs(pitch) > p['goal_line_steep_rad']:
            # Straight on, the corners straight, the heading held by the gyro's trim on
            # the wheel speeds: a corner swing on the ramp holds the wheels, and a rover
            # held with its front wheels over the ramp's end pitches over them. (With the
            # gate on, a goal without a map is pursued on slopes too: it may lie behind.)
            return v, 0.0
        ahead = along + p['goal_lookahead_m']          # on the line, past the goal if need be
        aim_x = g.start_xy[0] + ux * ahead - pose.x
        aim_y = g.start_xy[1] + uy * ahead - pose.y
        alpha = math.atan2(aim_y, aim_x) - pose.yaw
        alpha = math.atan2(math.sin(alpha), math.cos(alpha))
        if abs(alpha) > p['goal_turn_in_place_rad']:
            return 0.0, math.copysign(p['max_yaw_rate_rad_s'], alpha)
        return v, v * 2.0 * math.sin(alpha) / math.hypot(aim_x, aim_y)

    # ---- recovery ----------------------------------------------------------------------
    def _recover(self, t: float, pose, healthy: list[str], arc_hold: ArcHold
                 ) -> tuple[float, float] | None:
        """The twist of a recovery under way or begun now; None to follow the goal."""
        p = self.p
        if self.backoff.active:    # (also one begun by a held stall, with no map)
            return self.backoff.drive(t, pose, self.goal)
        self.backoff.moved_on(pose)
        if self.hazard_map is None or not self.gate_enabled or p['recovery.no_progress_s'] <= 0:
            return None
        followed = arc_hold(t)
        if followed is not None:
            return self._held_on_arc(t, pose, healthy, followed)
        arc = self.voter.arc
        if self.boxed.held(t, arc is not None and arc.vetoed and self.guard.state == 'blocked'):
            return self._no_way_on(t, pose, f'boxed in: no safe arc and the turn in place '
                                            f'refused for {p["recovery.boxed_in_s"]:.0f} s')
        if no_headway(self.goal, pose, t, lambda x, y: self.voter.to_go(self.goal, x, y), p):
            return self._no_way_on(t, pose, f'no headway in {p["recovery.no_progress_s"]:.0f} s')
        return None

    def _held_on_arc(self, t: float, pose, healthy: list[str], followed: float
                     ) -> tuple[float, float] | None:
        """The rover does not follow its arc (a seized wheel caught on a rock, the others
        spinning): no use waiting for headway. End short near the goal; else back off
        and face the way on, keeping the out-of-service wheels off where they stood.

        Within a turning radius of the goal with a wheel out, the drag of a dead wheel on
        the tight arc onto the goal holds the rover, not a rock, and keep-outs beside the
        goal fenced it off (Monte Carlo seed 22, k = 2: lf seized, held 0.67 m from the
        goal on a 1 m arc at 994 s, then turning and backing off among its keep-outs to
        the cap). There the rover turns in place to face the goal and drives on at it.
        """
        p, g = self.p, self.goal
        why = (f'held: the gyro sees {followed:.2f} of the arc\'s yaw rate for '
               f'{p["arc_check.held_s"]:.0f} s')
        if self._end_short(t, pose, why):
            return 0.0, 0.0
        out = [w for w in WHEEL_IDS if w not in healthy]
        distance = math.hypot(g.x - pose.x, g.y - pose.y)
        if out and distance < 1.0 / p['arcs.max_curvature']:
            self.face_goal.turning = True
            self.note(t, '-', f'{why}, {distance:.2f} m from the goal '
                              f'with {", ".join(out)} out: facing it')
            return None
        keep_out(g, pose, self.geometry, out, t, p['recovery.keep_out_m'], self.note)
        return self._back_off(t, pose, why)

    def _no_way_on(self, t: float, pose, why: str) -> tuple[float, float]:
        """No way on from here (boxed in, or no headway in recovery.no_progress_s): end
        short near the goal, else keep the place out as a dead end and back off."""
        g = self.goal
        distance = math.hypot(g.x - pose.x, g.y - pose.y)
        if self._end_short(t, pose, why):
            return 0.0, 0.0
        dead_end(g, pose, t, self.p['recovery.dead_end_m'], self.note)
        return self._back_off(t, pose, f'{why} ({distance:.2f} m from the goal)', face=False)

    def held_stall(self, t: float, pose, wheels: list[str]) -> bool:
        """Stalled wheels held the rover (the stall retry resets them): end short near the
        goal, else keep the wheels off where they stood and back off, as the wheels turn
        back off the rock with the others. Return whether the drive ended.

        After a back-off that was held itself (a seized rear wheel pushed ahead of the
        rover as it reverses) another would stand as long: the way on is forward.
        """
        why = f'{", ".join(wheels)} stalled and the rover held'
        if self._end_short(t, pose, why):
            return True
        keep_out(self.goal, pose, self.geometry, wheels, t, self.p['recovery.keep_out_m'],
                 self.note)
        if self.backoff.held_at is None:
            self._back_off(t, pose, why)
        else:
            self.note(t, '-', f'{why}, its last back-off held too: driving on')
        return False

    def _end_short(self, t: float, pose, why: str) -> bool:
        if not end_short(self.goal, pose, t, why, self.p['goal_held_tolerance_m'], self.note):
            return False
        self.backoff.cancel()
        return True

    def _back_off(self, t: float, pose, why: str, face: bool = True) -> tuple[float, float]:
        """Back off; then (face) turn to the way on, and vote."""
        twist = self.backoff.start(t, pose, self.goal, why, self.sign)
        self.look.cancel()
        self.boxed.reset()
        self.face_goal.turning = self.face_goal.turning or face
        return twist
