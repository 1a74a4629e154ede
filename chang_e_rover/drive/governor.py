"""Command limits of the drive controller: refuse non-finite, clamp, ramp, time out. Pure Python."""
from __future__ import annotations

from dataclasses import dataclass
import math


@dataclass(frozen=True)
class Limits:
    max_speed: float          # m/s
    max_accel: float          # m/s^2
    max_yaw_rate: float       # rad/s
    max_yaw_accel: float      # rad/s^2
    timeout: float            # s without a command before stopping


class CommandRejected(ValueError):
    """A velocity command was refused; the last safe command stands."""


class Governor:
    """Holds the commanded twist within the rover's limits."""

    def __init__(self, limits: Limits):
        self.limits = limits
        self.target = (0.0, 0.0)
        self.output = (0.0, 0.0)
        self._last_command_t: float | None = None

    def command(self, v: float, omega: float, t: float) -> tuple[float, float]:
        """Take a new command at time t; raise CommandRejected for non-finite values."""
        if not (math.isfinite(v) and math.isfinite(omega)):
            raise CommandRejected(f'non-finite velocity command (linear.x={v}, angular.z={omega})')
        lim = self.limits
        self.target = (min(max(v, -lim.max_speed), lim.max_speed),
                       min(max(omega, -lim.max_yaw_rate), lim.max_yaw_rate))
        self._last_command_t = t
        return self.target

    def timed_out(self, t: float) -> bool:
        return self._last_command_t is None or t - self._last_command_t > self.limits.timeout

    def update(self, t: float, dt: float) -> tuple[float, float]:
        """Advance the ramp by dt; return the twist to drive now (zero target after a timeout)."""
        if self.timed_out(t):
            self.target = (0.0, 0.0)
        lim = self.limits
        v = _ramp(self.output[0], self.target[0], lim.max_accel * dt)
        w = _ramp(self.output[1], self.target[1], lim.max_yaw_accel * dt)
        self.output = (v, w)
        return self.output


def _ramp(current: float, target: float, step: float) -> float:
    return current + min(max(target - current, -step), step)
