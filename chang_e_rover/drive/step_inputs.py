"""What a control step waits for in simulation, besides the stereo pairs. Pure Python.

The simulator sends each period's motor readings (one per wheel), IMU sample and
joint states stamped with the period's time, and each wheel unit answers each
reading with its status. The drive controller runs the step of the oldest period
whose six readings are in, once that period's IMU sample and joint states are in
too and every unit has answered the period before: each only while its writer
is on the graph, so a node that has left is not waited for (docs/simulator.md,
Time). The stereo pairs' outputs are drive/pairs_owed.py's.

An automatic reset asked at a step goes to its unit once the unit has answered
that step's reading, so it lands between the same two readings in every run; the
period's odometry waits until every reset asked is answered.
"""
from __future__ import annotations

from typing import Callable, Iterable


class StepInputs:
    """The readings, samples and answers each step waits for, by stamp (ns)."""

    def __init__(self, wheels: Iterable[str], streams: Iterable[str]):
        self.wheels = tuple(wheels)
        self._readings: dict[int, set[str]] = {}        # stamp -> wheels read
        self._heard = dict.fromkeys(streams, -1)        # stream -> newest stamp heard
        self.answered = dict.fromkeys(self.wheels, -1)  # wheel -> newest reading answered
        self.last_ns: int | None = None                 # the last step's stamp

    def reading(self, wheel: str, stamp_ns: int) -> bool:
        """A wheel's motor reading is in. Returns whether it is older than the last step:
        sim time started again (a rebuilt world)."""
        self._readings.setdefault(stamp_ns, set()).add(wheel)
        return self.last_ns is not None and stamp_ns < self.last_ns

    def heard(self, stream: str, stamp_ns: int) -> None:
        """A per-period sample is in (one writer's messages keep their order)."""
        self._heard[stream] = stamp_ns

    def answer(self, wheel: str, stamp_ns: int) -> None:
        """A wheel's unit answered its reading of stamp_ns."""
        self.answered[wheel] = max(self.answered[wheel], stamp_ns)

    def next_step(self, present: Callable[[str], bool]) -> int | None:
        """The stamp of the step that may run, or None. present(name): whether the writer
        of a stream, or a wheel's unit, is on the graph."""
        full = [s for s, read in self._readings.items() if len(read) == len(self.wheels)]
        if not full:
            return None
        stamp_ns = min(full)
        if any(heard < stamp_ns for stream, heard in self._heard.items() if present(stream)):
            return None
        if self.last_ns is not None and any(self.answered[w] < self.last_ns
                                            for w in self.wheels if present(w)):
            return None
        return stamp_ns

    def step(self, stamp_ns: int) -> None:
        """The step of stamp_ns runs: its readings and any older are done with."""
        for old in [s for s in self._readings if s <= stamp_ns]:
            del self._readings[old]
        self.last_ns = stamp_ns


class ResetsOwed:
    """Automatic resets asked at a step, sent once their unit has answered it, and the
    odometry held until every reset asked is answered (or dropped, its unit gone)."""

    def __init__(self):
        self._due: list[tuple[str, int]] = []     # (wheel, step ns) not yet sent
        self.open = 0                              # asked and not yet answered
        self._odometry_held = False

    def ask(self, wheel: str, step_ns: int) -> None:
        self._due.append((wheel, step_ns))
        self.open += 1

    def to_send(self, answered: dict[str, int]) -> list[str]:
        """Take out the wheels whose reset may go now: their unit has answered the step."""
        due = [(w, ns) for w, ns in self._due if answered[w] >= ns]
        self._due = [r for r in self._due if r not in due]
        return [w for w, _ in due]

    def drop_gone(self, present: Callable[[str], bool]) -> list[tuple[str, int]]:
        """Take out the resets whose unit left the graph before answering; each counts as
        answered (answered() is called for it by the caller)."""
        gone = [(w, ns) for w, ns in self._due if not present(w)]
        self._due = [r for r in self._due if r not in gone]
        return gone

    def hold_odometry(self) -> bool:
        """Whether the step's odometry waits for resets still open."""
        self._odometry_held = self._odometry_held or self.open > 0
        return self.open > 0

    def answered(self) -> bool:
        """A reset was answered (or dropped). Returns whether the held odometry goes now."""
        self.open = max(0, self.open - 1)
        if self.open == 0 and self._odometry_held:
            self._odometry_held = False
            return True
        return False
