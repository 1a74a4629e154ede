"""The simulated IMU's errors: what a tactical-grade MEMS part adds to the true motion.

Pure numpy. Figures from config/sim.yaml (imu.*), their source in docs/simulator.md.
Every draw comes from the generator the world hands in (seeded), so a run repeats.
"""
from __future__ import annotations

import math

import numpy as np


class ImuModel:
    """Gyro and accelerometer errors: turn-on bias, bias random walk, white noise.

    Each axis of each sensor carries a bias drawn once at turn-on (the datasheet's bias
    repeatability, 1 sigma), which then walks as a random walk (the in-run bias
    instability), and white noise on every sample (angle and velocity random walk: a
    density, over the sample interval). The output is the average over the sample
    interval (the true motion's too: interval_means), so a sample's noise is
    density / sqrt(interval).
    """

    def __init__(self, p: dict, rng: np.random.Generator):
        """:param p: the imu.* section of the simulator's parameters, without the prefix."""
        self.rng = rng
        self.rate_hz = float(p['rate_hz'])
        self.gyro_noise = float(p['gyro_noise_rad_per_sqrt_s'])
        self.gyro_walk = float(p['gyro_bias_walk_rad_s_per_sqrt_s'])
        self.accel_noise = float(p['accel_noise_m_s_per_sqrt_s'])
        self.accel_walk = float(p['accel_bias_walk_m_s2_per_sqrt_s'])
        figures = (self.rate_hz, self.gyro_noise, self.gyro_walk, self.accel_noise,
                   self.accel_walk, float(p['gyro_bias_sigma_rad_s']),
                   float(p['accel_bias_sigma_m_s2']))
        if not (all(math.isfinite(v) and v >= 0.0 for v in figures) and self.rate_hz > 0):
            raise ValueError(f'imu: error figures must be finite and >= 0, rate_hz > 0: {p}')
        self.gyro_bias = rng.normal(0.0, float(p['gyro_bias_sigma_rad_s']), 3)
        self.accel_bias = rng.normal(0.0, float(p['accel_bias_sigma_m_s2']), 3)
        self._last_t: float | None = None

    @property
    def sample_sigma(self) -> tuple[float, float]:
        """Return the white noise of one sample at rate_hz: gyro (rad/s), accel (m/s^2)."""
        root = math.sqrt(self.rate_hz)
        return self.gyro_noise * root, self.accel_noise * root

    def measure(self, t: float, gyro: np.ndarray, accel: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray]:
        """Return the IMU's reading at t (s) of the true body rate (rad/s) and specific force.

        The biases walk over the time since the last reading (one sample period at first).
        """
        dt = 1.0 / self.rate_hz if self._last_t is None else max(0.0, t - self._last_t)
        self._last_t = t
        if dt > 0.0:
            root = math.sqrt(dt)
            self.gyro_bias = self.gyro_bias + self.rng.normal(0.0, self.gyro_walk * root, 3)
            self.accel_bias = self.accel_bias + self.rng.normal(0.0, self.accel_walk * root, 3)
        interval = max(dt, 1.0 / self.rate_hz)
        g_sigma = self.gyro_noise / math.sqrt(interval)
        a_sigma = self.accel_noise / math.sqrt(interval)
        return (np.asarray(gyro, float) + self.gyro_bias + self.rng.normal(0.0, g_sigma, 3),
                np.asarray(accel, float) + self.accel_bias + self.rng.normal(0.0, a_sigma, 3))


def rotation_vector(r: np.ndarray) -> np.ndarray:
    """Return the rotation vector (axis x angle, rad) of a rotation matrix (angle below pi)."""
    sine = 0.5 * np.array([r[2, 1] - r[1, 2], r[0, 2] - r[2, 0], r[1, 0] - r[0, 1]])
    angle = math.acos(max(-1.0, min(1.0, 0.5 * (float(np.trace(r)) - 1.0))))
    return sine * (angle / math.sin(angle)) if angle > 1e-9 else sine


def interval_means(r0: np.ndarray, v0: np.ndarray, r1: np.ndarray, v1: np.ndarray, dt: float,
                   gravity: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the mean body rate (rad/s) and specific force (m/s^2) over an interval of dt s.

    From the IMU's orientation (body to world) and its point's world velocity at the
    interval's two ends: the delta angle and delta velocity over the interval, over its
    length, which is what the part's decimation filter puts out (it averages its
    internal samples down to the output rate). A reading of the rate at one instant
    instead would alias every jolt shorter than the interval (a wheel dropping off a
    rock) into the attitude the flight software integrates.
    """
    rates = rotation_vector(r0.T @ r1) / dt
    force = 0.5 * (r0 + r1).T @ ((np.asarray(v1) - np.asarray(v0)) / dt - np.asarray(gravity))
    return rates, force
