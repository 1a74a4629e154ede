"""Planar dead reckoning from body velocity and yaw rate. Pure Python."""
from __future__ import annotations

import math


class Odometry2D:
    """Integrates (v, yaw rate) with the midpoint heading; pose in the odom frame."""

    def __init__(self) -> None:
        self.x = self.y = self.yaw = 0.0
        self.distance = 0.0

    def set_pose(self, x: float, y: float, yaw: float) -> None:
        """Place the frame: the pose the odometry starts from (as the ground knows it)."""
        if not (math.isfinite(x) and math.isfinite(y) and math.isfinite(yaw)):
            raise ValueError(f'pose ({x}, {y}, {yaw}) is not finite')
        self.x, self.y, self.yaw = x, y, math.atan2(math.sin(yaw), math.cos(yaw))

    def update(self, v: float, yaw_rate: float, dt: float) -> None:
        mid = self.yaw + yaw_rate * dt / 2
        self.x += v * dt * math.cos(mid)
        self.y += v * dt * math.sin(mid)
        self.yaw = math.atan2(math.sin(self.yaw + yaw_rate * dt), math.cos(self.yaw + yaw_rate * dt))
        self.distance += abs(v) * dt
