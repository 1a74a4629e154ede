"""Rocker-bogie drive kinematics: body twist to six wheel speeds and four corner angles.

Pure Python and numpy. Geometry comes from the URDF (robot_description); no
hand-tuned scale factors: each wheel's contact point moves with the body.
"""
from __future__ import annotations

from dataclasses import dataclass
import math

import numpy as np

from chang_e_rover.robot_description import RoverGeometry, STEERED_IDS, WHEEL_IDS


@dataclass(frozen=True)
class WheelCommand:
    speed_rad_s: dict[str, float]     # wheel id -> wheel angular speed (+ forward)
    steer_rad: dict[str, float]       # steered id -> corner angle (+ to the left)
    scale: float                      # 1.0, or the factor applied to keep wheels in limits


def inverse(geometry: RoverGeometry, v: float, omega: float, wheel_speed_limit_m_s: float
            ) -> WheelCommand:
    """Return wheel speeds and steering angles for body velocity v (m/s) and yaw rate omega.

    Each wheel steers along the velocity of its contact point; an angle past 90 deg
    is mirrored with the wheel reversed. If any wheel would exceed its speed limit,
    the whole twist is scaled down, so the arc is kept and only its speed drops.
    """
    if not (math.isfinite(v) and math.isfinite(omega)):
        raise ValueError(f'twist must be finite, got v={v}, omega={omega}')
    speeds, angles = {}, {}
    for wid in WHEEL_IDS:
        x, y = geometry.wheel_xy[wid]
        vx, vy = v - omega * y, omega * x
        if wid in STEERED_IDS:
            speed = math.hypot(vx, vy)
            angle = math.atan2(vy, vx) if (vx or vy) else 0.0
            if angle > math.pi / 2:
                angle, speed = angle - math.pi, -speed
            elif angle < -math.pi / 2:
                angle, speed = angle + math.pi, -speed
            if abs(angle) > geometry.steer_limit:   # past the stop: the wheel scrubs a little
                angle = math.copysign(geometry.steer_limit, angle)
            angles[wid] = angle
        else:
            speed = vx   # the middle wheels cannot steer: x = 0 keeps vy = 0 there
        speeds[wid] = speed
    peak = max(abs(s) for s in speeds.values())
    scale = 1.0 if peak <= wheel_speed_limit_m_s else wheel_speed_limit_m_s / peak
    return WheelCommand({w: s * scale / geometry.wheel_radius for w, s in speeds.items()},
                        angles, scale)


def forward(geometry: RoverGeometry, wheel_speed_rad_s: dict[str, float],
            steer_rad: dict[str, float]) -> tuple[float, float]:
    """Least-squares body (v, omega) from the wheels given (ids missing are left out).

    Each wheel contributes its rolling velocity along its heading:
    s cos(a) = v - omega y and s sin(a) = omega x.
    """
    rows, rhs = [], []
    for wid, w in wheel_speed_rad_s.items():
        if not math.isfinite(w):
            continue
        x, y = geometry.wheel_xy[wid]
        a = steer_rad.get(wid, 0.0)
        s = w * geometry.wheel_radius
        rows.append((1.0, -y))
        rhs.append(s * math.cos(a))
        if wid in STEERED_IDS:
            rows.append((0.0, x))
            rhs.append(s * math.sin(a))
    if len(rows) < 2:
        raise ValueError('forward kinematics needs at least two usable wheel readings')
    solution, *_ = np.linalg.lstsq(np.array(rows), np.array(rhs), rcond=None)
    return float(solution[0]), float(solution[1])
