"""The drive controller's logic: limits, goals, fault-tolerant allocation, odometry. Pure Python.

controller_node.py feeds it messages as plain values and publishes what it returns.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
import math

import numpy as np

from chang_e_rover.drive.governor import Governor, Limits
from chang_e_rover.drive.kinematics import forward, inverse
from chang_e_rover.drive.odometry import Odometry2D
from chang_e_rover.drive.wheel_health import ENABLED
from chang_e_rover.hazard.gate import Footprint, gate, Grid, KeepOut, Vote, vote_arcs
from chang_e_rover.hazard.planner import navigation_function, NavField
from chang_e_rover.robot_description import RoverGeometry, rpy_matrix, STEERED_IDS, WHEEL_IDS

# faults after which a wheel's encoder says nothing about the ground speed
NO_ODOMETRY = ('stall', 'encoder_dropout', 'node_lost')

# A steered corner closing on its target by at least this share of the servo's rate (URDF
# joint velocity limit), over the last STEER_SLEW_WINDOW_S, is following, however far off.
STEER_SLEW_SHARE = 0.3
STEER_SLEW_WINDOW_S = 1.0


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


@dataclass
class WheelView:
    """What the controller knows of one wheel unit."""

    state: str = 'UNKNOWN'
    fault: str = 'none'
    heard_t: float | None = None
    encoder: tuple[float, float] | None = None   # (t, rad)
    speed: float = math.nan                       # from encoder differences, rad/s
    lost: bool = False
    stall_at: tuple[float, float] | None = None   # odometry where a stall latched, to retry
    stall_t: float = 0.0                          # and when
    retry_t: float | None = None                  # when its automatic reset was asked
    retry_held: bool = False                      # ...because the rover was held
    no_retry: bool = False                        # stalled again after one: seized


@dataclass
class Event:
    t: float
    wheel: str
    what: str


@dataclass
class DriveOutput:
    setpoints: dict[str, float]
    steer: dict[str, float]
    mode: str
    healthy: list[str]
    speed_limit: float
    v: float
    omega: float
    resets: list[str] = field(default_factory=list)   # wheel units to reset (stall retry)


@dataclass
class Goal:
    x: float
    y: float
    reached: bool = False
    short_m: float = 0.0              # how far short it ended, held (goal_held_tolerance_m)
    best_xy: tuple[float, float] | None = None   # where its cost to go was lowest (odometry)
    best_t: float = 0.0               # when it last came recovery.progress_m nearer
    backoffs: int = 0
    keep_outs: list[KeepOut] = field(default_factory=list)   # places wheels held the rover


@dataclass
class DriveCore:
    geometry: RoverGeometry
    p: dict
    start_t: float = 0.0
    wheels: dict[str, WheelView] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)

    def __post_init__(self):
        p = self.p
        self.top_speed = p['max_speed_m_s'] * (1.0 - p['speed_margin'])
        self.limits = Limits(self.top_speed, p['max_accel_m_s2'], p['max_yaw_rate_rad_s'],
                             p['max_yaw_accel_rad_s2'], p['cmd_timeout_s'])
        self.governor = Governor(self.limits)
        self.odometry = Odometry2D()
        self.wheels = {w: WheelView() for w in WHEEL_IDS}
        self.steer_measured = {w: 0.0 for w in STEERED_IDS}
        self.steer_bad_since: dict[str, float | None] = {w: None for w in STEERED_IDS}
        self.steer_good_since: dict[str, float | None] = {w: None for w in STEERED_IDS}
        self._steer_history: dict[str, list[tuple[float, float]]] = {w: [] for w in STEERED_IDS}
        self.steer_retrusted: set[str] = set()    # trusted again once; a second loss stays
        self.untrusted_corners: set[str] = set()
        self.gyro: float | None = None
        self.heading_rate: float | None = None
        self.pitch = self.roll = 0.0
        self.goal: Goal | None = None
        self.yaw_integral = 0.0
        self.mode = 'velocity'
        self._last_steer = {w: 0.0 for w in STEERED_IDS}
        self._holding = False
        self.v_measured = 0.0
        # Hazard avoidance: the map from the hazard cameras, the gate and arc voting.
        self.hazard_map: Grid | None = None
        self.hazard_t = -math.inf            # when the last map came
        self.footprint = Footprint(p['hazard.footprint_rear_m'], p['hazard.footprint_front_m'],
                                   p['hazard.footprint_half_width_m'])
        self.gate_state = 'no map'
        self.gate_where: tuple[float, float] | None = None
        # Off only for egress from the lander: the ramp is steeper than the limits the
        # map enforces, and it is known ground (the lander sequencer switches it).
        self.gate_enabled = True
        self._votes_t = -math.inf
        self._arc: Vote | None = None
        self._blocked_turn = 0.0
        self._turning_to_goal = False
        self._nav: NavField | None = None     # cost to go over the hazard map (planner)
        self._nav_due = True
        self._nav_heading: float | None = None
        self._backoff: tuple[float, float, float] | None = None   # x, y, t where it began
        self._backoff_held_at: tuple[float, float] | None = None  # where one ended held
        # The arc check: the gyro's yaw rate against the commanded one, both filtered.
        self._yaw_seen = 0.0
        self._yaw_asked = 0.0
        self.arc_followed: float | None = None   # their ratio on a steered arc, else None
        self._held_since: float | None = None
        # Visual odometry: the odometry's recent track [t, x, y, yaw, roll, pitch, driving],
        # so that
        # a step measured between two camera frames can replace the wheels' count of it.
        self._track: deque[list[float]] = deque(
            maxlen=int(p['visual_odometry.history_s'] * p['control_rate_hz']) + 1)
        self.visual_steps = 0          # steps taken from visual odometry
        self.visual_refused = 0        # steps refused (too old, too large)
        self.visual_idle = 0           # steps over which no wheel was driven: not taken
        self.visual_t = -math.inf      # the end of the last step taken
        self.visual_correction_m = 0.0  # what the visual steps moved the odometry, in all
        self.wheel_slip: float | None = None   # 1 - visual / wheel distance of the last step
        self._visual_pending: list[tuple[float, float, list[float]]] = []

    # ---- inputs ------------------------------------------------------------------------
    def command_velocity(self, v: float, omega: float, t: float) -> None:
        """An operator velocity command; raises CommandRejected. It cancels a goal."""
        self.governor.command(v, omega, t)
        if self.goal is not None and not self.goal.reached:
            self.events.append(Event(t, '-', 'goal cancelled by a velocity command'))
        self.goal = None
        self.mode = 'velocity'

    def set_goal(self, x: float, y: float, t: float) -> None:
        if not (math.isfinite(x) and math.isfinite(y)):
            raise ValueError(f'goal ({x}, {y}) is not finite')
        self.goal = Goal(x, y, best_t=t)
        self._nav, self._nav_due = None, True
        self._backoff = None
        self._backoff_held_at = None
        self._turning_to_goal = False
        self._blocked_turn = 0.0
        self.mode = 'goal'
        self.events.append(Event(t, '-', f'goal ({x:.2f}, {y:.2f}) accepted'))

    def wheel_status(self, wheel: str, state: str, fault: str, t: float) -> None:
        view = self.wheels[wheel]
        if view.lost:
            self.events.append(Event(t, wheel, 'heard again'))
            view.lost = False
        if (state, fault) != (view.state, view.fault) and state != ENABLED:
            self.events.append(Event(t, wheel, f'{state.lower()}: {fault}'))
            if fault == 'stall':
                self._stalled(wheel, t)
        elif state == ENABLED and view.state not in (ENABLED, 'UNKNOWN'):
            self.events.append(Event(t, wheel, 'back in service'))
            view.stall_at = None
        view.state, view.fault, view.heard_t = state, fault, t

    def _stalled(self, wheel: str, t: float) -> None:
        """A stall latched: a seized motor, or a wheel held against a rock it could climb.

        The wheel unit cannot tell them apart from its own signals, and must isolate the
        wheel within a second either way. The controller can: once the rover has moved
        stall_retry.after_m on without the wheel, a wheel held by terrain is off the
        obstacle and turns again, and a seized one stalls again at once on its probation.
        So it asks for one reset then, and none after a stall within stall_retry.watch_s
        of it (a seized wheel stays isolated until the ground resets it). A goal drive the
        rover cannot go on with (the wheels left too few to lift a wheel over the rock that
        stalled it, and stalling one after another as they push) asks for the reset after
        stall_retry.held_s instead, and backs off as it does: a wheel held by terrain turns
        back off it with the others. A stall soon after such a reset is no verdict: the
        rover may be held still, and every wheel stalls under that load (Monte Carlo seed
        23, k = 2: two healthy wheels judged seized so, and the rover left with two).
        """
        view, p = self.wheels[wheel], self.p
        if view.retry_t is not None and t - view.retry_t <= p['stall_retry.watch_s'] \
                and not view.retry_held:
            view.no_retry = True
            self.events.append(Event(t, wheel, 'stalled again after its automatic reset: '
                                               'seized, isolated until the ground resets it'))
        elif not view.no_retry and p['stall_retry.after_m'] > 0:
            view.stall_at, view.stall_t = (self.odometry.x, self.odometry.y), t

    def _stall_retries(self, t: float) -> list[str]:
        out, p, o = [], self.p, self.odometry
        latched = {w: view for w, view in self.wheels.items()
                   if view.stall_at is not None and not view.lost and view.fault == 'stall'}
        driving = self.goal is not None and not self.goal.reached and self._backoff is None
        # held: the first of them latched held_s ago and the rover has not moved on since;
        # all of them are retried together as it backs off (one rock held them all).
        held = driving and any(t - v.stall_t >= p['stall_retry.held_s'] and
                               math.dist(v.stall_at, (o.x, o.y)) < p['stall_retry.after_m']
                               for v in latched.values())
        for w, view in latched.items():
            moved = math.dist(view.stall_at, (o.x, o.y))
            if moved >= p['stall_retry.after_m']:
                why = f'the rover has moved {moved:.2f} m on'
            elif held:
                why = f'the rover is held ({moved:.2f} m in {t - view.stall_t:.0f} s)'
            else:
                continue
            view.stall_at, view.retry_t, view.retry_held = None, t, moved < p['stall_retry.after_m']
            out.append(w)
            self.events.append(Event(t, w, f'automatic reset after a stall: {why}'))
        if held and self._ends_short(t, f'{", ".join(latched)} stalled and the rover held'):
            pass
        elif held:
            self._keep_out(t, list(latched))
            if self._backoff_held_at is None:
                self._start_backoff(t, f'{", ".join(latched)} stalled and the rover held')
            else:
                # Its last back-off was held too (a seized rear wheel pushed ahead of the
                # rover as it reverses): another would stand as long. The way on is forward.
                self.events.append(Event(t, '-', f'{", ".join(latched)} stalled and the rover '
                                                 'held, its last back-off held too: driving on'))
        return out

    def _keep_out(self, t: float, wheels: list[str]) -> None:
        """Keep the places where these wheels held the rover out of their tracks.

        A seized wheel dragged against a rock small enough for the map (Monte Carlo seed 24,
        k = 1: rr against a 0.14 m rock) held the rover; it backed off, faced the goal and
        drove the wheel back onto the same rock, for ten minutes. The vote now refuses arcs
        that take the wheel back there while the wheel is out of service, and the rover
        turns until an arc passes by it (recovery.keep_out_m; 0 turns this off).
        """
        radius = self.p['recovery.keep_out_m']
        if radius <= 0 or self.goal is None:
            return
        o = self.odometry
        c, s = math.cos(o.yaw), math.sin(o.yaw)
        for w in wheels:
            wx, wy = self.geometry.wheel_xy[w]
            place = (o.x + c * wx - s * wy, o.y + s * wx + c * wy)
            self.goal.keep_outs.append(KeepOut(w, (wx, wy), place, radius))
            self.events.append(Event(t, w, f'keep-out: ({place[0]:.2f}, {place[1]:.2f}), '
                                            f'{radius:.2f} m, while it is out of service'))

    def _ends_short(self, t: float, why: str) -> bool:
        """Whether a goal drive held this near its goal ends here, reached short.

        Held within goal_held_tolerance_m of the goal, a back-off takes the rover away
        from it to approach again among the keep-outs it has just set, at the slow turns of
        a rover with wheels out (Monte Carlo seed 4, k = 2: held 0.25 m from its goal by a
        free wheel on a rock beside it at 628 s, it backed off and spent the last ten
        minutes within 1.3 m of the goal, turning and backing off, and timed out 1.28 m
        off). As a rover team would, the drive ends where it was held, and says how short.
        """
        g, o = self.goal, self.odometry
        tolerance = self.p['goal_held_tolerance_m']
        distance = math.hypot(g.x - o.x, g.y - o.y)
        if g.reached or tolerance <= 0 or distance > tolerance:
            return False
        g.reached, g.short_m = True, distance
        self._backoff = None
        self.governor.command(0.0, 0.0, t)
        self.events.append(Event(t, '-', f'goal reached {distance:.2f} m short at ({o.x:.2f}, '
                                         f'{o.y:.2f}): {why}, within goal_held_tolerance_m'))
        return True

    def _start_backoff(self, t: float, why: str, face: bool = True) -> None:
        """Back straight off recovery.backoff_m, then (face) turn to the way on, and vote."""
        p, o = self.p, self.odometry
        self.goal.backoffs += 1
        self._backoff = (o.x, o.y, t)
        self._turning_to_goal = self._turning_to_goal or face
        self.events.append(Event(t, '-', f'{why}: backing off {p["recovery.backoff_m"]:.1f} m'))

    def encoder(self, wheel: str, t: float, rad: float) -> None:
        view = self.wheels[wheel]
        if not math.isfinite(rad):
            view.speed = math.nan
            return
        if view.encoder is not None and t > view.encoder[0]:
            view.speed = (rad - view.encoder[1]) / (t - view.encoder[0])
        view.encoder = (t, rad)

    def steering(self, angles: dict[str, float]) -> None:
        self.steer_measured.update({w: a for w, a in angles.items() if w in self.steer_measured})

    def yaw_rate(self, gyro_z: float, gyro_x: float = 0.0, gyro_y: float = 0.0) -> None:
        """The IMU's body rates (rad/s): z for the yaw loop, all three for the heading.

        On tilted ground the body's z rate is not the heading's rate: the heading, in
        the level odom frame, turns at (y sin roll + z cos roll) / cos pitch, with roll
        and pitch from the IMU's attitude (observable from gravity, drift-free).
        """
        if not (math.isfinite(gyro_z) and math.isfinite(gyro_x) and math.isfinite(gyro_y)):
            return
        self.gyro = gyro_z
        self.heading_rate = (gyro_y * math.sin(self.roll) + gyro_z * math.cos(self.roll)) / \
            max(0.1, math.cos(self.pitch))

    def attitude(self, w: float, x: float, y: float, z: float) -> None:
        """IMU orientation (quaternion): its pitch projects wheel travel onto the level,
        its roll and pitch turn body rates into the heading's rate."""
        sin_pitch = 2.0 * (w * y - z * x)
        roll = math.atan2(2.0 * (w * x + y * z), 1.0 - 2.0 * (x * x + y * y))
        if math.isfinite(sin_pitch) and math.isfinite(roll):
            self.pitch = math.asin(max(-1.0, min(1.0, sin_pitch)))
            self.roll = roll

    def hazard(self, grid: Grid, t: float) -> None:
        """A new hazard map (cost grid in odom), received at t."""
        self.hazard_map = grid
        self.hazard_t = t
        self._nav_due = True

    # ---- health --------------------------------------------------------------------------
    def healthy(self, t: float) -> list[str]:
        out = []
        for w, view in self.wheels.items():
            heard = view.heard_t if view.heard_t is not None else self.start_t
            if t - heard > self.p['node_lost_s']:
                if not view.lost:
                    view.lost = True
                    self.events.append(Event(t, w, 'node_lost'))
                continue
            if view.state in (ENABLED, 'UNKNOWN'):
                out.append(w)
        return out

    def fault_of(self, wheel: str) -> str:
        view = self.wheels[wheel]
        return 'node_lost' if view.lost else view.fault

    def speed_limit(self, healthy: int) -> float:
        """Top speed derated by a fixed share per lost wheel (stated rule, config)."""
        lost = len(WHEEL_IDS) - healthy
        return self.top_speed * max(0.25, 1.0 - self.p['derate_per_lost_wheel'] * lost)

    # ---- the control step ---------------------------------------------------------------
    def _goal_twist(self) -> tuple[float, float]:
        g = self.goal
        dx, dy = g.x - self.odometry.x, g.y - self.odometry.y
        distance = math.hypot(dx, dy)
        if distance < self.p['goal_tolerance_m']:
            g.reached = True
            return 0.0, 0.0
        bearing = math.atan2(dy, dx)
        arc = self._arc if self.hazard_map is not None and self.gate_enabled else None
        radius = 1.0 / self.p['arcs.max_curvature']
        if arc is not None and self._nav is not None and distance > radius:
            # Where the cost to go falls fastest, one turning radius out: round a crater
            # rather than at it.
            bearing = self._nav_heading if self._nav_heading is not None else bearing
        err = bearing - self.odometry.yaw
        err = math.atan2(math.sin(err), math.cos(err))
        turn = math.copysign(self.p['max_yaw_rate_rad_s'], err)
        # slow down near the goal so the ramp stops the rover on it
        v = min(self.top_speed, math.sqrt(2 * self.p['max_accel_m_s2'] * distance) * 0.7)
        if arc is None:
            if abs(err) > self.p['goal_turn_in_place_rad']:
                return 0.0, turn
            return v * math.cos(err), self.p['goal_heading_gain'] * err
        if arc.vetoed:
            # No safe arc ahead: turn in place, one way until one opens, and look again.
            # The search ends a turn to face the goal: facing it undid the search (Monte
            # Carlo seed 22, k = 2: a turn right opened an arc, the face turned left back
            # into the vetoes, and round, for 50 s at a time).
            self._blocked_turn = self._blocked_turn or turn
            self._turning_to_goal = False
            return 0.0, self._blocked_turn
        self._blocked_turn = 0.0
        if self._facing(err, distance, arc):
            return 0.0, turn            # the goal is behind or out of an arc's reach: face it
        return v, max(-self.p['max_yaw_rate_rad_s'], min(self.p['max_yaw_rate_rad_s'],
                                                         v * arc.curvature))

    def _facing(self, err: float, distance: float, arc: Vote) -> bool:
        """Whether to turn in place toward the goal rather than drive the voted arc.

        The rover faces the goal first when the best arc makes almost no progress (the
        goal is behind) or when the goal lies nearer than the tightest turning radius
        (no arc can bend onto it). Once begun, the turn goes on until the heading error
        is half the threshold: without that hysteresis the rover, 0.2 m from a goal 35 deg
        off its heading, switched between the turn and the arc on each vote (the arc's
        progress hovering at the threshold) and its corners swung between the two
        steering patterns for minutes, never settling long enough to drive (Monte Carlo
        seeds 12 and 15, k = 1).
        """
        threshold = self.p['goal_turn_in_place_rad']
        if self._turning_to_goal:
            self._turning_to_goal = abs(err) > threshold / 2
        elif abs(err) > threshold:
            length = min(self.p['arcs.length_m'], distance)   # the vote's arc length
            self._turning_to_goal = (arc.progress <= 0.05 * length
                                     or distance < 1.0 / self.p['arcs.max_curvature'])
        return self._turning_to_goal

    def _recovery(self, t: float) -> tuple[float, float] | None:
        """Back off when the hazard avoidance makes no headway; the twist to drive, or None.

        Near a hazard the arc vote and the gate can hold the rover in place: every arc
        vetoed, the turn in place refused because a corner of the footprint would sweep
        the hazard cell, an arc found and refused as the corners swing to it, and round
        again (seen for minutes at a time in the mission's rock field and near Monte
        Carlo goals). As MER's drivers do, the rover then backs straight off over the
        ground it came by (the gate checks that too), and votes again from there.
        """
        g, p, o = self.goal, self.p, self.odometry
        if self._backoff is not None:    # (also one begun by a held stall, with no map)
            bx, by, bt = self._backoff
            moved = math.hypot(o.x - bx, o.y - by)
            # A back-off that has not moved progress_m in stall_retry.held_s is held itself
            # (Monte Carlo seed 23, k = 2: lr seized, pushed ahead as the rover reversed,
            # stood 60 s a time for ten minutes); it ends then.
            stuck = t - bt >= p['stall_retry.held_s'] and moved < p['recovery.progress_m']
            if moved < p['recovery.backoff_m'] and t - bt < p['recovery.no_progress_s'] \
                    and not stuck:
                return -p['recovery.backoff_speed_m_s'], 0.0
            self._backoff = None
            self._backoff_held_at = (o.x, o.y) if moved < p['recovery.backoff_m'] else None
            g.best_xy, g.best_t = (o.x, o.y), t   # the new approach gets its full time
            self.events.append(Event(t, '-', f'backed off {moved:.2f} m in {t - bt:.0f} s'
                                             f'{" (held)" if stuck else ""}: voting again'))
            return None
        if self._backoff_held_at is not None and math.dist(
                self._backoff_held_at, (o.x, o.y)) >= p['recovery.backoff_m']:
            self._backoff_held_at = None
        if self.hazard_map is None or not self.gate_enabled or p['recovery.no_progress_s'] <= 0:
            return None
        if self._held_since is not None and t - self._held_since > p['arc_check.held_s']:
            # The rover does not follow its arc (a seized wheel caught on a rock, the others
            # spinning): no use waiting for the headway rule; back off and face the way on.
            self._held_since = None
            why = (f'held: the gyro sees {self.arc_followed:.2f} of the arc\'s yaw rate for '
                   f'{p["arc_check.held_s"]:.0f} s')
            if self._ends_short(t, why):
                return 0.0, 0.0
            out = [w for w in WHEEL_IDS if w not in self.healthy(t)]
            distance = math.hypot(g.x - o.x, g.y - o.y)
            if out and distance < 1.0 / p['arcs.max_curvature']:
                # Within a turning radius of the goal, with a wheel out: the drag of a dead
                # wheel on the tight arc onto the goal holds the rover, not a rock. Backing
                # off and keeping the wheels' places out fenced the goal off (Monte Carlo
                # seed 22, k = 2: lf seized, held 0.67 m from the goal on a 1 m arc at
                # 994 s, then turning and backing off among its keep-outs to the cap).
                # The rover turns in place to face the goal and drives on at it.
                self._turning_to_goal = True
                self.events.append(Event(t, '-', f'{why}, {distance:.2f} m from the goal '
                                                 f'with {", ".join(out)} out: facing it'))
                return None
            self._keep_out(t, out)
            self._start_backoff(t, why)
            return -p['recovery.backoff_speed_m_s'], 0.0
        # Headway: the cost to go (the straight line without a plan) lower than where the
        # rover stood best, both judged on the current map.
        if g.best_xy is None or self._to_go(o.x, o.y) < self._to_go(*g.best_xy) - \
                p['recovery.progress_m']:
            g.best_xy, g.best_t = (o.x, o.y), t
        elif t - g.best_t > p['recovery.no_progress_s']:
            distance = math.hypot(g.x - o.x, g.y - o.y)
            why = f'no headway in {p["recovery.no_progress_s"]:.0f} s'
            if self._ends_short(t, why):
                return 0.0, 0.0
            self._start_backoff(t, f'{why} ({distance:.2f} m from the goal)', face=False)
            return -p['recovery.backoff_speed_m_s'], 0.0
        return None

    def _to_go(self, x: float, y: float) -> float:
        g = self.goal
        value = self._nav.value(x, y) if self._nav is not None else math.inf
        return value if math.isfinite(value) else math.hypot(g.x - x, g.y - y)

    def _vote(self, t: float) -> None:
        """Choose among candidate arcs by hazard and progress, twice a second."""
        if not self.gate_enabled:    # egress: no hazard avoidance, straight to the goal
            self._arc = None
            return
        if self.hazard_map is None or self.goal is None or t - self._votes_t < 0.5:
            return
        self._votes_t = t
        p = self.p
        healthy = self.healthy(t)
        if self._nav_due and p['planner.cell_m'] > 0:     # a new map or a new goal
            self._nav_due = False
            self._nav = navigation_function(
                self.hazard_map, (self.goal.x, self.goal.y), p['planner.cell_m'],
                p['hazard.footprint_half_width_m'], p['arcs.veto_cost'], p['arcs.hazard_weight'],
                p['arcs.unknown_cost'])
        k = p['arcs.max_curvature']
        # Within a turning radius of the goal the straight line is the measure: the cost to
        # go is exact only to its 0.2 m cells, and near the goal that turned arcs away from it
        # (Monte Carlo seed 3, k = 1: held 0.3 m off, the vote flipping between arcs).
        near = math.hypot(self.goal.x - self.odometry.x, self.goal.y - self.odometry.y) < 1.0 / k
        votes = vote_arcs(self.hazard_map, (self.odometry.x, self.odometry.y, self.odometry.yaw),
                          (self.goal.x, self.goal.y), self.footprint,
                          np.linspace(-k, k, int(p['arcs.count'])), p['arcs.length_m'],
                          p['hazard.sample_m'], p['arcs.hazard_weight'], p['arcs.unknown_cost'],
                          p['arcs.veto_cost'], None if near else self._nav,
                          tuple(k for k in self.goal.keep_outs if k.wheel not in healthy),
                          None if self._arc is None or self._arc.vetoed else self._arc.curvature,
                          p['recovery.keep_out_slack_m'],
                          tuple(self.geometry.wheel_xy[w] for w in WHEEL_IDS if w not in healthy),
                          p['arcs.dead_wheel_cost'], self.geometry.wheel_width / 2)
        self._nav_heading = None if self._nav is None else self._nav.heading(
            self.odometry.x, self.odometry.y, 1.0 / k)
        best = votes[0]
        # Hysteresis: the arc driven stays while it scores within arcs.hysteresis of the
        # best. Near a goal the progress term is small and the hazard term decides; arcs of
        # opposite curvature took turns from vote to vote, the corners swung between them
        # and the wheels, waiting for the corners, never turned (Monte Carlo seed 10, k = 2:
        # 0.5 m from the goal for 8 minutes, until the cap).
        kept = next((v for v in votes if self._arc is not None and not self._arc.vetoed
                     and v.curvature == self._arc.curvature and not v.vetoed), None)
        if kept is not None and best.score - kept.score < p['arcs.hysteresis']:
            best = kept
        if self._arc is not None and best.vetoed != self._arc.vetoed:
            self.events.append(Event(t, '-', 'no safe arc: turning in place' if best.vetoed
                                     else f'safe arc found (curvature {best.curvature:.2f})'))
        self._arc = best

    def _gate(self, t: float, v: float, omega: float) -> tuple[float, float]:
        """Stop motion whose swept footprint meets an untraversable cell within reach."""
        if not self.gate_enabled:
            if self.gate_state != 'off':
                self.events.append(Event(t, '-', 'hazard gate: off (commanded)'))
                self.gate_state, self.gate_where = 'off', None
            return v, omega
        if self.hazard_map is None:
            return v, omega
        p = self.p
        age = t - self.hazard_t
        if p['hazard.map_timeout_s'] > 0 and age > p['hazard.map_timeout_s']:
            # The cameras have gone quiet (a hazard node that died left the rover driving
            # on its last map until it drove off it): as Nav2's collision monitor does
            # when a source times out, no motion until a map comes again.
            if self.gate_state != 'stale':
                self.events.append(Event(t, '-', f'hazard gate: no hazard map for {age:.1f} s '
                                                  f'(timeout {p["hazard.map_timeout_s"]:.1f} s), '
                                                  'motion refused'))
                self.gate_state, self.gate_where = 'stale', None
            self.governor.output = (0.0, 0.0)
            return 0.0, 0.0
        reach = p['hazard.clearance_m'] + v * v / (2 * p['max_accel_m_s2'])
        result = gate(self.hazard_map, (self.odometry.x, self.odometry.y, self.odometry.yaw),
                      v, omega, self.footprint, reach, p['hazard.sample_m'])
        state = 'blocked' if result.blocked else 'clear'
        if state != self.gate_state:
            self.events.append(Event(t, '-', f'hazard gate: untraversable ground at '
                                             f'({result.cell[0]:.2f}, {result.cell[1]:.2f}), '
                                             'motion refused' if result.blocked
                                     else 'hazard gate: clear'))
            self.gate_state = state
        self.gate_where = result.cell
        if not result.blocked:
            return v, omega
        self.governor.output = (0.0, 0.0)
        return 0.0, 0.0

    def step(self, t: float, dt: float) -> DriveOutput:
        healthy = self.healthy(t)
        limit = self.speed_limit(len(healthy))
        if self.goal is not None and not self.goal.reached:
            self._vote(t)
            backing = self._recovery(t)
            if self.goal.reached:         # held within goal_held_tolerance_m: ended short
                v_goal, w_goal = 0.0, 0.0
            else:
                v_goal, w_goal = backing if backing is not None else self._goal_twist()
                if self.goal.reached:
                    self.events.append(Event(t, '-', f'goal reached at ({self.odometry.x:.2f}, '
                                                      f'{self.odometry.y:.2f})'))
            self.governor.command(v_goal, w_goal, t)
        v, omega = self.governor.update(t, dt)
        v = max(-limit, min(limit, v))
        v, omega = self._gate(t, v, omega)
        # The yaw trim acts on the wheel speeds only, as a differential: the
        # corners keep the commanded arc, so the trim cannot start a steering
        # manoeuvre of its own. Off while the wheels wait for the corners.
        if self._holding:
            self.yaw_integral = 0.0
            omega_wheels = omega
        else:
            omega_wheels = self._yaw_loop(omega, v, dt)
        self._check_steering(t)
        skid = bool(self.untrusted_corners)
        mode = 'skid_steer' if skid else ('goal' if self.goal and not self.goal.reached
                                          else 'velocity')
        self._holding = False
        if skid:
            setpoints, steer = self._skid(v, omega_wheels, limit)
        else:
            steer = dict(inverse(self.geometry, v, omega, limit).steer_rad)
            if v == 0.0 and omega == 0.0:
                # Stopped (the gate refusing, a goal reached): the corners stay where they
                # are. Straightening them on every refused tick and back on the next kept
                # them swinging, and a corner that never settles is read as failed.
                steer = dict(self._last_steer)
            setpoints = dict(inverse(self.geometry, v, omega_wheels, limit).speed_rad_s)
            trusted = [w for w in STEERED_IDS if w not in self.untrusted_corners]
            error = max((abs(steer[w] - self.steer_measured[w]) for w in trusted), default=0.0)
            if error > self.p['steer_settle_rad']:   # corners settle before the wheels roll
                setpoints = {w: 0.0 for w in setpoints}
                self._holding = True
        for w in WHEEL_IDS:
            if w not in healthy:
                setpoints[w] = 0.0   # isolated: its unit is off or gone; the others carry on
        self._last_steer = dict(steer)
        self._arc_check(t, dt, v, omega)
        self._odometry(dt, healthy)
        o = self.odometry
        driving = any(abs(sp) > 0.0 for sp in setpoints.values())
        self._track.append([t, o.x, o.y, o.yaw, self.roll, self.pitch, float(driving)])
        if self._visual_pending:
            self._take_visual()
        return DriveOutput(setpoints, steer, mode, healthy, limit, v, omega_wheels,
                           self._stall_retries(t))

    def _yaw_loop(self, omega: float, v: float, dt: float) -> float:
        """Hold the commanded yaw rate with the gyro: a dragged wheel must not turn the rover."""
        if self.gyro is None or (abs(v) < 1e-4 and abs(omega) < 1e-4):
            self.yaw_integral = 0.0
            return omega
        err = omega - self.gyro
        lim = self.p['yaw_integral_limit_rad_s']
        self.yaw_integral = max(-lim, min(lim, self.yaw_integral + self.p['yaw_ki'] * err * dt))
        correction = self.p['yaw_kp'] * err + self.yaw_integral
        correction = max(-lim, min(lim, correction))   # a trim, never a new manoeuvre
        cap = self.p['max_yaw_rate_rad_s']
        return max(-cap, min(cap, omega + correction))

    def _check_steering(self, t: float) -> None:
        # compare against last commanded angles: a corner that does not follow is untrusted
        for w in STEERED_IDS:
            target = self._last_steer[w]
            measured = self.steer_measured[w]
            history = self._steer_history[w]
            history.append((t, measured))
            while len(history) > 2 and t - history[1][0] >= STEER_SLEW_WINDOW_S:
                history.pop(0)
            # A corner on its way to a new target at a fair share of the servo's rate is
            # following: a swing across the range takes longer than steer_fault_s.
            t0, m0 = history[0]
            slewing = t - t0 >= 0.5 * STEER_SLEW_WINDOW_S and (
                abs(target - m0) - abs(target - measured)) / (t - t0) >= \
                STEER_SLEW_SHARE * self.geometry.steer_rate
            bad = abs(target - measured) > self.p['steer_fault_rad'] and not slewing
            if not bad:
                self.steer_bad_since[w] = None
                # An untrusted corner that follows its (straight, in skid-steer) target again
                # for as long is trusted again, once: a corner held by a rock or by the
                # tyre's scrub for a few seconds is not a broken one; one stuck straight
                # follows a straight target too, and is lost for good the second time.
                if w in self.untrusted_corners and w not in self.steer_retrusted:
                    if self.steer_good_since[w] is None:
                        self.steer_good_since[w] = t
                    elif t - self.steer_good_since[w] > self.p['steer_fault_s']:
                        self.untrusted_corners.discard(w)
                        self.steer_retrusted.add(w)
                        self.steer_good_since[w] = None
                        self.events.append(Event(t, w, 'steering follows again: trusted'))
            elif self.steer_bad_since[w] is None:
                self.steer_good_since[w] = None
                self.steer_bad_since[w] = t
            elif t - self.steer_bad_since[w] > self.p['steer_fault_s'] and w not in self.untrusted_corners:
                self.untrusted_corners.add(w)
                self.events.append(Event(t, w, 'steering untrusted: skid-steer fallback'))

    def _skid(self, v: float, omega: float, limit: float):
        """Corners straight, turning by left/right speed difference."""
        half = self.geometry.track / 2
        left, right = v - omega * half, v + omega * half
        peak = max(abs(left), abs(right), 1e-12)
        scale = min(1.0, limit / peak)
        r = self.geometry.wheel_radius
        setpoints = {w: (left if w[0] == 'l' else right) * scale / r for w in WHEEL_IDS}
        return setpoints, {w: 0.0 for w in STEERED_IDS}

    def _arc_check(self, t: float, dt: float, v: float, omega: float) -> None:
        """Whether the rover follows the steered arc it is driving, by the gyro.

        On an arc the yaw rate is the speed times the curvature, and the gyro measures it
        apart from the wheels: the share of the commanded yaw rate that the gyro sees
        (both low-passed over arc_check.tau_s) bounds the share of the wheels' travel that
        is the rover's. A seized wheel caught on a small rock held the rover while the five
        others spun (Monte Carlo seed 7, k = 1: odometry ran 2 m ahead of a rover that had
        not moved, and pivoted about the wheel the wrong way). Straight drives and turns in
        place say nothing, nor do ticks while the wheels wait for the corners.
        """
        p = self.p
        a = min(1.0, dt / p['arc_check.tau_s']) if dt > 0 else 0.0
        steered = (abs(v) > 0.2 * self.top_speed and not self._holding
                   and abs(omega) >= p['arc_check.min_curvature'] * abs(v))
        if not steered or self.gyro is None:
            self._yaw_seen = self._yaw_asked = 0.0
            self.arc_followed, self._held_since = None, None
            return
        self._yaw_seen += a * (self.gyro - self._yaw_seen)
        self._yaw_asked += a * (omega - self._yaw_asked)
        if abs(self._yaw_asked) < 0.5 * p['arc_check.min_curvature'] * abs(v):
            return    # the filter is still rising
        self.arc_followed = self._yaw_seen / self._yaw_asked
        if self.arc_followed >= p['arc_check.min_ratio']:
            self._held_since = None
        elif self._held_since is None:
            self._held_since = t

    def visual_motion(self, t0: float, t1: float, translation) -> None:
        """A step measured by visual odometry: base_link at t1 is at translation (m) from
        base_link at t0, in base_link at t0. Taken at the next control step that has
        reached t1 (see _take_visual); raises ValueError for a step that is not usable.
        """
        d = [float(v) for v in translation]
        if len(d) != 3 or not all(math.isfinite(v) for v in (t0, t1, *d)) or not t1 > t0:
            raise ValueError(f'visual step {translation} from {t0} to {t1} is not usable')
        self._visual_pending.append((t0, t1, d))

    def _take_visual(self) -> None:
        """Replace the wheels' count between two frames by the visual step.

        The wheels count travel the rover never made when they slip (dragging a seized
        wheel, held by a rock): as on the Mars rovers, the visual step replaces the
        wheels' count between the two frames. The odometry's position at t1 is moved to
        its position at t0 plus the step, turned by the attitude at t0 (yaw from the
        odometry, roll and pitch from the IMU), and what the wheels counted since t1 is
        kept on top. The heading stays the gyro's. A step from before the track kept
        (visual_odometry.history_s), one over which no wheel was driven, or one that would
        move the odometry more than visual_odometry.max_correction_m, is refused.
        """
        waiting = []
        for t0, t1, d in self._visual_pending:
            if t1 > self._track[-1][0] + 1e-9:
                waiting.append((t0, t1, d))     # the track has not reached the frame yet
                continue
            a, b = self._track_at(t0), self._track_at(t1)
            if a is None or b is None:
                self.visual_refused += 1
                continue
            if not any(e[6] for e in self._track if t0 - 1e-9 <= e[0] <= t1 + 1e-9):
                # Not driving: the wheels count nothing, and a scene dominated by something
                # else moving (the lander's ramp unfolding before the rover on the deck)
                # must not move the rover in its odometry. MER too ran it only while driving.
                self.visual_idle += 1
                continue
            step = rpy_matrix((a[4], a[5], a[3])) @ np.array(d)
            cx, cy = a[1] + step[0] - b[1], a[2] + step[1] - b[2]
            if math.hypot(cx, cy) > self.p['visual_odometry.max_correction_m']:
                self.visual_refused += 1
                continue
            for entry in self._track:
                if entry[0] >= t1 - 1e-9:
                    entry[1] += cx
                    entry[2] += cy
            self.odometry.x += cx
            self.odometry.y += cy
            wheels = math.hypot(b[1] - a[1], b[2] - a[2])
            self.wheel_slip = (1.0 - math.hypot(step[0], step[1]) / wheels if wheels > 0.01
                               else None)
            self.visual_steps += 1
            self.visual_t = t1
            self.visual_correction_m += math.hypot(cx, cy)
        self._visual_pending = waiting[-4:]

    def _track_at(self, t: float) -> list[float] | None:
        """The odometry's track at t, interpolated; None outside it."""
        track = self._track
        if not track or t < track[0][0] - 1e-9 or t > track[-1][0] + 1e-9:
            return None
        if t >= track[-1][0]:
            return list(track[-1])
        later = next(i for i in range(len(track) - 1, -1, -1) if track[i][0] <= t)
        lo, hi = track[later], track[later + 1]
        f = (t - lo[0]) / (hi[0] - lo[0]) if hi[0] > lo[0] else 0.0
        out = [lo[k] + f * (hi[k] - lo[k]) for k in range(6)] + [lo[6]]
        out[3] = lo[3] + f * math.atan2(math.sin(hi[3] - lo[3]), math.cos(hi[3] - lo[3]))
        return out

    def _odometry(self, dt: float, healthy: list[str]) -> None:
        """Dead reckoning that trusts the wheels least likely to slip.

        Yaw rate comes from the gyro, levelled with the IMU's roll and pitch (see
        yaw_rate), and is integrated whether or not a wheel can be read. Each
        wheel with a working encoder implies a body speed v_i = s_i cos(a_i) +
        omega y_i (omega the body's z rate). An isolated wheel that
        free-wheels (open circuit, overcurrent, overtemperature, disabled) is
        dragged without drive torque, so it does not slip: when there is one,
        the median of the free wheels is the odometer; otherwise the median of
        the driven wheels (also while a seized wheel is dragged: on the Monte
        Carlo's ground they agree with the truth within 2 %). An order statistic
        of noisy readings taken tick by tick is biased: the two slowest driven
        wheels read 7 % short, the faster of two free wheels 6 % long (Monte
        Carlo seed 7, k = 2); of an even count the median is the mean of the
        middle two. Stalled and dropped-out wheels are left out.
        The speed is projected onto the level with the IMU pitch. On a steered arc
        whose yaw rate the gyro sees less than arc_check.min_ratio of, the wheels spin
        more than the rover moves: the speed is scaled by that share (see _arc_check).
        """
        omega_wheels = None
        usable = {}
        for w, view in self.wheels.items():
            if not math.isfinite(view.speed) or view.lost or view.fault in NO_ODOMETRY:
                continue
            usable[w] = view.speed
        if dt <= 0 or (len(usable) < 2 and self.heading_rate is None):
            return
        if len(usable) < 2:
            # No wheel to measure travel with (all isolated or silent): the heading still
            # turns with the gyro (Monte Carlo seed 24, k = 1: with every wheel stalled the
            # rover was turned 10 deg by the ground's push while its odometry stood still).
            self.odometry.update(0.0, self.heading_rate, dt)
            self.v_measured = 0.0
            return
        if self.heading_rate is None:
            omega_wheels = forward(self.geometry, usable, self.steer_measured)[1]
        omega = self.heading_rate if self.heading_rate is not None else omega_wheels
        r = self.geometry.wheel_radius
        body = self.gyro if self.gyro is not None else omega
        implied = {}
        for w, s in usable.items():
            _, y = self.geometry.wheel_xy[w]
            implied[w] = s * r * math.cos(self.steer_measured.get(w, 0.0)) + body * y
        free = [v for w, v in implied.items() if w not in healthy]
        # the median shrugs off one wheel on a rock; of an even count, the mean of the two
        # middle readings (the larger of two free wheels, taken tick by tick, read 6 % long)
        v = _median(free or list(implied.values()))
        if self.arc_followed is not None and self.arc_followed < self.p['arc_check.min_ratio']:
            v *= max(0.0, self.arc_followed)
        # wheels measure travel along the slope; odom is planar: project with the IMU pitch
        self.odometry.update(v * math.cos(self.pitch), omega, dt)
        self.v_measured = v
