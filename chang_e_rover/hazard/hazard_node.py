"""ROS 2 node /rover/hazard_camera: stereo pairs in, rover/hazard/map and rover/visual_odom out.

A thin wrapper around the flight cores `hazard/mapper.py` (HazardMapper) and
`hazard/visual_odometry.py` (VisualOdometry): it feeds the mapper camera_info,
rover/odom (its pose, with the drive's roll and pitch estimate) and steering
angles, hands each hazcam pair (matched by stamp) to visual odometry and, when it
is a new view (hazard/view_steps.py), to the mapper, and publishes the visual
odometry's pose and the GESTALT cost of the square around the rover. The navcam
pairs from the mast (hazard/mast.py), while the drive has them imaging, go to the
mapper alone, posed at the mast's angles in the joint states before them, and only
when the mast stood still and the view is new. Runs on its
own executor in one-process mode: a pair it maps takes ~0.2 s.

A pair is mapped with the odometry, attitude and steering stamped before it
(the newest of each older than the pair), and the map carries the pair's stamp.
It waits for the first odometry and the first joint states stamped at or after
it (the joint states only while their publisher is on the graph), so that every
pose and steering angle older than the pair is in (DDS keeps one topic's order,
not the order across topics or processes): then which pose a pair gets never
depends on the scheduling. A newer pair that completes while one waits replaces
it (counted in `pairs_superseded`).
Pairs are not mapped while rover/odom says the drive has no roll and pitch
estimate yet (at rest after start-up, ros_common.attitude_known).
Every complete pair, mapped or dropped, is answered with the node's report: on
rover/hazard/status, stamped with the pair and saying which outputs went out for it
(`pair_outputs`: hazard/map, visual_odom, or none), and on /diagnostics
(`pair_stamp_ns`). The simulator's lock-step waits for the answer a control period
before the map is due; the drive controller's step at the due time waits for the
answer and the outputs it names (docs/simulator.md, Time).
"""
from __future__ import annotations

from collections import deque
import math
import time
import traceback

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from nav_msgs.msg import OccupancyGrid, Odometry
import numpy as np
import rclpy
import transforms3d
from rclpy.node import Node
from sensor_msgs.msg import CameraInfo, Image, JointState

from chang_e_rover import config
from chang_e_rover.hazard.mapper import HazardMapper
from chang_e_rover.hazard.mast import angles_before, PAN, TILT
from chang_e_rover.hazard.stereo import CameraModel
from chang_e_rover.hazard.costs import UNTRAVERSABLE
from chang_e_rover.hazard.visual_odometry import vo_params, VisualOdometry
from chang_e_rover.imaging.colour import CalibrationError
from chang_e_rover.robot_description import load_urdf
from chang_e_rover.ros_common import (
    ANSWER_QOS, attitude_known, declare_from_config, image_array, LATCHED_QOS, sensor_qos,
    spin_node, STATE_QOS, stamp_to_ns)


# diagnostics go ERROR when this many pairs in a row failed in the pipeline
FAILING_PAIRS = 3


def quaternion_from_matrix(R: np.ndarray) -> tuple[float, float, float, float]:
    """(w, x, y, z) of a rotation matrix."""
    return tuple(float(v) for v in transforms3d.quaternions.mat2quat(R))


def camera_model(msg: CameraInfo) -> CameraModel:
    return CameraModel(msg.width, msg.height, np.array(msg.k).reshape(3, 3), np.array(msg.d),
                       np.array(msg.r).reshape(3, 3), np.array(msg.p).reshape(3, 4))



