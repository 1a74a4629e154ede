"""A wheel unit's setpoints in simulation, judged on stamps. Pure Python.

The controller steps on the same motor readings as the unit, and stamps each
setpoint with the step. The unit answers a reading with the setpoints stamped
before it (a fast controller's setpoint of this period waits for the next),
and, while the controller is on the graph, only once the setpoint of its
previous reading is in: so the order in which the two arrive changes nothing.
"""
from __future__ import annotations

from collections import deque


class SetpointInbox:
    """Setpoints heard and not yet in effect, and whether a reading must wait."""

    def __init__(self):
        self._pending: deque[tuple[int, float | None]] = deque()   # (stamp ns, rad/s or None)
        self._heard_ns = -1                 # newest setpoint stamp heard
        self._last_reading_ns: int | None = None

    def heard(self, stamp_ns: int, value: float | None) -> None:
        """A setpoint of the controller's step at stamp_ns; None: no demand (isolated)."""
        self._heard_ns = max(self._heard_ns, stamp_ns)
        self._pending.append((stamp_ns, value))

    def waits(self, stamp_ns: int, controller_present: bool) -> bool:
        """Whether the reading at stamp_ns must wait for the setpoint of the one before."""
        if self._last_reading_ns is not None and stamp_ns < self._last_reading_ns:
            self.__init__()                 # sim time started again (a rebuilt world)
        return (controller_present and self._last_reading_ns is not None
                and self._heard_ns < self._last_reading_ns)

    def answer(self, stamp_ns: int) -> list[tuple[int, float]]:
        """The reading at stamp_ns is answered: the setpoints that take effect, oldest first."""
        self._last_reading_ns = stamp_ns
        out = []
        while self._pending and self._pending[0][0] < stamp_ns:
            at_ns, value = self._pending.popleft()
            if value is not None:
                out.append((at_ns, value))
        return out
