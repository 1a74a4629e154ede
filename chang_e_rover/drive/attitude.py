"""The rover's own attitude from its IMU: roll and pitch, the gyro's bias. Pure Python.

The IMU gives body rates and specific force, no orientation (as a strapdown part
does). AttitudeEstimator keeps roll and pitch with a complementary filter: the
gyro's rates, bias-corrected, carry them from sample to sample, and the
accelerometer's gravity direction pulls them back over attitude.tilt_time_constant_s
(gravity is observable, so roll and pitch do not drift). The heading is not
observable from gravity: the odometry integrates heading_rate, the bias-corrected
rates levelled with the roll and pitch. The gyro's bias is estimated only while the
rover stands still (the drive says so: no motion commanded, no wheel turning) and
held otherwise; still is confirmed once it has lasted attitude.rest_settle_s and the
bias-corrected rates stay under attitude.rest_max_rate_rad_s.
"""
from __future__ import annotations

import math


def tilt_from_gravity(fx: float, fy: float, fz: float) -> tuple[float, float]:
    """Return roll and pitch (rad, ZYX as REP 103) of a body whose specific force is f."""
    return math.atan2(fy, fz), math.atan2(-fx, math.hypot(fy, fz))


def wrap(angle: float) -> float:
    return math.atan2(math.sin(angle), math.cos(angle))


class AttitudeEstimator:
    """Roll, pitch and the gyro's bias from IMU samples; see the module docstring.

    roll, pitch (rad); rates the last sample's bias-corrected body rates (rad/s);
    bias the gyro bias estimate (rad/s, per axis); rest_s how long the rover has
    stood still; calibrated_s the rest time the bias is averaged over (capped at
    attitude.bias_window_s); None of roll until the first sample.
    """

    def __init__(self, p: dict):
        """:param p: the drive_controller parameters (config/rover.yaml, attitude.*)."""
        self.tau = float(p['attitude.tilt_time_constant_s'])
        self.settle_s = float(p['attitude.rest_settle_s'])
        self.max_rate = float(p['attitude.rest_max_rate_rad_s'])
        self.window_s = float(p['attitude.bias_window_s'])
        self.max_gap_s = float(p['attitude.max_gap_s'])
        if not (self.tau > 0 and self.window_s > 0 and self.settle_s >= 0
                and self.max_rate > 0 and self.max_gap_s > 0):
            raise ValueError('attitude: time constant, window, gap and rate gate must be > 0, '
                             'settle time >= 0')
        self.roll: float | None = None
        self.pitch = 0.0
        self.bias = [0.0, 0.0, 0.0]
        self.rates = (0.0, 0.0, 0.0)
        self.rest_s = 0.0
        self.calibrated_s = 0.0
        self._last_t: float | None = None
        self._tilt_s = 0.0      # how long the tilt has been averaging gravity

    @property
    def stamp(self) -> float | None:
        """The time of the last sample taken (s), None before the first."""
        return self._last_t

    @property
    def heading_rate(self) -> float:
        """The heading's rate in the level frame (rad/s): (q sin roll + r cos roll) / cos pitch."""
        _, q, r = self.rates
        roll = self.roll or 0.0
        return (q * math.sin(roll) + r * math.cos(roll)) / max(0.1, math.cos(self.pitch))

    def update(self, t: float, gyro, accel, still: bool) -> bool:
        """Take one IMU sample at t (s): body rates (rad/s), specific force (m/s^2).

        :param still: the drive commands no motion and no wheel turns.
        Return False (and change nothing) for a sample that is not finite or not after
        the last one.
        """
        g = [float(v) for v in gyro]
        f = [float(v) for v in accel]
        if len(g) != 3 or len(f) != 3 or not all(math.isfinite(v) for v in (t, *g, *f)):
            return False
        if self._last_t is not None and t <= self._last_t:
            return False
        dt = 0.0 if self._last_t is None else t - self._last_t
        self._last_t = t
        rates = [g[i] - self.bias[i] for i in range(3)]
        if still and max(abs(v) for v in rates) <= self.max_rate and dt <= self.max_gap_s:
            self.rest_s += dt
        else:
            self.rest_s = 0.0
        resting = self.rest_s > self.settle_s
        if resting and self.rest_s - dt <= self.settle_s:
            self._tilt_s = 0.0      # a rest confirmed: the tilt is gravity's, averaged afresh
        if resting:
            # the running mean of the rest samples, over at most window_s: a longer rest
            # follows the bias's slow walk; a short one still counts for what it holds
            self.calibrated_s = min(self.window_s, self.calibrated_s + dt)
            k = dt / self.calibrated_s
            self.bias = [b + k * (gi - b) for b, gi in zip(self.bias, g)]
            rates = [g[i] - self.bias[i] for i in range(3)]
        self.rates = tuple(rates)
        roll_a, pitch_a = tilt_from_gravity(*f)
        if self.roll is None or dt > self.max_gap_s:
            self.roll, self.pitch = roll_a, pitch_a     # first sample: gravity alone
            self._tilt_s = 0.0
            return True
        self._tilt_s += dt
        p, q, r = rates
        sr, cr = math.sin(self.roll), math.cos(self.roll)
        roll = self.roll + (p + (q * sr + r * cr) * math.tan(self.pitch)) * dt
        pitch = self.pitch + (q * cr - r * sr) * dt
        # gravity's weight: the mean since the start (or since a rest began), then the
        # time constant; a start in motion (settling) is forgotten within it
        k = dt / min(self.tau + dt, self._tilt_s)
        self.roll = wrap(roll + k * wrap(roll_a - roll))
        self.pitch = pitch + k * (pitch_a - pitch)
        return True
