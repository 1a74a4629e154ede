"""What falls due at a step, in sim time: the sensors' outputs by their rates, and wheel
faults set for a later time.

Pure, no rclpy: sim_node.py asks before it publishes and before it steps.
"""
from __future__ import annotations

from typing import Any

from chang_e_rover.robot_description import WHEEL_IDS
from chang_e_rover.sim.world import World

SAME_INSTANT_S = 1e-9       # sim times this close count as one (float sums of periods)


class RateSchedule:
    """When each periodic output is next due: one is due at a step once a period
    (1 / its rate) has passed since it last went out; the first at the first step."""

    def __init__(self):
        self._next: dict[str, float] = {}

    def due(self, name: str, t: float, rate_hz: float) -> bool:
        """Whether output name goes out at sim time t; if so, it is next due a period on."""
        if t + SAME_INSTANT_S < self._next.get(name, 0.0):
            return False
        self._next[name] = t + 1.0 / rate_hz
        return True


class WheelFaults:
    """One world's wheel faults as /sim's parameters set them: fault.wheel_<id> injected
    at once, or held until fault_at_s.wheel_<id> of sim time while that is ahead."""

    def __init__(self, world: World, params: dict[str, Any]):
        self.world, self.params = world, params
        self.pending: dict[str, tuple[str, float]] = {}
        for wheel in WHEEL_IDS:
            self.set(wheel, params[f'fault.wheel_{wheel}'])

    def set(self, wheel: str, kind: str) -> float:
        """Inject fault kind on wheel now, or hold it until its time (replacing one held);
        return the sim time it takes effect."""
        at = float(self.params[f'fault_at_s.wheel_{wheel}'])
        if at > self.world.time + SAME_INSTANT_S:
            self.pending[wheel] = (kind, at)
            return at
        self.pending.pop(wheel, None)
        self.world.set_fault(wheel, kind)
        return self.world.time

    def inject_due(self) -> list[tuple[str, str]]:
        """Inject the held faults whose time has come; return them as (wheel, kind)."""
        due = [(wheel, kind) for wheel, (kind, at) in self.pending.items()
               if self.world.time + SAME_INSTANT_S >= at]
        for wheel, kind in due:
            del self.pending[wheel]
            self.world.set_fault(wheel, kind)
        return due