class HazardCameraNode(Node):
    def __init__(self, **kwargs):
        kwargs.setdefault('namespace', 'rover')
        super().__init__('hazard_camera', **kwargs)
        p = self.p = declare_from_config(self, 'rover.yaml', 'hazard_camera')
        self.mapper = HazardMapper(p, load_urdf(config.urdf_path('rover.urdf')))
        self.info: dict[str, CameraModel] = {}          # by 'hazcam/left' etc.
        self.frames: dict[str, tuple[int, Image]] = {}
        self.last_cost: np.ndarray | None = None
        # A pair whose processing raised anything else than a refused input (a fault in
        # the pipeline itself) is dropped and counted: the node lives on, and diagnostics
        # go ERROR while the latest FAILING_PAIRS pairs all failed; no map is published
        # for them, so the drive's gate goes stale and stops the rover (hazard.map_timeout_s).
        self.pairs_failed = 0
        self.failing = 0
        self.last_error = ''
        # Visual odometry: its pose in its own frame (visual_odom), chained step by step.
        self.vo: VisualOdometry | None = None
        self.vo_pose = np.eye(4)
        self.vo_linked_last = False     # whether the last pair was linked to the one before
        self.vo_failed = 0
        self.vo_ms = math.nan
        # The pose inputs by stamp: a pair uses the newest of each older than itself.
        self.poses: dict[str, deque] = {k: deque(maxlen=64) for k in ('odom', 'steer', 'mast')}
        self.last_pair_ns = -1
        self.pairs_unlevelled = 0       # pairs not mapped: no roll and pitch estimate yet
        self.waiting: tuple[int, str, Image, Image] | None = None   # a pair awaiting its pose
        self.navcam_mapped = 0
        self.navcam_slewing = 0         # navcam pairs not mapped: the mast was moving
        self.pairs_superseded = 0       # pairs replaced by a newer one while they waited
        self.sent: list[str] = []       # the outputs sent for the last pair answered
        self.create_subscription(Odometry, 'odom', self.odom_callback, STATE_QOS)
        sensors = sensor_qos(bool(self.get_parameter('use_sim_time').value))
        self.joint_sub = self.create_subscription(JointState, 'joint_states',
                                                  self.joint_callback, STATE_QOS)
        self.joints_ns = -1     # the newest joint states' stamp
        for side in ('left', 'right'):     # the hazcam pair, and the navcam pair on the mast
            for topic, callback in ((f'hazcam/{side}/camera_info', self.info_callback),
                                    (f'hazcam/{side}/image_raw', self.image_callback),
                                    (f'navcam/{side}/camera_info', self.info_callback),
                                    (f'navcam/{side}/image_raw', self.image_callback)):
                camera = topic.rsplit('/', 1)[0]
                self.create_subscription(
                    CameraInfo if topic.endswith('info') else Image, topic,
                    lambda msg, c=camera, f=callback: f(c, msg), sensors)
        self.map_pub = self.create_publisher(OccupancyGrid, 'hazard/map', LATCHED_QOS)
        # As durable as the answer that names it: a reader that matched late hears both.
        self.vo_pub = self.create_publisher(Odometry, 'visual_odom', ANSWER_QOS)
        self.diag_pub = self.create_publisher(DiagnosticArray, '/diagnostics', STATE_QOS)
        # The answer to each pair, to the drive controller: kept for a reader that matches late.
        self.status_pub = self.create_publisher(DiagnosticArray, 'hazard/status', ANSWER_QOS)
        # (a lambda: rclpy hands a callback that takes an argument the timer's info)
        self.create_timer(1.0, lambda: self.publish_diagnostics())

    @property
    def map(self):
        return self.mapper.map

    @property
    def limits(self):
        return self.mapper.limits

    # ---- inputs --------------------------------------------------------------------------
    def joint_callback(self, msg: JointState) -> None:
        self.joints_ns = stamp_to_ns(msg.header.stamp)
        steer = {name[6:8]: value for name, value in zip(msg.name, msg.position)
                 if name in ('steer_lf_joint', 'steer_rf_joint')}
        if steer:
            self.poses['steer'].append((self.joints_ns, steer))
        mast = dict(zip(msg.name, msg.position))
        if PAN in mast and TILT in mast:
            self.poses['mast'].append((self.joints_ns, (mast[PAN], mast[TILT])))
        self.map_waiting()

    def info_callback(self, camera: str, msg: CameraInfo) -> None:
        """A camera's calibration (camera: 'hazcam/left' etc.): a pair's first two stand."""
        if camera not in self.info:
            self.info[camera] = camera_model(msg)
        cam = camera.split('/')[0]
        rig = self.mapper if cam == 'hazcam' else self.mapper.mast
        left, right = self.info.get(f'{cam}/left'), self.info.get(f'{cam}/right')
        if left is None or right is None or rig.pipeline is not None:
            return
        try:
            rig.cameras(left, right)
        except ValueError as exc:
            del self.info[f'{cam}/left'], self.info[f'{cam}/right']
            self.get_logger().error(f'{cam} camera_info refused: {exc}',
                                    throttle_duration_sec=10.0)
            return
        if cam == 'hazcam' and self.p['vo.enabled']:
            self.vo = VisualOdometry(left.P[:, :3], self.mapper.pipeline.baseline_m,
                                     self.mapper.base_from_cam, vo_params(self.p))

    def odom_callback(self, msg: Odometry) -> None:
        """Integrate the height at every odometry pose (with its attitude: the odometry's
        heading, the drive's roll and pitch estimate, docs/drive.md, Attitude) and keep the
        mapper's pose, height and attitude by stamp."""
        stamp = stamp_to_ns(msg.header.stamp)
        q = msg.pose.pose.orientation
        yaw = math.atan2(2 * (q.w * q.z + q.x * q.y), 1 - 2 * (q.y * q.y + q.z * q.z))
        self.mapper.attitude(
            math.atan2(2 * (q.w * q.x + q.y * q.z), 1 - 2 * (q.x * q.x + q.y * q.y)),
            math.asin(max(-1.0, min(1.0, 2 * (q.w * q.y - q.z * q.x)))))
        self.mapper.odometry(msg.pose.pose.position.x, msg.pose.pose.position.y, yaw)
        m = self.mapper
        self.poses['odom'].append((stamp, ((m.pose, m.z, m.roll, m.pitch), attitude_known(msg))))
        self.map_waiting()

    def _state_before(self, stamp_ns: int):
        """The mapper's odometry state (pose, height, roll, pitch) of the newest odometry
        older than the pair, and whether that carried a roll and pitch estimate (None if
        there is none yet); the mapper's steering from the newest joint states so too."""
        older = [v for s, v in self.poses['odom'] if s < stamp_ns]
        for steer in [v for s, v in self.poses['steer'] if s < stamp_ns][-1:]:
            for k, a in steer.items():
                self.mapper.steering(k, a)
        return older[-1] if older else None

    def image_callback(self, camera: str, msg: Image) -> None:
        stamp = stamp_to_ns(msg.header.stamp)
        self.frames[camera] = (stamp, msg)
        cam, side = camera.split('/')
        other = self.frames.get(f'{cam}/{"right" if side == "left" else "left"}')
        if other is None or other[0] != stamp:
            return
        left, right = self.frames.pop(f'{cam}/left')[1], self.frames.pop(f'{cam}/right')[1]
        if self.waiting is not None:
            self.pairs_superseded += 1
        self.waiting = (stamp, cam, left, right)
        self.map_waiting()

    def map_waiting(self) -> None:
        """Map the waiting pair once an odometry and joint states stamped at or after it
        are in."""
        odom = self.poses['odom']
        if self.waiting is None or not odom or odom[-1][0] < self.waiting[0]:
            return
        if self.joints_ns < self.waiting[0] and self.joint_sub.get_publisher_count() > 0:
            return
        (stamp, cam, left, right), self.waiting = self.waiting, None
        self.sent = []
        m = self.mapper
        latest = (m.pose, m.z, m.roll, m.pitch)
        try:
            before = self._state_before(stamp)
            if before is not None and not before[1]:
                # Roll and pitch not yet estimated (rover/odom says so, ros_common.
                # attitude_known): a map levelled with them would be tilted, and its
                # heights would stay in the cells until other pairs outweighed them.
                self.pairs_unlevelled += 1
            elif before is not None:
                (m.pose, m.z, m.roll, m.pitch), _ = before
                if cam == 'navcam':
                    self.navcam_pair(stamp, left, right)
                elif m.ready():
                    self.pair(stamp, left, right)
        finally:
            m.pose, m.z, m.roll, m.pitch = latest
            self.last_pair_ns = stamp
            self.publish_diagnostics(answer=True)

    def pair(self, stamp: int, left: Image, right: Image) -> None:
        """Visual odometry, then the map, of one stereo pair: every pair while the colour
        response is measured, then each new view (hazard/view_steps.py)."""
        had_response = self.mapper.response is not None
        try:
            left, right = image_array(left), image_array(right)
        except ValueError as exc:
            self.get_logger().error(f'stereo pair dropped: {exc}', throttle_duration_sec=10.0)
            return
        if self.vo is not None:
            self.visual_odometry(stamp, left, right)
        if not self.mapper.wants(stamp * 1e-9):
            return
        if not self._map(lambda: self.mapper.process(left, right), stamp):
            return
        if not had_response and self.mapper.response is not None:
            self.get_logger().info(
                'detector response measured on the calibration target: '
                f'{self.mapper.response.round(3)}')

    def navcam_pair(self, stamp: int, left: Image, right: Image) -> None:
        """The map of one navcam pair, if the mast stood still and the view is new."""
        mast = angles_before(self.poses['mast'], stamp)
        if mast is None:
            self.navcam_slewing += 1
            return
        if self.mapper.mast.pipeline is None or not self.mapper.wants_navcam(stamp * 1e-9,
                                                                              mast[0]):
            return
        try:
            left, right = image_array(left), image_array(right)
        except ValueError as exc:
            self.get_logger().error(f'navcam pair dropped: {exc}', throttle_duration_sec=10.0)
            return
        if self._map(lambda: self.mapper.process_navcam(left, right, *mast), stamp):
            self.navcam_mapped += 1

    def _map(self, process, stamp: int) -> bool:
        """Run process (a pair into the map) and publish the map; a refused pair is logged,
        a fault in the pipeline counted. Whether the pair was mapped."""
        try:
            process()
            self.publish_map(*self.mapper.pose[:2], stamp)
        except (ValueError, CalibrationError) as exc:
            self.get_logger().error(f'stereo pair dropped: {exc}', throttle_duration_sec=10.0)
            return False
        except Exception as exc:   # noqa: BLE001 - a fault in the pipeline, not the input
            self.pairs_failed += 1
            self.failing += 1
            self.last_error = f'{type(exc).__name__}: {exc}'
            self.get_logger().error(
                f'stereo pair failed in the pipeline ({self.failing} in a row): '
                f'{self.last_error}\n{traceback.format_exc()}', throttle_duration_sec=10.0)
            return False
        self.failing = 0
        return True

    def visual_odometry(self, stamp_ns: int, left: np.ndarray, right: np.ndarray) -> None:
        """Track the pair against the last one and publish the chained pose on visual_odom.

        A pair that cannot be linked to the one before (too few features tracked, a bad
        fit, a fault) starts a new chain: its message carries pose.covariance[0] = -1,
        the sensor_msgs convention for "no estimate", and no step is to be taken from the
        previous message to it.
        """
        pipeline = self.mapper.pipeline
        t0 = time.perf_counter()
        try:
            motion = self.vo.process(stamp_ns * 1e-9, pipeline.grey(left, 0),
                                     pipeline.grey(right, 1))
        except Exception as exc:   # noqa: BLE001 - visual odometry must not stop the map
            self.vo_failed += 1
            self.vo.reset()
            self.get_logger().error(f'visual odometry failed on a pair: {exc}',
                                    throttle_duration_sec=10.0)
            return
        self.vo_ms = 1e3 * (time.perf_counter() - t0)
        linked = motion is not None
        if linked:
            self.vo_pose = self.vo_pose @ motion.transform
        self.mapper.visual_frame(motion.translation if linked else None)
        msg = Odometry()
        msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(stamp_ns, 1_000_000_000)
        msg.header.frame_id = 'visual_odom'
        msg.child_frame_id = 'base_link'
        pose = msg.pose.pose
        pose.position.x, pose.position.y, pose.position.z = (float(v) for v in self.vo_pose[:3, 3])
        w, x, y, z = quaternion_from_matrix(self.vo_pose[:3, :3])
        pose.orientation.w, pose.orientation.x = w, x
        pose.orientation.y, pose.orientation.z = y, z
        covariance = [0.0] * 36
        if not linked:
            covariance[0] = -1.0
        else:
            v = motion.translation / (motion.t1 - motion.t0)
            msg.twist.twist.linear.x, msg.twist.twist.linear.y = float(v[0]), float(v[1])
            msg.twist.twist.linear.z = float(v[2])
        msg.pose.covariance = covariance
        self.vo_pub.publish(msg)
        self.sent.append('visual_odom')

    def publish_map(self, x: float, y: float, stamp_ns: int) -> None:
        window = self.mapper.window(x, y)
        if window is None:
            return
        cost, x0, y0 = window
        self.last_cost = cost
        msg = OccupancyGrid()
        msg.header.frame_id = 'odom'
        msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(stamp_ns, 1_000_000_000)
        msg.info.resolution = float(self.map.resolution)
        msg.info.width, msg.info.height = int(cost.shape[1]), int(cost.shape[0])
        msg.info.origin.position.x = x0
        msg.info.origin.position.y = y0
        msg.info.origin.orientation.w = 1.0
        msg.data = cost.ravel().tolist()
        self.map_pub.publish(msg)
        self.sent.append('hazard/map')

    def diagnostic_status(self) -> DiagnosticStatus:
        cost = self.last_cost
        known = int(np.count_nonzero(cost >= 0)) if cost is not None else 0
        bad = int(np.count_nonzero(cost == UNTRAVERSABLE)) if cost is not None else 0
        m = self.mapper
        if self.failing >= FAILING_PAIRS:
            level = DiagnosticStatus.ERROR
            message = f'the last {self.failing} stereo pairs failed: {self.last_error}'
        elif m.processed > 0:
            level, message = DiagnosticStatus.OK, f'{m.processed} stereo pairs mapped'
        else:
            level, message = DiagnosticStatus.WARN, 'no stereo pair yet'
        status = DiagnosticStatus(level=level, name='rover/hazard_camera', hardware_id='hazcam',
                                  message=message)
        response = m.response if m.response is not None else [math.nan] * 3
        status.values = [KeyValue(key=k, value=str(v)) for k, v in (
            ('pairs_processed', m.processed), ('ms_per_pair', f'{m.ms_per_pair:.0f}'),
            ('response_rgb', ' '.join(f'{r:.3f}' for r in response)),
            ('known_cells', known), ('untraversable_cells', bad),
            ('height_m', f'{m.height:.3f}'), ('pairs_failed', self.pairs_failed),
            ('pairs_unlevelled', self.pairs_unlevelled),
            ('pairs_superseded', self.pairs_superseded),
            ('pairs_not_mapped', m.views.skipped),
            ('navcam_pairs_mapped', self.navcam_mapped),
            ('navcam_pairs_slewing', self.navcam_slewing),
            ('last_error', self.last_error),
            ('vo_linked', self.vo.linked if self.vo else 0),
            ('vo_unlinked', self.vo.unlinked if self.vo else 0),
            ('vo_failed', self.vo_failed), ('vo_ms', f'{self.vo_ms:.0f}'),
            ('vo_last_reason', self.vo.last_reason if self.vo else 'off'),
            ('pair_stamp_ns', self.last_pair_ns),
            ('pair_outputs', ' '.join(self.sent) or 'none'))]
        return status

    def publish_diagnostics(self, answer: bool = False) -> None:
        """The report on /diagnostics; with answer, also on hazard/status, stamped with the
        pair it answers."""
        array = DiagnosticArray(status=[self.diagnostic_status()])
        array.header.stamp = self.get_clock().now().to_msg()
        self.diag_pub.publish(array)
        if answer:
            array.header.stamp.sec, array.header.stamp.nanosec = divmod(self.last_pair_ns,
                                                                        1_000_000_000)
            self.status_pub.publish(array)


def main(args=None) -> None:
    rclpy.init(args=args)
    spin_node(HazardCameraNode())
