"""The mission's time series for its report page (mission/html_report.py).

Pure Python (no rclpy): the mission node feeds plain values as they come (poses,
diagnostics values, phase changes, telecommands) in sim seconds, and the page reads
them back. Memory stays bounded: a sampled series keeps at most one sample per
`period_s` and at most `max_samples` (past that, every other sample is dropped and the
period doubled); an event log (state changes) keeps at most `max_events`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
import math

PERIOD_S = 1.0          # at most one sample per series per second of sim time
MAX_SAMPLES = 20_000    # per series: 5.5 h of sim time at PERIOD_S before thinning
MAX_EVENTS = 2_000      # per event log
WHEEL_PREFIX = 'rover/wheel_'
SEQUENCER = 'lander/sequencer'
RELAY = 'lander/relay'
WHEEL_KEYS = ('speed_rad_s', 'current_a', 'temperature_c')
RELAY_KEYS = ('queued_packets', 'queued_bytes', 'sent_packets', 'acks')


class Series:
    """Samples (t, values...) of one quantity, at most one per period_s, at most max_samples."""

    def __init__(self, columns: tuple[str, ...], period_s: float = PERIOD_S,
                 max_samples: int = MAX_SAMPLES):
        if not (math.isfinite(period_s) and period_s > 0) or max_samples < 2:
            raise ValueError(f'period_s must be finite and > 0 and max_samples >= 2, got '
                             f'{period_s}, {max_samples}')
        self.columns = columns
        self.period_s, self.max_samples = period_s, max_samples
        self.t: list[float] = []
        self.values: list[tuple[float, ...]] = []

    def add(self, t: float, *values: float) -> bool:
        """Keep a sample at sim time t unless the last is less than period_s old."""
        if len(values) != len(self.columns):
            raise ValueError(f'{len(self.columns)} values ({", ".join(self.columns)}) '
                             f'expected, got {len(values)}')
        if self.t and t - self.t[-1] < self.period_s:
            return False
        self.t.append(float(t))
        self.values.append(tuple(float(v) for v in values))
        if len(self.t) > self.max_samples:
            self.t, self.values = self.t[::2], self.values[::2]
            self.period_s *= 2
        return True

    def column(self, name: str) -> list[float]:
        i = self.columns.index(name)
        return [v[i] for v in self.values]

    def __len__(self) -> int:
        return len(self.t)


@dataclass
class Events:
    """State changes (t, fields...) in order; the first max_events, then a count of the rest."""
    max_events: int = MAX_EVENTS
    items: list[tuple] = field(default_factory=list)
    dropped: int = 0

    def add(self, t: float, *fields) -> None:
        if len(self.items) < self.max_events:
            self.items.append((float(t), *fields))
        else:
            self.dropped += 1

    def last(self) -> tuple | None:
        return self.items[-1] if self.items else None


class Timeline:
    """What the mission's report page draws, recorded in sim seconds as the mission runs."""

    def __init__(self, period_s: float = PERIOD_S, max_samples: int = MAX_SAMPLES,
                 max_events: int = MAX_EVENTS):
        self._series_args = (period_s, max_samples)
        self._max_events = max_events
        self.start_t: float | None = None        # the first phase change: the mission's start
        self.truth = Series(('x', 'y'), *self._series_args)      # ground truth, m
        self.odom = Series(('x', 'y'), *self._series_args)       # odometry, m
        self.wheels: dict[str, Series] = {}                      # id: WHEEL_KEYS
        self.wheel_states: dict[str, Events] = {}                # id: (t, state, fault)
        self.sequencer = Events(max_events)                      # (t, step, state, reason)
        self.relay = Series(RELAY_KEYS, *self._series_args)
        self.goodput = Series(('payload_bytes',), *self._series_args)   # on the ground
        self.phases = Events(max_events)                         # (t, phase, wall s)
        self.telecommands = Events(max_events)                   # (t, leg, name, seq, detail)
        self.tc_states = Events(max_events)                      # (t, leg, seq, state)
        self.goals = Events(max_events)                          # (t, x, y, leg): odom, m
        self.lander_xy: tuple[float, float] | None = None        # m
        self.rocks: dict[str, tuple[float, float]] = {}          # name: (x, y), m

    # ---- feeding ---------------------------------------------------------------------------
    def poses(self, t: float, truth: tuple[float, ...] | None,
              odom: tuple[float, ...] | None) -> None:
        """The rover's true and odometry position (x, y first, m) at sim time t."""
        if truth is not None:
            self.truth.add(t, truth[0], truth[1])
        if odom is not None:
            self.odom.add(t, odom[0], odom[1])

    def diagnostics(self, t: float, statuses: list[tuple[str, dict[str, str]]]) -> None:
        """Diagnostics statuses (name, key-values as published) heard at sim time t."""
        for name, values in statuses:
            if name.startswith(WHEEL_PREFIX):
                self._wheel(t, name[len(WHEEL_PREFIX):], values)
            elif name == SEQUENCER:
                now = (values.get('step', '?'), values.get('state', '?'),
                       values.get('reason', ''))
                last = self.sequencer.last()
                if last is None or last[1:] != now:
                    self.sequencer.add(t, *now)
            elif name == RELAY:
                numbers = [_number(values.get(k)) for k in RELAY_KEYS]
                self.relay.add(t, *numbers)

    def _wheel(self, t: float, wheel: str, values: dict[str, str]) -> None:
        series = self.wheels.get(wheel)
        if series is None:
            series = self.wheels[wheel] = Series(WHEEL_KEYS, *self._series_args)
            self.wheel_states[wheel] = Events(self._max_events)
        series.add(t, *(_number(values.get(k)) for k in WHEEL_KEYS))
        states = self.wheel_states[wheel]
        now = (values.get('state', '?'), values.get('fault', '?'))
        last = states.last()
        if last is None or last[1:] != now:
            states.add(t, *now)

    def phase(self, t: float, name: str, wall_t: float = math.nan) -> None:
        """The mission's phase at sim time t, wall time wall_t (monotonic s) (kept when it
        changes; the first is the start)."""
        last = self.phases.last()
        if last is None or last[1] != name:
            if self.start_t is None:
                self.start_t = float(t)
            self.phases.add(t, name, float(wall_t))

    def pace(self, t: float, wall_t: float) -> list[dict]:
        """Where the wall time went: per phase entered, in order, phase, sim_s, wall_s and
        real_time_factor (None for no wall time), the last phase ending at (t, wall_t)."""
        items = self.phases.items
        rows = []
        for (t0, phase, w0), (t1, _, w1) in zip(items, items[1:] + [(t, '', wall_t)]):
            sim, wall = t1 - t0, w1 - w0
            rows.append({'phase': phase, 'sim_s': sim, 'wall_s': wall,
                         'real_time_factor': sim / wall if wall > 0 else None})
        return rows

    def telecommand(self, t: float, leg: str, name: str, seq: int | None,
                    detail: str = '') -> None:
        """A telecommand sent from the ground at sim time t."""
        self.telecommands.add(t, leg, name, seq, detail)

    def ground(self, t: float, states: dict[str, str | None], payload_bytes: int | None) -> None:
        """How each leg's last telecommand stands (pending, completed, failed) and the payload
        bytes delivered on the ground so far, at sim time t."""
        for leg, state in states.items():
            sent = [e for e in self.telecommands.items if e[1] == leg]
            seq = sent[-1][3] if sent else None
            last = next((e for e in reversed(self.tc_states.items) if e[1] == leg), None)
            if state is not None and (last is None or last[2:] != (seq, state)):
                self.tc_states.add(t, leg, seq, state)
        if payload_bytes is not None:
            self.goodput.add(t, payload_bytes)

    def goal(self, t: float, x: float, y: float, leg: str) -> None:
        """A drive goal (odom, m) sent at sim time t for leg."""
        self.goals.add(t, x, y, leg)

    # ---- reading ---------------------------------------------------------------------------
    def since_start(self, t: float) -> float:
        """Sim seconds from the mission's start (the first phase recorded)."""
        return t - (self.start_t or 0.0)

    def rates(self, series: Series, column: str) -> tuple[list[float], list[float]]:
        """A counter's rate of change (per s) between consecutive samples, at their midpoints
        (s from the start); a counter that went back (a restart) gives no rate there."""
        ts, vs = series.t, series.column(column)
        mids, out = [], []
        for (t0, v0), (t1, v1) in zip(zip(ts, vs), zip(ts[1:], vs[1:])):
            if t1 > t0 and v1 >= v0 and math.isfinite(v0) and math.isfinite(v1):
                mids.append(self.since_start((t0 + t1) / 2))
                out.append((v1 - v0) / (t1 - t0))
        return mids, out


def _number(text: str | None) -> float:
    """A diagnostics value as a number; NaN when it is not one ('?', 'unknown', missing)."""
    try:
        return float(text)
    except (TypeError, ValueError):
        return math.nan

