"""A wheel's velocity loop: PI on encoder speed, torque out. Pure Python."""
from __future__ import annotations

import math


# breakaway's boost is taken back once the wheel runs this share faster than asked
OVERRUN = 0.1
# a wheel held again this soon (s) after breaking away is still on the same obstacle:
# no second delay
RECLIMB_S = 1.0


class VelocityLoop:
    """PI controller with a clamped integral (anti-windup); time from the readings' stamps.

    No friction feedforward: measured, it made the rover overshoot its top
    speed by 5 % at the end of the acceleration ramp.

    Breakaway: once the wheel has been held (asked to turn and not turning, as
    its unit judges from the Hall sensors) while the PI already pushes with
    breakaway_from (N m) or more, for breakaway_delay (s), the integral climbs
    towards the limit at breakaway_rate (N m/s) at least, so that a wheel
    pressed against a step or a rock it can climb gets the torque to climb it
    within a fraction of a second, and a seized one reaches the driver's limit,
    where its unit calls it a stall. Without it the integral winds up at ki x
    error: 4.4 N m/s at top speed, and a wheel climbing a 20 cm step needs up
    to 18 N m (measured). breakaway_from leaves a wheel starting from rest to
    break its gear friction (0.8 N m) on the PI alone: without it the start of
    a drive, the wheels still for 0.3 s as the setpoint ramped, lurched to
    0.059-0.075 m/s, over the 0.0556 limit. A wheel held again within RECLIMB_S
    of breaking away pushes at once. What breakaway added is taken back at the
    same rate once the wheel turns faster than asked (it is free: the lurch
    off a step).
    """

    def __init__(self, kp: float, ki: float, integral_limit: float,
                 breakaway_rate: float = 0.0, breakaway_delay: float = 0.0,
                 breakaway_from: float = 0.0):
        values = (kp, ki, integral_limit, breakaway_rate, breakaway_delay, breakaway_from)
        if not all(math.isfinite(v) and v >= 0.0 for v in values):
            raise ValueError('velocity loop gains, integral limit and breakaway rate, delay '
                             f'and threshold must be finite and >= 0: {values}')
        self.kp, self.ki, self.integral_limit = kp, ki, integral_limit
        self.breakaway_rate, self.breakaway_delay = breakaway_rate, breakaway_delay
        self.breakaway_from = breakaway_from
        self.integral = 0.0
        self.boost = 0.0                  # what breakaway added to the integral (signed)
        self._held_since: float | None = None
        self._broke_away_t: float | None = None
        self._last_t: float | None = None

    def reset(self) -> None:
        self.integral = 0.0
        self.boost = 0.0
        self._held_since = None
        self._broke_away_t = None
        self._last_t = None

    def update(self, target: float, measured: float, t: float, held: bool = False) -> float:
        """Return the torque command (N m); a non-finite reading commands zero torque.

        held: the wheel is asked to turn and does not (breakaway, above).
        """
        if not math.isfinite(measured):
            self.reset()
            return 0.0
        dt = 0.0 if self._last_t is None else max(0.0, t - self._last_t)
        self._last_t = t
        error = target - measured
        step = self.ki * error * dt
        pushing = math.copysign(1.0, target) * (self.kp * error + self.integral)
        held = held and target != 0.0 and pushing >= self.breakaway_from
        if not held:
            self._held_since = None
        elif self._held_since is None:
            self._held_since = t
        extra = 0.0
        climbing = self._broke_away_t is not None and t - self._broke_away_t <= RECLIMB_S
        if held and (climbing or t - self._held_since >= self.breakaway_delay - 1e-9):
            self._broke_away_t = t
            push = math.copysign(self.breakaway_rate * dt, target)
            extra = max(push - step, 0.0) if target > 0 else min(push - step, 0.0)
        elif self.boost != 0.0 and target * error < 0.0 and abs(error) > OVERRUN * abs(target):
            # turning faster than asked: take back what breakaway added
            back = min(abs(self.boost), self.breakaway_rate * dt)
            extra = -math.copysign(back, self.boost)
        before = self.integral
        self.integral = min(max(self.integral + step + extra, -self.integral_limit),
                            self.integral_limit)
        if extra:
            added = extra
            if held:   # what the push added, if anything, past the PI's own step and the clamp
                added = math.copysign(max(0.0, abs(self.integral - before) - abs(step)), extra)
            self.boost = math.copysign(min(abs(self.boost + added), abs(self.integral)),
                                       self.boost + added)
        if target == 0.0:
            self.boost = 0.0
        return self.kp * error + self.integral
