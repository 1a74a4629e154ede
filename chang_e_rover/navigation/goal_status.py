"""A goal drive's status as data: its state, how far it has to go, why it stopped. Pure Python.

The drive controller publishes it on rover/goal_status as a diagnostic_msgs
DiagnosticStatus whose key/value pairs are GoalStatus.to_values(); readers (the
relay, the mission) take it back with GoalStatus.from_values() and never parse
the text of other diagnostics (docs/interfaces.md, Goal status).
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields, replace
import enum
import math

STATUS_NAME = 'rover/goal_status'     # the DiagnosticStatus name, as the topic's
# A goal is named by its point (and the stamp of the message that set it): points this
# close are the same goal. Goals travel as float64 end to end, so any margin far below
# the goal tolerance (config/rover.yaml goal_tolerance_m) serves.
SAME_GOAL_M = 1e-3


class GoalState(enum.Enum):
    """Where a goal drive stands; the value is what goes on the wire."""
    NONE = 'NONE'                     # no goal has been set
    ACTIVE = 'ACTIVE'                 # being driven to
    HELD = 'HELD'                     # still the goal, the rover backing off (reason says why)
    REACHED = 'REACHED'               # within goal_tolerance_m of it
    REACHED_SHORT = 'REACHED_SHORT'   # ended held within goal_held_tolerance_m (short_by_m)
    FAILED = 'FAILED'                 # refused, or cancelled before arriving (reason says why)

    @property
    def under_way(self) -> bool:
        """The goal is being pursued: ACTIVE or HELD."""
        return self in (GoalState.ACTIVE, GoalState.HELD)

    @property
    def arrived(self) -> bool:
        """The drive ended at the goal: REACHED or REACHED_SHORT."""
        return self in (GoalState.REACHED, GoalState.REACHED_SHORT)


# diagnostic_msgs level names (DiagnosticStatus.OK, WARN, ERROR) by state
LEVELS = {GoalState.NONE: 'OK', GoalState.ACTIVE: 'OK', GoalState.HELD: 'WARN',
          GoalState.REACHED: 'OK', GoalState.REACHED_SHORT: 'WARN', GoalState.FAILED: 'ERROR'}
WITH_REASON = (GoalState.HELD, GoalState.FAILED)


class GoalStatusError(ValueError):
    """A goal status that is not well formed: says which key and what was expected."""


@dataclass(frozen=True)
class GoalStatus:
    """One goal's status. Metres in odom; stamp_ns is the header stamp of the goal message."""
    state: GoalState
    x_m: float = 0.0
    y_m: float = 0.0
    stamp_ns: int = 0
    distance_m: float = 0.0           # odometry to the goal, straight line, when published
    short_by_m: float = 0.0           # REACHED_SHORT: how far short it ended; else 0
    reason: str = ''                  # HELD, FAILED: why; else empty

    def __post_init__(self):
        if not isinstance(self.state, GoalState):
            raise GoalStatusError(f'state {self.state!r} is not a GoalState')
        for name in ('x_m', 'y_m', 'distance_m', 'short_by_m'):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) \
                    or not math.isfinite(value):
                raise GoalStatusError(f'{name} = {value!r}: a finite number expected')
        if self.distance_m < 0 or self.short_by_m < 0:
            raise GoalStatusError(f'distance_m {self.distance_m}, short_by_m '
                                  f'{self.short_by_m}: not negative expected')
        if self.short_by_m > 0 and self.state is not GoalState.REACHED_SHORT:
            raise GoalStatusError(f'short_by_m {self.short_by_m} with state '
                                  f'{self.state.value}: only REACHED_SHORT ends short')
        if isinstance(self.stamp_ns, bool) or not isinstance(self.stamp_ns, int):
            raise GoalStatusError(f'stamp_ns = {self.stamp_ns!r}: an int expected')
        if not isinstance(self.reason, str) or bool(self.reason) != (self.state in WITH_REASON):
            raise GoalStatusError(f'reason {self.reason!r} with state {self.state.value}: '
                                  'HELD and FAILED say why, the other states do not')

    @property
    def level(self) -> str:
        """The diagnostic_msgs level name for this state: OK, WARN or ERROR."""
        return LEVELS[self.state]

    @property
    def message(self) -> str:
        """One line for people (the DiagnosticStatus message); programs read the values."""
        if self.state is GoalState.NONE:
            return 'no goal'
        text = f'{self.state.value} ({self.x_m:.2f}, {self.y_m:.2f}), {self.distance_m:.2f} m off'
        return text + (f': {self.reason}' if self.reason else '')

    def is_for(self, x_m: float, y_m: float, stamp_ns: int | None = None) -> bool:
        """Whether this is the status of the goal at (x_m, y_m), set by a message stamped
        stamp_ns (None: any stamp)."""
        if self.state is GoalState.NONE:
            return False
        return math.hypot(self.x_m - x_m, self.y_m - y_m) <= SAME_GOAL_M and \
            (stamp_ns is None or stamp_ns == self.stamp_ns)

    def same_report(self, other: GoalStatus | None) -> bool:
        """Whether other says the same as this but for distance_m (which changes as the
        rover drives): a status is published at each change of anything else."""
        return other is not None and other == replace(self, distance_m=other.distance_m)

    def to_values(self) -> list[tuple[str, str]]:
        """The status as named key/value pairs; numbers in repr form, so they read back exactly."""
        return [('state', self.state.value), ('x_m', repr(float(self.x_m))),
                ('y_m', repr(float(self.y_m))), ('stamp_ns', str(self.stamp_ns)),
                ('distance_m', repr(float(self.distance_m))),
                ('short_by_m', repr(float(self.short_by_m))), ('reason', self.reason)]

    @classmethod
    def from_values(cls, values: Mapping[str, str] | Iterable[tuple[str, str]]) -> GoalStatus:
        """Read a status back from to_values() pairs (or a dict of them); keys not in
        to_values() are ignored. Raises GoalStatusError for an unknown state, a missing
        key or a value that is not what its key needs."""
        pairs = dict(values.items() if isinstance(values, Mapping) else values)
        missing = [f.name for f in fields(cls) if f.name not in pairs]
        if missing:
            raise GoalStatusError(f'goal status without {", ".join(missing)}')
        try:
            state = GoalState(pairs['state'])
        except ValueError:
            raise GoalStatusError(
                f'unknown goal state {pairs["state"]!r}: expected one of '
                f'{", ".join(s.value for s in GoalState)}') from None
        numbers = {}
        for name in ('x_m', 'y_m', 'distance_m', 'short_by_m'):
            try:
                numbers[name] = float(pairs[name])
            except ValueError:
                raise GoalStatusError(f'{name} = {pairs[name]!r}: a number expected') from None
        try:
            stamp_ns = int(pairs['stamp_ns'])
        except ValueError:
            raise GoalStatusError(
                f'stamp_ns = {pairs["stamp_ns"]!r}: an integer expected') from None
        return cls(state, stamp_ns=stamp_ns, reason=pairs['reason'], **numbers)


def state_of(status: GoalStatus | None, x_m: float, y_m: float,
             stamp_ns: int | None = None) -> GoalState:
    """The state status gives the goal at (x_m, y_m) (set by a message stamped stamp_ns;
    None: any); NONE when status is None or about another goal."""
    return status.state if status is not None and status.is_for(x_m, y_m, stamp_ns) \
        else GoalState.NONE
