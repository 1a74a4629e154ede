"""The drive's odometry: gyro heading, wheel travel and visual odometry's steps. Pure Python.

Odometry2D integrates a planar pose; OdometryFusion feeds it the heading from the
gyro (bias-corrected and levelled by the attitude estimate, drive/attitude.py) and the
speed from the wheels least likely to slip; VisualSteps replaces the wheels'
count between camera frames by what the cameras measured.
"""
from __future__ import annotations

from collections import deque
import math

import numpy as np

from chang_e_rover.drive.kinematics import forward
from chang_e_rover.robot_description import RoverGeometry, rpy_matrix


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


# faults after which a wheel's encoder says nothing about the ground speed
NO_ODOMETRY = ('stall', 'encoder_dropout', 'node_lost')


def median(values: list[float]) -> float:
    """The median; of an even count, the mean of the middle two."""
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


class OdometryFusion:
    """The odometry: the gyro's heading, the wheels' travel, visual odometry's steps.

    pose is the Odometry2D integrated; gyro (body z rate, bias-corrected) and heading_rate
    (levelled), roll and pitch (the attitude estimate) and v_measured (the wheels' speed,
    m/s) are what it last took.
    """

    def __init__(self, geometry: RoverGeometry, p: dict):
        self.geometry, self.p = geometry, p
        self.pose = Odometry2D()
        self.gyro: float | None = None
        self.heading_rate: float | None = None
        self.pitch = self.roll = 0.0
        self.v_measured = 0.0
        self.visual = VisualSteps(p)

    def yaw_rate(self, gyro_z: float, gyro_x: float = 0.0, gyro_y: float = 0.0) -> None:
        """The IMU's body rates (rad/s): z for the yaw loop, all three for the heading.

        On tilted ground the body's z rate is not the heading's rate: the heading, in
        the level odom frame, turns at (y sin roll + z cos roll) / cos pitch, with roll
        and pitch from the attitude estimate (observable from gravity, drift-free).
        """
        if not (math.isfinite(gyro_z) and math.isfinite(gyro_x) and math.isfinite(gyro_y)):
            return
        self.gyro = gyro_z
        self.heading_rate = (gyro_y * math.sin(self.roll) + gyro_z * math.cos(self.roll)) / \
            max(0.1, math.cos(self.pitch))

    def tilt(self, roll: float, pitch: float) -> None:
        """The attitude estimate's roll and pitch (rad, drive/attitude.py): the pitch
        projects wheel travel onto the level, both turn body rates into the heading's rate."""
        if math.isfinite(roll) and math.isfinite(pitch):
            self.roll, self.pitch = roll, pitch

    def attitude(self, w: float, x: float, y: float, z: float) -> None:
        """An orientation (quaternion) given whole: its roll and pitch, as tilt."""
        sin_pitch = 2.0 * (w * y - z * x)
        roll = math.atan2(2.0 * (w * x + y * z), 1.0 - 2.0 * (x * x + y * y))
        if math.isfinite(sin_pitch):
            self.tilt(roll, math.asin(max(-1.0, min(1.0, sin_pitch))))

    def update(self, dt: float, wheels: dict, healthy: list[str], steer: dict[str, float],
               arc_share: float | None) -> None:
        """Dead reckoning over dt that trusts the wheels least likely to slip.

        Yaw rate comes from the gyro, levelled with the estimate's roll and pitch (see
        yaw_rate), and is integrated whether or not a wheel can be read. Each
        wheel with a working encoder implies a body speed v_i = s_i cos(a_i) +
        omega y_i (omega the body's z rate). An isolated wheel that
        free-wheels (open circuit, overcurrent, overtemperature, disabled) is
        dragged without drive torque, so it does not slip: when there is one,
        the median of the free wheels is the odometer; otherwise the median of
        the driven wheels (also while a seized wheel is dragged: on the Monte
        Carlo's ground they agree with the truth within 2 %). An order statistic
        of noisy readings taken tick by tick is biased: the two slowest driven
        wheels read 7 % short, the faster of two free wheels 6 % long (Monte
        Carlo seed 7, k = 2); of an even count the median is the mean of the
        middle two. Stalled and dropped-out wheels are left out.
        The speed is projected onto the level with the estimated pitch.

        :param wheels: the wheel views (speed, lost, fault); healthy: the wheels driven.
        :param steer: the measured corner angles (rad).
        :param arc_share: on a steered arc the rover does not follow (monitors.ArcCheck),
            the share of the arc's yaw rate the gyro sees: the wheels spin more than the
            rover moves, and their speed is scaled by it. None otherwise.
        """
        omega_wheels = None
        usable = {}
        for w, view in wheels.items():
            if not math.isfinite(view.speed) or view.lost or view.fault in NO_ODOMETRY:
                continue
            usable[w] = view.speed
        if dt <= 0 or (len(usable) < 2 and self.heading_rate is None):
            return
        if len(usable) < 2:
            # No wheel to measure travel with (all isolated or silent): the heading still
            # turns with the gyro (Monte Carlo seed 24, k = 1: with every wheel stalled the
            # rover was turned 10 deg by the ground's push while its odometry stood still).
            self.pose.update(0.0, self.heading_rate, dt)
            self.v_measured = 0.0
            return
        if self.heading_rate is None:
            omega_wheels = forward(self.geometry, usable, steer)[1]
        omega = self.heading_rate if self.heading_rate is not None else omega_wheels
        r = self.geometry.wheel_radius
        body = self.gyro if self.gyro is not None else omega
        implied = {}
        for w, s in usable.items():
            _, y = self.geometry.wheel_xy[w]
            implied[w] = s * r * math.cos(steer.get(w, 0.0)) + body * y
        free = [v for w, v in implied.items() if w not in healthy]
        # the median shrugs off one wheel on a rock; of an even count, the mean of the two
        # middle readings (the larger of two free wheels, taken tick by tick, read 6 % long)
        v = median(free or list(implied.values()))
        if arc_share is not None:
            v *= max(0.0, arc_share)
        # wheels measure travel along the slope; odom is planar: project with the pitch
        self.pose.update(v * math.cos(self.pitch), omega, dt)
        self.v_measured = v

    def record(self, t: float, driving: bool) -> None:
        """Keep the step's pose (and whether a wheel was driven); take the visual steps due."""
        o = self.pose
        self.visual.track.append([t, o.x, o.y, o.yaw, self.roll, self.pitch, float(driving)])
        if self.visual.pending:
            self.visual.take(o)


