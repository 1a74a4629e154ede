"""Watches on the drive's own behaviour: stall retry, corner trust, the arc check. Pure Python.

Each watches one thing the wheel units cannot judge alone and reports what it found;
the drive controller (controller.py) acts on it.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
import math

from chang_e_rover.robot_description import RoverGeometry, STEERED_IDS, WHEEL_IDS

Note = Callable[[float, str, str], None]

# A steered corner closing on its target by at least this share of the servo's rate (URDF
# joint velocity limit), over the last STEER_SLEW_WINDOW_S, is following, however far off.
STEER_SLEW_SHARE = 0.3
STEER_SLEW_WINDOW_S = 1.0


@dataclass
class StallRecord:
    """One wheel's stall, as the retry sees it."""

    at: tuple[float, float] | None = None   # odometry where a stall latched, to retry
    t: float = 0.0                          # and when
    retry_t: float | None = None            # when its automatic reset was asked
    retry_held: bool = False                # ...because the rover was held
    seized: bool = False                    # stalled again after one: no more retries
    way: int = 0                            # its setpoint's sign when it latched
    waiting: bool = False                   # held: to be retried as the rover backs off
    retry_reversed: bool = False            # ...and it was, turned the other way


class StallRetry:
    """Reset a stalled wheel once the rover has moved on, or is held; never a seized one.

    A stall latched: a seized motor, or a wheel held against a rock it could climb. The
    wheel unit cannot tell them apart from its own signals, and must isolate the wheel
    within a second either way. The controller can: once the rover has moved
    stall_retry.after_m on without the wheel, a wheel held by terrain is off the
    obstacle and turns again, and a seized one stalls again at once on its probation.
    So it asks for one reset then, and none after a stall within stall_retry.watch_s of
    it (a seized wheel stays isolated until the ground resets it). A goal drive the
    rover cannot go on with (the wheels left too few to lift a wheel over the rock that
    stalled it, and stalling one after another as they push) asks for the reset after
    stall_retry.held_s instead, of every latched wheel at once (one rock held them all),
    and the navigator backs off as it does: a wheel held by terrain turns back off it
    with the others. A stall soon after such a reset is no verdict: the rover may be
    held still, and every wheel stalls under that load (Monte Carlo seed 23, k = 2: two
    healthy wheels judged seized so, and the rover left with two).

    A held wheel is retried once the rover backs off with it turned the other way (the
    drive's velocity reversed from the wheel's setpoint when it latched), not as the
    back-off begins: a rock holds a wheel one way, and then it turns back off it; a
    seized motor holds both ways, so a stall soon after that retry is the verdict. Where
    the drive does not back off, the held wheels are retried at once, pushing on
    (retry_waiting), and a stall after it is no verdict.
    """

    def __init__(self, p: dict, note: Note):
        self.p, self.note = p, note
        self.records = {w: StallRecord() for w in WHEEL_IDS}
        self._retried: list[str] = []

    def stalled(self, wheel: str, t: float, xy: tuple[float, float], way: int = 0) -> None:
        """A stall latched on wheel at t, the odometry at xy, its setpoint's sign way."""
        record, p = self.records[wheel], self.p
        if record.retry_t is not None and t - record.retry_t <= p['stall_retry.watch_s'] \
                and (not record.retry_held or record.retry_reversed):
            record.seized = True
            self.note(t, wheel, 'stalled again after its automatic reset' + (
                ', turned the other way as the rover backed off' if record.retry_reversed
                else '') + ': seized, isolated until the ground resets it')
        elif not record.seized and p['stall_retry.after_m'] > 0:
            record.at, record.t, record.way, record.waiting = xy, t, way, False

    def back_in_service(self, wheel: str) -> None:
        self.records[wheel].at = None

    def retries(self, t: float, xy: tuple[float, float], wheels: dict, driving: bool,
                v: float = 0.0) -> tuple[list[str], list[str]]:
        """Return the wheels to reset now, and the stalled wheels holding the rover ([] if
        it is not held, or is already held and waiting to back off).

        :param wheels: the wheel views (fault, lost); driving: a goal drive is pressing on
            (not backing off), the only drive a rover is found held in; v: the drive's
            velocity now (m/s), whose sign a held wheel waits to see reversed.
        """
        p = self.p
        latched = {w: r for w, r in self.records.items()
                   if r.at is not None and not wheels[w].lost and wheels[w].fault == 'stall'}
        # held: the first of them latched held_s ago and the rover has not moved on since
        held = driving and any(t - r.t >= p['stall_retry.held_s'] and not r.waiting and
                               math.dist(r.at, xy) < p['stall_retry.after_m']
                               for r in latched.values())
        way = (v > 0) - (v < 0)
        for w, record in latched.items():
            moved = math.dist(record.at, xy)
            if moved >= p['stall_retry.after_m']:
                self._retry(t, w, f'the rover has moved {moved:.2f} m on', held=False)
            elif held and not record.way:       # no way to turn it the other: retry now
                self._retry(t, w, f'the rover is held ({moved:.2f} m in {t - record.t:.0f} s)',
                            held=True)
            elif held:
                record.waiting = True
                self.note(t, w, f'the rover is held ({moved:.2f} m in {t - record.t:.0f} s): '
                                'reset when it backs off with the wheel turned the other way')
            elif record.waiting and record.way and way == -record.way:
                self._retry(t, w, 'the rover held, now backing off with the wheel turned '
                                  'the other way', held=True, reversed_=True)
        return self._take(), list(latched) if held else []

    def retry_waiting(self, t: float) -> list[str]:
        """The held wheels waiting for a back-off, reset now: the drive pushes on."""
        for w, record in self.records.items():
            if record.waiting and record.at is not None:
                self._retry(t, w, 'the rover is held and drives on', held=True)
        return self._take()

    def _take(self) -> list[str]:
        """The wheels retried since the last call."""
        out, self._retried = self._retried, []
        return out

    def _retry(self, t: float, wheel: str, why: str, held: bool,
               reversed_: bool = False) -> None:
        record = self.records[wheel]
        record.at, record.retry_t, record.waiting = None, t, False
        record.retry_held, record.retry_reversed = held, reversed_
        self._retried.append(wheel)
        self.note(t, wheel, f'automatic reset after a stall: {why}')


