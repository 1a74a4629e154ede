"""Point a pan/tilt camera at a target from the two vehicles' poses (transforms3d). Pure.

A mount is the pan joint (about its z), the tilt joint (about its y, + looks down)
and the optical frame (z forward) of a URDF. aim() returns the joint angles that
put the target on the optical axis: the optical centre moves with the angles when
the mount is not nodal (the rover's pancam sits 4 cm ahead of its tilt axis), so
it iterates from the pan joint's origin until the angles settle.
"""
from __future__ import annotations

from dataclasses import dataclass
import math

import numpy as np
from transforms3d.affines import compose
from transforms3d.euler import euler2mat
from transforms3d.quaternions import quat2mat

from chang_e_rover.robot_description import origin_matrix, Robot


class PointingError(ValueError):
    """The target cannot be put in view: out of the mount's reach, or a bad pose."""


def pose(xyz, quat_wxyz=(1.0, 0.0, 0.0, 0.0)) -> np.ndarray:
    """A 4x4 pose from a position and a (w, x, y, z) quaternion."""
    xyz, q = np.asarray(xyz, dtype=float), np.asarray(quat_wxyz, dtype=float)
    if xyz.shape != (3,) or q.shape != (4,) or not (np.isfinite(xyz).all() and np.isfinite(q).all()):
        raise PointingError(f'pose needs a finite position (3) and quaternion (4): {xyz}, {q}')
    n = np.linalg.norm(q)
    if n < 1e-9:
        raise PointingError('pose: zero quaternion')
    return compose(xyz, quat2mat(q / n), np.ones(3))


def planar_pose(x: float, y: float, z: float, yaw: float) -> np.ndarray:
    return compose([x, y, z], euler2mat(0.0, 0.0, yaw, 'sxyz'), np.ones(3))


@dataclass(frozen=True)
class Mount:
    robot: Robot
    pan_joint: str
    tilt_joint: str
    optical_frame: str

    def _pan_base(self) -> np.ndarray:
        j = self.robot.joints[self.pan_joint]
        return self.robot.transform_to_root(j.parent) @ origin_matrix(j.xyz, j.rpy)

    def optical_pose(self, pan: float, tilt: float) -> np.ndarray:
        """The optical frame in the robot's base at these angles."""
        return self.robot.transform_to_root(self.optical_frame,
                                            {self.pan_joint: pan, self.tilt_joint: tilt})

    def aim(self, base_in_world: np.ndarray, target_world, iterations: int = 6
            ) -> tuple[float, float]:
        """Return (pan, tilt) in rad that look from this mount at target_world."""
        target = np.asarray(target_world, dtype=float)
        if target.shape != (3,) or not np.isfinite(target).all():
            raise PointingError(f'target {target_world} is not a finite point')
        to_pan = np.linalg.inv(base_in_world @ self._pan_base())
        d = (to_pan @ np.append(target, 1.0))[:3]
        pan_base_inv = np.linalg.inv(self._pan_base())
        pan = tilt = 0.0
        for _ in range(iterations):
            c = (pan_base_inv @ self.optical_pose(pan, tilt)[:, 3])[:3]
            v = d - c
            if np.linalg.norm(v) < 0.05:
                raise PointingError('target at the camera')
            pan = math.atan2(v[1], v[0])
            tilt = math.atan2(-v[2], math.hypot(v[0], v[1]))
        for name, value in ((self.pan_joint, pan), (self.tilt_joint, tilt)):
            j = self.robot.joints[name]
            if j.kind == 'revolute' and not (j.lower <= value <= j.upper):
                raise PointingError(f'{name} = {value:.3f} rad is outside '
                                    f'[{j.lower}, {j.upper}]: target out of reach')
        return pan, tilt

    def off_axis(self, base_in_world: np.ndarray, target_world, pan: float, tilt: float) -> float:
        """Angle (rad) between the optical axis at (pan, tilt) and the line to the target."""
        cam = base_in_world @ self.optical_pose(pan, tilt)
        v = np.asarray(target_world, dtype=float) - cam[:3, 3]
        axis = cam[:3, 2]
        return math.acos(max(-1.0, min(1.0, float(axis @ v / np.linalg.norm(v)))))
