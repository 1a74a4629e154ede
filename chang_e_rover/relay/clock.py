"""The time the ground link's timers run on: the wall clock, or the simulator's. Pure Python.

The link simulator, the relay's endpoint and the ground station each pace, delay and
time out on a LinkClock. On hardware (and standalone) it is the monotonic wall clock.
In simulation it follows a ROS clock with use_sim_time (any object with `now()`
returning rclpy Time), so a light time, a data rate or a retransmission timer lasts the
same simulated seconds however fast the simulation runs.

A thread waiting on sockets cannot also wait on /clock. In simulation it sleeps for the
wall time the deadline should take at the rate the clock has been seen to run, at most
`poll_s`, and then reads the clock again: paused or many times faster than real time,
it is never more than poll_s of wall time late.
"""
from __future__ import annotations

import math
import time

SIM_POLL_S = 0.05           # wall seconds between clock reads at most, while a deadline is pending
RATE_WINDOW_S = 0.5         # wall seconds over which the simulated clock's rate is measured


class LinkClock:
    """Seconds for the link's timers: monotonic wall time, or a ROS clock's (sim time)."""

    def __init__(self, ros_clock=None, poll_s: float = SIM_POLL_S):
        if not poll_s > 0:
            raise ValueError(f'poll_s must be > 0, got {poll_s}')
        self._ros_clock = ros_clock
        self.poll_s = poll_s
        self.rate = 1.0                             # clock seconds per wall second, measured
        self._mark: tuple[float, float] | None = None   # (wall, clock) the rate counts from

    @classmethod
    def of_node(cls, node) -> LinkClock:
        """The clock for a ROS node's link: its ROS clock with use_sim_time, else the wall."""
        sim = node.get_parameter('use_sim_time').value
        return cls(node.get_clock() if sim else None)

    @property
    def simulated(self) -> bool:
        return self._ros_clock is not None

    def follow(self, ros_clock) -> None:
        """Run on ros_clock from now on (a node's clock with use_sim_time)."""
        self._ros_clock = ros_clock

    def now(self) -> float:
        if self._ros_clock is None:
            return time.monotonic()
        t = self._ros_clock.now().nanoseconds * 1e-9
        wall = time.monotonic()
        if self._mark is None or t < self._mark[1]:
            self._mark = (wall, t)
        elif wall - self._mark[0] >= RATE_WINDOW_S:
            self.rate = (t - self._mark[1]) / (wall - self._mark[0])
            self._mark = (wall, t)
        return t

    def wait_s(self, until: float, idle_s: float = math.inf) -> float:
        """Wall seconds a select may block to wake by until (clock seconds), at most idle_s
        (wall seconds).

        On the wall clock that is the time left. On a simulated one it is the time left
        at the rate measured, at most poll_s: the rate may change (a pause, a burst).
        """
        left = max(0.0, until - self.now())
        if self.simulated:
            left = min(left / self.rate if self.rate > 0 else math.inf, self.poll_s)
        return min(left, idle_s)

    def sleep(self, seconds: float) -> None:
        """Let seconds of clock time pass (polling the clock in simulation)."""
        end = self.now() + seconds
        while (left := self.wait_s(end)) > 0:
            time.sleep(left)
