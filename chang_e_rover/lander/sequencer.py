"""The lander's deployment sequencer: from landing to the rover parked on the surface.

Pure Python, no rclpy: lander/sequencer_node.py feeds it telemetry and carries out
the actions it returns. Steps, in order:

1. checkout     the lander's power and the rover's health
2. survey       the ground beyond the ramp's foot seen by the rover's hazard cameras
                (the map) between the stowed ramp's rails, which hide the rest
3. deploy_ramp  (that strip clear) the ramp lowered until it rests on the ground
4. inspect      the full width of the ground beyond the foot seen, now unobstructed
5. release      (that ground clear) the hold-down fired, not before the timeline allows
6. drive_off    down the ramp with the hazard gate off (the ramp is known ground,
                steeper than the limits the map enforces), gate back on at the bottom
7. park         to the parking point, the hazard gate on

Every step has preconditions checked before it starts (`entry`) and while it runs
(`keep`), a timeout, and, where config says so, a point where the ground confirms
before its action (confirmed at once when `auto_confirm` is on, as in simulation).
A failed precondition holds the sequence in the step's safe state with the reason;
it resumes by itself once the precondition holds again. A timeout holds it too,
and only the ground's `resume` retries the step. Time is the caller's (sim time
in simulation); the timeline is relative to the landing.
"""
from __future__ import annotations

from dataclasses import dataclass, field
import math
from typing import Callable

import numpy as np

from chang_e_rover.hazard.costs import UNTRAVERSABLE
from chang_e_rover.robot_description import WHEEL_IDS

STEPS = ('checkout', 'survey', 'deploy_ramp', 'inspect', 'release', 'drive_off', 'park')
# Sequence states
WAITING, CONFIRM, ACTIVE, HOLD, DONE = 'WAITING', 'CONFIRM', 'ACTIVE', 'HOLD', 'DONE'


@dataclass
class Telemetry:
    """What the sequencer knows; the node keeps it current. Times in seconds."""
    battery_soc: float | None = None
    battery_t: float = -math.inf
    wheels: dict[str, tuple[str, float]] = field(default_factory=dict)   # id -> (state, heard_t)
    ramp_angle: float | None = None
    ramp_speed: float = 0.0
    ramp_t: float = -math.inf
    rover_xy: tuple[float, float] | None = None     # odom
    rover_t: float = -math.inf
    zone: tuple[float, int] | None = None     # (share of zone cells observed, untraversable count)
    egress_zone: tuple[float, int] | None = None   # the same over the full width
    released: bool = False


@dataclass(frozen=True)
class Action:
    kind: str                  # ramp, release, gate, goal, stop
    value: tuple = ()


@dataclass
class Event:
    t: float
    step: str
    text: str


@dataclass(frozen=True)
class Params:
    min_battery_soc: float
    telemetry_stale_s: float
    rover_silence_s: float
    release_after_landing_s: float
    ramp_deploy_rad: float
    ramp_rest_min_rad: float
    ramp_rest_max_rad: float
    ramp_still_rad_s: float
    zone_start_m: float        # survey zone along the heading, from the rover's deck place
    zone_length_m: float
    zone_half_width_m: float       # between the stowed rails
    egress_half_width_m: float     # the full width, once the ramp is down
    zone_min_observed: float
    egress_distance_m: float
    park_xy: tuple[float, float]
    arrive_tolerance_m: float
    auto_confirm: bool
    confirm: frozenset[str]
    timeout_s: dict[str, float]

    @classmethod
    def from_dict(cls, p: dict) -> 'Params':
        confirm = frozenset(p['confirm_steps'])
        unknown = confirm - set(STEPS)
        if unknown:
            raise ValueError(f'confirm_steps: unknown steps {sorted(unknown)}; steps are {STEPS}')
        timeouts = {s: float(p[f'timeout_s.{s}']) for s in STEPS}
        if any(not (math.isfinite(v) and v > 0) for v in timeouts.values()):
            raise ValueError(f'every timeout_s must be finite and > 0: {timeouts}')
        park = tuple(float(v) for v in p['park_xy'])
        if len(park) != 2 or not all(math.isfinite(v) for v in park):
            raise ValueError(f'park_xy must be two finite numbers, got {p["park_xy"]}')
        return cls(float(p['min_battery_soc']), float(p['telemetry_stale_s']),
                   float(p['rover_silence_s']), float(p['timeline.release_after_landing_s']),
                   float(p['ramp.deploy_rad']), float(p['ramp.rest_min_rad']),
                   float(p['ramp.rest_max_rad']), float(p['ramp.still_rad_s']),
                   float(p['survey.start_m']), float(p['survey.length_m']),
                   float(p['survey.half_width_m']), float(p['survey.egress_half_width_m']),
                   float(p['survey.min_observed']),
                   float(p['egress_distance_m']), park, float(p['arrive_tolerance_m']),
                   bool(p['auto_confirm']), confirm, timeouts)


