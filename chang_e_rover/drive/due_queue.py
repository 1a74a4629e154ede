"""Inputs held until the control step they are due at. Pure Python.

In simulation the drive controller hears a message at the step its stamp says
(a wheel's diagnostics the step after their stamp, a hazard map
hazard.map_latency_s after its stereo pair), not at the step in which it
happened to arrive: so a run gives the same answer however the machine
schedules the nodes.
"""
from __future__ import annotations

import heapq
import itertools
from typing import Callable

EPS_S = 1e-9    # a step's time and a due time computed from stamps may differ by rounding


class DueQueue:
    """Actions run at the first step at or after their due time: in due order, and in the
    order they were held where due times are equal."""

    def __init__(self):
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._order = itertools.count()

    def hold(self, due_s: float, action: Callable[[], None]) -> None:
        heapq.heappush(self._heap, (float(due_s), next(self._order), action))

    def due(self, t_s: float) -> list[Callable[[], None]]:
        """Take out the actions due at t_s, in the order they are to run."""
        out = []
        while self._heap and self._heap[0][0] <= t_s + EPS_S:
            out.append(heapq.heappop(self._heap)[2])
        return out

    def __len__(self) -> int:
        return len(self._heap)