class VisualSteps:
    """Visual odometry's steps, each replacing the wheels' count between its two frames.

    The wheels count travel the rover never made when they slip (dragging a seized
    wheel, held by a rock): as on the Mars rovers, the visual step replaces the
    wheels' count between the two frames. The odometry's position at t1 is moved to
    its position at t0 plus the step, turned by the attitude at t0 (yaw from the
    odometry, roll and pitch estimated), and what the wheels counted since t1 is
    kept on top. The heading stays the gyro's. A step from before the track kept
    (visual_odometry.history_s), one over which no wheel was driven, or one that would
    move the odometry more than visual_odometry.max_correction_m, is refused.
    """

    def __init__(self, p: dict):
        self.p = p
        # The odometry's recent track [t, x, y, yaw, roll, pitch, driving], so that a step
        # measured between two camera frames can replace the wheels' count of it.
        self.track: deque[list[float]] = deque(
            maxlen=int(p['visual_odometry.history_s'] * p['control_rate_hz']) + 1)
        self.pending: list[tuple[float, float, list[float]]] = []
        self.steps = 0              # steps taken
        self.refused = 0            # steps refused (too old, too large)
        self.idle = 0               # steps over which no wheel was driven: not taken
        self.last_t = -math.inf     # the end of the last step taken
        self.correction_m = 0.0     # what the steps moved the odometry, in all
        self.wheel_slip: float | None = None   # 1 - visual / wheel distance of the last step

    def add(self, t0: float, t1: float, translation) -> None:
        """A step: base_link at t1 is at translation (m) from base_link at t0, in base_link
        at t0. Taken at the next control step that has reached t1; raises ValueError for
        a step that is not usable.
        """
        d = [float(v) for v in translation]
        if len(d) != 3 or not all(math.isfinite(v) for v in (t0, t1, *d)) or not t1 > t0:
            raise ValueError(f'visual step {translation} from {t0} to {t1} is not usable')
        self.pending.append((t0, t1, d))

    def take(self, pose: Odometry2D) -> None:
        """Move pose (and the track since each step's end) by the steps the track has reached."""
        waiting = []
        for t0, t1, d in self.pending:
            if t1 > self.track[-1][0] + 1e-9:
                waiting.append((t0, t1, d))     # the track has not reached the frame yet
                continue
            a, b = self.at(t0), self.at(t1)
            if a is None or b is None:
                self.refused += 1
                continue
            if not any(e[6] for e in self.track if t0 - 1e-9 <= e[0] <= t1 + 1e-9):
                # Not driving: the wheels count nothing, and a scene dominated by something
                # else moving (the lander's ramp unfolding before the rover on the deck)
                # must not move the rover in its odometry. MER too ran it only while driving.
                self.idle += 1
                continue
            step = rpy_matrix((a[4], a[5], a[3])) @ np.array(d)
            cx, cy = a[1] + step[0] - b[1], a[2] + step[1] - b[2]
            if math.hypot(cx, cy) > self.p['visual_odometry.max_correction_m']:
                self.refused += 1
                continue
            for entry in self.track:
                if entry[0] >= t1 - 1e-9:
                    entry[1] += cx
                    entry[2] += cy
            pose.x += cx
            pose.y += cy
            wheels = math.hypot(b[1] - a[1], b[2] - a[2])
            self.wheel_slip = (1.0 - math.hypot(step[0], step[1]) / wheels if wheels > 0.01
                               else None)
            self.steps += 1
            self.last_t = t1
            self.correction_m += math.hypot(cx, cy)
        self.pending = waiting[-4:]

    def at(self, t: float) -> list[float] | None:
        """The track at t, interpolated; None outside it."""
        track = self.track
        if not track or t < track[0][0] - 1e-9 or t > track[-1][0] + 1e-9:
            return None
        if t >= track[-1][0]:
            return list(track[-1])
        later = next(i for i in range(len(track) - 1, -1, -1) if track[i][0] <= t)
        lo, hi = track[later], track[later + 1]
        f = (t - lo[0]) / (hi[0] - lo[0]) if hi[0] > lo[0] else 0.0
        out = [lo[k] + f * (hi[k] - lo[k]) for k in range(6)] + [lo[6]]
        out[3] = lo[3] + f * math.atan2(math.sin(hi[3] - lo[3]), math.cos(hi[3] - lo[3]))
        return out