class CornerTrust:
    """Whether each steered corner follows its commanded angle; skid-steer without one.

    A corner off its target by steer_fault_rad for steer_fault_s is untrusted (the drive
    falls back to skid-steer). One on its way to a new target at a fair share of the
    servo's rate is following: a swing across the range takes longer than steer_fault_s.
    An untrusted corner that follows its (straight, in skid-steer) target again for as
    long is trusted again, once: a corner held by a rock or by the tyre's scrub for a few
    seconds is not a broken one; one stuck straight follows a straight target too, and is
    lost for good the second time.
    """

    def __init__(self, geometry: RoverGeometry, p: dict, note: Note):
        self.geometry, self.p, self.note = geometry, p, note
        self.measured = {w: 0.0 for w in STEERED_IDS}
        self.commanded = {w: 0.0 for w in STEERED_IDS}     # the targets sent last
        self.untrusted: set[str] = set()
        self.retrusted: set[str] = set()    # trusted again once; a second loss stays
        self._bad_since: dict[str, float | None] = {w: None for w in STEERED_IDS}
        self._good_since: dict[str, float | None] = {w: None for w in STEERED_IDS}
        self._history: dict[str, list[tuple[float, float]]] = {w: [] for w in STEERED_IDS}

    def measure(self, angles: dict[str, float]) -> None:
        """Measured corner angles (rad); ids that are not corners are ignored."""
        self.measured.update({w: a for w, a in angles.items() if w in self.measured})

    def command(self, steer: dict[str, float]) -> None:
        """The corner targets sent this step: the next check holds the corners to them."""
        self.commanded = dict(steer)

    def check(self, t: float) -> None:
        """Compare each corner with its last target; (un)trust it."""
        p = self.p
        for w in STEERED_IDS:
            target = self.commanded[w]
            measured = self.measured[w]
            history = self._history[w]
            history.append((t, measured))
            while len(history) > 2 and t - history[1][0] >= STEER_SLEW_WINDOW_S:
                history.pop(0)
            t0, m0 = history[0]
            slewing = t - t0 >= 0.5 * STEER_SLEW_WINDOW_S and (
                abs(target - m0) - abs(target - measured)) / (t - t0) >= \
                STEER_SLEW_SHARE * self.geometry.steer_rate
            bad = abs(target - measured) > p['steer_fault_rad'] and not slewing
            if not bad:
                self._bad_since[w] = None
                if w in self.untrusted and w not in self.retrusted:
                    if self._good_since[w] is None:
                        self._good_since[w] = t
                    elif t - self._good_since[w] > p['steer_fault_s']:
                        self.untrusted.discard(w)
                        self.retrusted.add(w)
                        self._good_since[w] = None
                        self.note(t, w, 'steering follows again: trusted')
            elif self._bad_since[w] is None:
                self._good_since[w] = None
                self._bad_since[w] = t
            elif t - self._bad_since[w] > p['steer_fault_s'] and w not in self.untrusted:
                self.untrusted.add(w)
                self.note(t, w, 'steering untrusted: skid-steer fallback')


