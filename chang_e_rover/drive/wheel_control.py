"""A wheel's velocity loop: PI on encoder speed, torque out. Pure Python."""
from __future__ import annotations

import math


class VelocityLoop:
    """PI controller with a clamped integral (anti-windup); time from the readings' stamps.

    No friction feedforward: measured, it made the rover overshoot its top
    speed by 5 % at the end of the acceleration ramp.
    """

    def __init__(self, kp: float, ki: float, integral_limit: float):
        self.kp, self.ki, self.integral_limit = kp, ki, integral_limit
        self.integral = 0.0
        self._last_t: float | None = None

    def reset(self) -> None:
        self.integral = 0.0
        self._last_t = None

    def update(self, target: float, measured: float, t: float) -> float:
        """Return the torque command (N m); a non-finite reading commands zero torque."""
        if not math.isfinite(measured):
            self.reset()
            return 0.0
        dt = 0.0 if self._last_t is None else max(0.0, t - self._last_t)
        self._last_t = t
        error = target - measured
        self.integral = min(max(self.integral + self.ki * error * dt, -self.integral_limit),
                            self.integral_limit)
        return self.kp * error + self.integral