Check = Callable[[Telemetry, float], 'str | None']    # the reason it fails, or None


class Sequencer:
    """The deployment state machine. update() once per period; it returns actions."""

    def __init__(self, params: Params, landing_t: float):
        self.p = params
        self.landing_t = landing_t
        self.index = 0
        self.state = WAITING
        self.reason = ''
        self.step_t = landing_t
        self.confirmed: set[str] = set()
        self.events: list[Event] = []
        self.hold_by_timeout = False
        self.done_t: dict[str, float] = {}
        self._event(landing_t, 'landed: sequence armed')

    # ---- public ------------------------------------------------------------------------
    @property
    def step(self) -> str:
        return STEPS[self.index] if self.index < len(STEPS) else 'complete'

    @property
    def complete(self) -> bool:
        return self.index >= len(STEPS)

    def confirm(self, t: float) -> tuple[bool, str]:
        """The ground's go for the step awaiting confirmation."""
        if self.complete or self.state != CONFIRM:
            return False, f'no step awaits confirmation (step {self.step}, state {self.state})'
        self.confirmed.add(self.step)
        self._event(t, f'{self.step}: confirmed by the ground')
        return True, f'{self.step} confirmed'

    def resume(self, t: float) -> tuple[bool, str]:
        """The ground's retry of a step held by its timeout."""
        if self.state != HOLD or not self.hold_by_timeout:
            return False, (f'nothing to resume: step {self.step} is {self.state}'
                           + (f' ({self.reason})' if self.state == HOLD else ''))
        self.hold_by_timeout = False
        self._enter(WAITING, t, 'resumed by the ground')
        return True, f'{self.step} resumed'

    def update(self, tel: Telemetry, t: float) -> list[Action]:
        if self.complete:
            return []
        step = self.step
        if self.state == HOLD and self.hold_by_timeout:
            return []
        if self.state in (WAITING, HOLD):
            reason = self._first_failure(self._entry(step), tel, t)
            if reason is not None:
                return self._hold(t, reason, timeout=False)
            not_before = self._not_before(step)
            if t < not_before:
                return self._wait(t, not_before)
            if step in self.p.confirm and not self.p.auto_confirm and step not in self.confirmed:
                self._enter(CONFIRM, t, 'awaiting ground confirmation')
                return []
            return self._start(t)
        if self.state == CONFIRM:
            reason = self._first_failure(self._entry(step), tel, t)
            if reason is not None:
                return self._hold(t, reason, timeout=False)
            return self._start(t) if step in self.confirmed else []
        # ACTIVE
        reason = self._first_failure(self._keep(step), tel, t)
        if reason is not None:
            return self._hold(t, reason, timeout=False)
        if self._done(step, tel):
            self.done_t[step] = t
            self._event(t, f'{step}: done in {t - self.step_t:.1f} s')
            actions = self._on_done(step)
            self.index += 1
            self.state, self.reason, self.step_t = WAITING, '', t
            if self.complete:
                self._event(t, 'sequence complete: the rover is on the surface')
            return actions
        if t - self.step_t > self.p.timeout_s[step]:
            return self._hold(t, f'timeout after {self.p.timeout_s[step]:.0f} s: '
                                 f'{self._progress(step, tel)}', timeout=True)
        return []

    # ---- steps -------------------------------------------------------------------------
    def _not_before(self, step: str) -> float:
        return self.landing_t + (self.p.release_after_landing_s if step == 'release' else 0.0)

    def _entry(self, step: str) -> list[Check]:
        power, health = self._power, self._rover_health
        return {'checkout': [power, health], 'survey': [power, health],
                'deploy_ramp': [power, health, self._ground_clear],
                'inspect': [power, health, self._ramp_down],
                'release': [power, health, self._ramp_down, self._egress_clear],
                'drive_off': [health, self._ramp_down, self._released],
                'park': [health, self._released]}[step]

    def _keep(self, step: str) -> list[Check]:
        return {'checkout': [], 'survey': [self._power, self._rover_health],
                'deploy_ramp': [self._power],
                'inspect': [self._power],
                'release': [self._power],
                'drive_off': [self._rover_health, self._rover_heard],
                'park': [self._rover_health, self._rover_heard]}[step]

    def _start(self, t: float) -> list[Action]:
        step = self.step
        self._enter(ACTIVE, t, 'running')
        self.step_t = t
        if step == 'deploy_ramp':
            return [Action('ramp', (self.p.ramp_deploy_rad,))]
        if step == 'release':
            return [Action('release')]
        if step == 'drive_off':
            return [Action('gate', (False,)), Action('goal', (self.p.egress_distance_m, 0.0))]
        if step == 'park':
            return [Action('gate', (True,)), Action('goal', self.p.park_xy)]
        return []

    def _done(self, step: str, tel: Telemetry) -> bool:
        if step == 'checkout':
            return True
        if step == 'survey':
            return (tel.zone is not None and tel.zone[0] >= self.p.zone_min_observed)
        if step == 'inspect':
            return (tel.egress_zone is not None
                    and tel.egress_zone[0] >= self.p.zone_min_observed)
        if step == 'deploy_ramp':
            return self._ramp_down(tel, 0.0) is None and abs(tel.ramp_speed) < self.p.ramp_still_rad_s
        if step == 'release':
            return tel.released
        if tel.rover_xy is None:
            return False
        if step == 'drive_off':
            # Off the ramp is a line across x, not a point: a rover that slid aside on the
            # ramp (it holds its heading there, docs/drive.md) is off it all the same.
            return tel.rover_xy[0] >= self.p.egress_distance_m - self.p.arrive_tolerance_m
        return math.dist(tel.rover_xy, self.p.park_xy) <= self.p.arrive_tolerance_m

    def _on_done(self, step: str) -> list[Action]:
        return [Action('gate', (True,))] if step == 'drive_off' else []

    def _safe(self, step: str) -> list[Action]:
        """What holding this step means: a rover on the move stops."""
        return [Action('stop')] if step in ('drive_off', 'park') else []

    def _progress(self, step: str, tel: Telemetry) -> str:
        if step in ('survey', 'inspect'):
            zone = tel.zone if step == 'survey' else tel.egress_zone
            return ('no hazard map of the zone yet' if zone is None else
                    f'{100 * zone[0]:.0f} % of the zone observed, '
                    f'{100 * self.p.zone_min_observed:.0f} % needed')
        if step == 'deploy_ramp':
            return f'ramp at {tel.ramp_angle} rad, moving {tel.ramp_speed:.3f} rad/s'
        if step == 'release':
            return 'no release confirmation'
        if step in ('drive_off', 'park'):
            return f'rover at {tel.rover_xy}'
        return step

    # ---- checks ------------------------------------------------------------------------
    def _power(self, tel: Telemetry, t: float) -> str | None:
        if tel.battery_soc is None or t - tel.battery_t > self.p.telemetry_stale_s:
            return 'power: no battery telemetry'
        if tel.battery_soc < self.p.min_battery_soc:
            return (f'power: battery at {100 * tel.battery_soc:.0f} %, '
                    f'{100 * self.p.min_battery_soc:.0f} % needed')
        return None

    def _rover_health(self, tel: Telemetry, t: float) -> str | None:
        for w in WHEEL_IDS:
            state, heard = tel.wheels.get(w, ('UNKNOWN', -math.inf))
            if t - heard > self.p.rover_silence_s:
                return f'rover health: wheel {w} not heard'
            if state != 'ENABLED':
                return f'rover health: wheel {w} is {state}'
        return None

    def _rover_heard(self, tel: Telemetry, t: float) -> str | None:
        if tel.rover_xy is None or t - tel.rover_t > self.p.telemetry_stale_s:
            return 'rover odometry not heard'
        return None

    def _ground_clear(self, tel: Telemetry, t: float) -> str | None:
        return self._zone_clear(tel.zone, 'ground beyond the ramp')

    def _egress_clear(self, tel: Telemetry, t: float) -> str | None:
        return self._zone_clear(tel.egress_zone, 'ground beyond the ramp (full width)')

    def _zone_clear(self, zone, what: str) -> str | None:
        if zone is None:
            return f'{what}: not surveyed'
        seen, hazards = zone
        if seen < self.p.zone_min_observed:
            return f'{what}: only {100 * seen:.0f} % observed'
        if hazards:
            return f'{what}: {hazards} untraversable cells'
        return None

    def _ramp_down(self, tel: Telemetry, t: float) -> str | None:
        if tel.ramp_angle is None:
            return 'ramp: no joint telemetry'
        if not (self.p.ramp_rest_min_rad <= tel.ramp_angle <= self.p.ramp_rest_max_rad):
            return f'ramp at {tel.ramp_angle:.3f} rad, not resting on the ground'
        return None

    def _released(self, tel: Telemetry, t: float) -> str | None:
        return None if tel.released else 'rover still held down'

    # ---- state -------------------------------------------------------------------------
    def _first_failure(self, checks: list[Check], tel: Telemetry, t: float) -> str | None:
        for check in checks:
            reason = check(tel, t)
            if reason is not None:
                return reason
        return None

    def _wait(self, t: float, until: float) -> list[Action]:
        reason = f'timeline: not before landing + {until - self.landing_t:.0f} s'
        if (self.state, self.reason) != (WAITING, reason):
            self._enter(WAITING, t, reason)
        return []

    def _hold(self, t: float, reason: str, timeout: bool) -> list[Action]:
        was = self.state
        self.hold_by_timeout = timeout
        if (was, self.reason) == (HOLD, reason):
            return []
        self._enter(HOLD, t, reason)
        return self._safe(self.step) if was != HOLD else []

    def _enter(self, state: str, t: float, reason: str) -> None:
        self.state, self.reason = state, reason
        self._event(t, f'{self.step}: {state.lower()}: {reason}')

    def _event(self, t: float, text: str) -> None:
        self.events.append(Event(t, self.step if self.index < len(STEPS) else 'complete', text))


def zone_status(cost: np.ndarray, origin: tuple[float, float], resolution: float,
                start_m: float, length_m: float, half_width_m: float,
                heading: float = 0.0) -> tuple[float, int]:
    """Return (share of the zone's cells observed, untraversable cells) of a hazard map.

    The zone is the rectangle ahead of the odom origin along heading, from start_m
    to start_m + length_m, half_width_m to each side (the ground the rover drives
    onto off the ramp's foot).
    """
    h, w = cost.shape
    xs = origin[0] + (np.arange(w) + 0.5) * resolution
    ys = origin[1] + (np.arange(h) + 0.5) * resolution
    gx, gy = np.meshgrid(xs, ys)
    along = gx * math.cos(heading) + gy * math.sin(heading)
    across = -gx * math.sin(heading) + gy * math.cos(heading)
    inside = (along >= start_m) & (along <= start_m + length_m) & (np.abs(across) <= half_width_m)
    n = int(inside.sum())
    if n == 0:
        raise ValueError('the survey zone lies outside the hazard map')
    cells = cost[inside]
    return float((cells >= 0).sum()) / n, int((cells >= UNTRAVERSABLE).sum())
