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

    def halt(self) -> None:
        """The motion was refused downstream (the hazard gate): ramp on from rest."""
        self.output = (0.0, 0.0)

    def update(self, t: float, dt: float) -> tuple[float, float]:
        """Advance the ramp by dt; return the twist to drive now (zero target after a timeout)."""
        if self.timed_out(t):
            self.target = (0.0, 0.0)
        lim = self.limits
        (v, w), (tv, tw) = self.output, self.target
        # Both axes move together along the straight line to the target, each within its
        # own acceleration limit, so the rover starts (and stops) on the commanded arc
        # itself. Ramping each axis on its own would start on a tighter arc than commanded
        # (omega/v = max_yaw_accel/max_accel from rest), one the hazard gate never approved.
        dv, dw = tv - v, tw - w
        f = 1.0
        if abs(dv) > 1e-12:
            f = min(f, lim.max_accel * dt / abs(dv))
        if abs(dw) > 1e-12:
            f = min(f, lim.max_yaw_accel * dt / abs(dw))
        self.output = (tv, tw) if f >= 1.0 else (v + f * dv, w + f * dw)
        return self.output
