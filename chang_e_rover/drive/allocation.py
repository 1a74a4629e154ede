"""From the governed twist to wheel speeds and corner angles, around the wheels out. Pure Python.

The yaw trim on the gyro, the kinematic allocation (skid-steer when a corner is not
trusted) and the wait for the corners to settle. The wheel speed limit is the top speed
however many wheels are out (docs/drive.md, Reallocation).
"""
from __future__ import annotations

from chang_e_rover.drive.kinematics import inverse
from chang_e_rover.robot_description import RoverGeometry, STEERED_IDS, WHEEL_IDS


class Allocator:
    """Wheel setpoints (rad/s) and corner targets (rad) for a body twist."""

    def __init__(self, geometry: RoverGeometry, p: dict, top_speed: float):
        self.geometry, self.p, self.top_speed = geometry, p, top_speed
        self.yaw_integral = 0.0
        self.holding = False      # the wheels waited for the corners in the last allocation

    def yaw_trim(self, omega: float, v: float, dt: float, gyro: float | None) -> float:
        """The yaw rate for the wheel speeds: omega trimmed to the gyro.

        The trim acts on the wheel speeds only, as a differential: the corners keep the
        commanded arc, so the trim cannot start a steering manoeuvre of its own. Off
        while the wheels wait for the corners.
        """
        if self.holding:
            self.yaw_integral = 0.0
            return omega
        return self._yaw_loop(omega, v, dt, gyro)

    def _yaw_loop(self, omega: float, v: float, dt: float, gyro: float | None) -> float:
        """Hold the commanded yaw rate with the gyro: a dragged wheel must not turn the rover."""
        if gyro is None or (abs(v) < 1e-4 and abs(omega) < 1e-4):
            self.yaw_integral = 0.0
            return omega
        err = omega - gyro
        lim = self.p['yaw_integral_limit_rad_s']
        self.yaw_integral = max(-lim, min(lim, self.yaw_integral + self.p['yaw_ki'] * err * dt))
        correction = self.p['yaw_kp'] * err + self.yaw_integral
        correction = max(-lim, min(lim, correction))   # a trim, never a new manoeuvre
        cap = self.p['max_yaw_rate_rad_s']
        return max(-cap, min(cap, omega + correction))

    def allocate(self, v: float, omega: float, omega_wheels: float, healthy: list[str],
                 corners) -> tuple[dict[str, float], dict[str, float]]:
        """Return (wheel setpoints rad/s, corner targets rad) for the step.

        :param omega: the yaw rate the corners steer for; omega_wheels: the trimmed one the
            wheel speeds take. No wheel is set faster than the top speed.
        :param corners: the corner watch (monitors.CornerTrust): untrusted corners,
            measured angles, the targets sent last.
        """
        self.holding = False
        limit = self.top_speed
        if corners.untrusted:
            setpoints, steer = self._skid(v, omega_wheels, limit)
        else:
            steer = dict(inverse(self.geometry, v, omega, limit).steer_rad)
            if v == 0.0 and omega == 0.0:
                # Stopped (the gate refusing, a goal reached): the corners stay where they
                # are. Straightening them on every refused tick and back on the next kept
                # them swinging, and a corner that never settles is read as failed.
                steer = dict(corners.commanded)
            setpoints = dict(inverse(self.geometry, v, omega_wheels, limit).speed_rad_s)
            trusted = [w for w in STEERED_IDS if w not in corners.untrusted]
            error = max((abs(steer[w] - corners.measured[w]) for w in trusted), default=0.0)
            if error > self.p['steer_settle_rad']:   # corners settle before the wheels roll
                setpoints = {w: 0.0 for w in setpoints}
                self.holding = True
        for w in WHEEL_IDS:
            if w not in healthy:
                setpoints[w] = 0.0   # isolated: its unit is off or gone; the others carry on
        return setpoints, steer

    def _skid(self, v: float, omega: float, limit: float):
        """Corners straight, turning by left/right speed difference."""
        half = self.geometry.track / 2
        left, right = v - omega * half, v + omega * half
        peak = max(abs(left), abs(right), 1e-12)
        scale = min(1.0, limit / peak)
        r = self.geometry.wheel_radius
        setpoints = {w: (left if w[0] == 'l' else right) * scale / r for w in WHEEL_IDS}
        return setpoints, {w: 0.0 for w in STEERED_IDS}
