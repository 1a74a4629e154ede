"""Restart policy for node processes in `bringup --processes`. Pure Python.

A node process that dies is reported and restarted after a back-off that
doubles each time; a node that dies more than max_restarts times within
window_s is given up on (reported, not restarted) so a crash loop cannot
starve the board.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True)
class RestartPolicy:
    max_restarts: int = 5
    window_s: float = 60.0
    backoff_s: float = 0.5
    backoff_max_s: float = 8.0


class RestartTracker:
    """Decides, for one node, whether and when to restart it after a death."""

    def __init__(self, policy: RestartPolicy):
        self.policy = policy
        self.deaths: deque[float] = deque()

    def on_death(self, t: float) -> float | None:
        """Record a death at time t; return the delay before restarting, or None to give up."""
        self.deaths.append(t)
        while self.deaths and t - self.deaths[0] > self.policy.window_s:
            self.deaths.popleft()
        if len(self.deaths) > self.policy.max_restarts:
            return None
        return min(self.policy.backoff_s * 2 ** (len(self.deaths) - 1), self.policy.backoff_max_s)
