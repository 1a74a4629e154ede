"""The rover's frame tree: URDF joint origins and joint positions to parent -> child transforms.

Pure Python and numpy: the live node feeds it /rover/joint_states and /rover/odom.
"""
from __future__ import annotations

from dataclasses import dataclass
import math
from typing import Iterable

import numpy as np
from transforms3d.quaternions import mat2quat

from chang_e_rover.robot_description import axis_angle_matrix, Joint, origin_matrix, Robot

MOVING = ('revolute', 'continuous', 'prismatic')


@dataclass(frozen=True)
class Transform:
    """The pose of child in parent: a point p in child is rotation * p + translation in parent."""

    parent: str
    child: str
    translation: tuple[float, float, float]         # m
    rotation: tuple[float, float, float, float]     # unit quaternion x, y, z, w


def quaternion(rotation: np.ndarray) -> tuple[float, float, float, float]:
    """Return the unit quaternion (x, y, z, w) of a 3x3 rotation matrix."""
    w, x, y, z = mat2quat(rotation)
    return (float(x), float(y), float(z), float(w))


def from_matrix(parent: str, child: str, pose: np.ndarray) -> Transform:
    return Transform(parent, child, tuple(float(v) for v in pose[:3, 3]), quaternion(pose[:3, :3]))


def joint_motion(joint: Joint, q: float) -> np.ndarray:
    """Return the 4x4 motion of joint at position q (rad, or m for a prismatic joint)."""
    if q and joint.kind in ('revolute', 'continuous'):
        return axis_angle_matrix(joint.axis, q)
    motion = np.eye(4)
    if q and joint.kind == 'prismatic':
        axis = np.asarray(joint.axis, dtype=float)
        motion[:3, 3] = axis / np.linalg.norm(axis) * q
    return motion


class FrameTree:
    """The last known position of each moving joint of a robot, and the transforms they give."""

    def __init__(self, robot: Robot):
        self.robot = robot
        self.positions: dict[str, float] = {}

    def update(self, names: Iterable[str], positions: Iterable[float]) -> None:
        """Take joint positions (as in a JointState); unknown joints and non-finite values
        (a sensor that cannot be read) are left out, so a joint keeps its last position."""
        for name, q in zip(names, positions):
            joint = self.robot.joints.get(name)
            if joint is not None and joint.kind in MOVING and math.isfinite(q):
                self.positions[name] = float(q)

    def position(self, joint: Joint) -> float:
        """Return a joint's position: as last heard, a mimic's from its leader, else 0."""
        if joint.name in self.positions or joint.mimic is None:
            return self.positions.get(joint.name, 0.0)
        leader, multiplier, offset = joint.mimic
        return multiplier * self.positions.get(leader, 0.0) + offset

    def transforms(self) -> list[Transform]:
        """Return parent -> child for every joint of the robot, at the positions known."""
        return [from_matrix(j.parent, j.child,
                            origin_matrix(j.xyz, j.rpy) @ joint_motion(j, self.position(j)))
                for j in self.robot.joints.values()]


def pose_transform(parent: str, child: str, position: tuple[float, float, float],
                   orientation: tuple[float, float, float, float]) -> Transform:
    """Return parent -> child from a pose (an odometry's): position m, orientation x y z w,
    normalised (a zero quaternion is refused: it is no rotation)."""
    q = np.asarray(orientation, dtype=float)
    norm = float(np.linalg.norm(q))
    if not (math.isfinite(norm) and norm > 0) or not all(math.isfinite(v) for v in position):
        raise ValueError(f'pose of {child} in {parent}: {position}, {tuple(q)} is not a pose')
    return Transform(parent, child, tuple(float(v) for v in position),
                     tuple(float(v) for v in q / norm))