class ArcCheck:
    """Whether the rover follows the steered arc it is driving, by the gyro.

    On an arc the yaw rate is the speed times the curvature, and the gyro measures it
    apart from the wheels: the share of the commanded yaw rate that the gyro sees
    (both low-passed over arc_check.tau_s), followed, bounds the share of the wheels'
    travel that is the rover's. A seized wheel caught on a small rock held the rover
    while the five others spun (Monte Carlo seed 7, k = 1: odometry ran 2 m ahead of a
    rover that had not moved, and pivoted about the wheel the wrong way). Straight
    drives and turns in place say nothing, nor do ticks while the wheels wait for the
    corners. held_since is when followed last fell under arc_check.min_ratio.
    """

    def __init__(self, p: dict, top_speed: float):
        self.p, self.top_speed = p, top_speed
        self.followed: float | None = None   # the ratio on a steered arc, else None
        self.held_since: float | None = None
        self._yaw_seen = 0.0
        self._yaw_asked = 0.0

    def update(self, t: float, dt: float, v: float, omega: float, gyro: float | None,
               holding: bool) -> None:
        """Take the step's commanded twist and the gyro's yaw rate (rad/s).

        :param holding: the wheels wait for the corners to settle this step.
        """
        p = self.p
        a = min(1.0, dt / p['arc_check.tau_s']) if dt > 0 else 0.0
        steered = (abs(v) > 0.2 * self.top_speed and not holding
                   and abs(omega) >= p['arc_check.min_curvature'] * abs(v))
        if not steered or gyro is None:
            self._yaw_seen = self._yaw_asked = 0.0
            self.followed, self.held_since = None, None
            return
        self._yaw_seen += a * (gyro - self._yaw_seen)
        self._yaw_asked += a * (omega - self._yaw_asked)
        if abs(self._yaw_asked) < 0.5 * p['arc_check.min_curvature'] * abs(v):
            return    # the filter is still rising
        self.followed = self._yaw_seen / self._yaw_asked
        if self.followed >= p['arc_check.min_ratio']:
            self.held_since = None
        elif self.held_since is None:
            self.held_since = t

    def slipping(self) -> bool:
        """The wheels turn more than the rover moves on this arc (under min_ratio)."""
        return self.followed is not None and self.followed < self.p['arc_check.min_ratio']

    def take_hold(self, t: float) -> float | None:
        """The ratio followed, if the rover has been held off its arc for arc_check.held_s;
        else None. Taking it starts the watch again."""
        if self.held_since is not None and t - self.held_since > self.p['arc_check.held_s']:
            self.held_since = None
            return self.followed
        return None
