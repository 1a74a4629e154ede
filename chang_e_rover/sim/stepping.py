"""When the simulator may step the next control period: the lock-step loop has answered
and real-time pacing allows.

Pure, no rclpy: sim_node.py asks at every tick and steps the world while the answer is
yes. Both rules read the wall clock: the loop's watchdog, and pacing, which only ever
delays a step and decides nothing in the loop.
"""
from __future__ import annotations

import time
from typing import Callable

from chang_e_rover.sim.lockstep import Lockstep


class Stepping:
    """The go-ahead for one world's steps, from its first inputs on."""

    def __init__(self, lockstep: Lockstep, period_s: float, sim_t: float,
                 clock: Callable[[], float] = time.monotonic):
        self.lockstep = lockstep
        self.period_ns = round(period_s * 1e9)
        self.clock = clock
        self.started = False        # the first inputs are out
        self.pace_from(sim_t)

    def pace_from(self, sim_t: float) -> None:
        """Pace from now on: sim time sim_t is the wall clock's now."""
        self._wall0, self._sim0 = self.clock(), sim_t

    def startable(self) -> bool:
        """The first inputs may go out: every node expected at start is on the graph.
        Raises LockstepStalled past the watchdog."""
        return self.lockstep.startable(self.clock())

    def start(self, sim_t: float) -> None:
        """The first inputs went out at sim_t; pacing counts from them."""
        self.started = True
        self.pace_from(sim_t)

    def may_step(self, sim_t: float, real_time_factor: float) -> bool:
        """The step from sim_t may be taken: not ahead of the wall clock (with a
        real_time_factor > 0) and answered by the loop. Raises LockstepStalled past the
        watchdog."""
        rtf = real_time_factor
        if rtf > 0 and (sim_t - self._sim0) / rtf > self.clock() - self._wall0:
            return False
        now_ns = round(sim_t * 1e9)
        return self.lockstep.ready(now_ns, now_ns + self.period_ns, self.clock())

    def free_running(self, real_time_factor: float) -> bool:
        """A wall timer must tick the simulation: pacing holds it back, or no node that
        answers every step is in the loop to drive it."""
        return (real_time_factor > 0
                or not any(c.present for c in self.lockstep.every_step.values()))
