"""ROS 2 node /lander/camera: the terrain camera's panorama campaign.

`lander/camera/take_panorama` (std_srvs/Trigger) starts a campaign: for each of
the 80 pointings the pan/tilt mount is commanded on lander/joint_commands, the
node waits until lander/joint_states shows it there and still, triggers the
camera (`lander/tcam/capture`), and keeps the frame area-averaged to the
panorama's scale with the pointing measured at the shutter. Then it stitches
(lander/panorama.py) on a worker thread, publishes lander/panorama (rgb8) and
writes a PNG. Progress and failures are in diagnostics (`lander/camera`).
"""
from __future__ import annotations

import math
from pathlib import Path
import threading
import time

import cv2
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
import numpy as np
import rclpy
from rclpy.node import Node
from sensor_msgs.msg import CameraInfo, Image, JointState
from std_srvs.srv import Trigger

from chang_e_rover import config
from chang_e_rover.imaging.caltarget import load_target
from chang_e_rover.lander.panorama import (
    Campaign, Frame, Layout, PanoramaError, reduce, rotation, stitch, TargetView)
from chang_e_rover.robot_description import load_urdf
from chang_e_rover.ros_common import (
    declare_from_config, image_array, LATCHED_QOS, rgb_image, sensor_qos, spin_node, STATE_QOS,
    stamp_to_ns)

PAN, TILT = 'tcam_pan_joint', 'tcam_tilt_joint'
IDLE, SLEWING, EXPOSING, STITCHING = 'IDLE', 'SLEWING', 'EXPOSING', 'STITCHING'


class LanderCameraNode(Node):
    def __init__(self, **kwargs):
        kwargs.setdefault('namespace', 'lander')
        super().__init__('camera', **kwargs)
        p = self.p = declare_from_config(self, 'lander.yaml', 'camera')
        self.campaign = Campaign.from_params(config.section(p, 'campaign'))
        self.layout = Layout(p['panorama.px_per_deg'], p['panorama.el_top_deg'],
                             p['panorama.el_bottom_deg'])
        # The colour calibration target on the deck, placed by the URDF.
        lander = load_urdf(config.urdf_path('lander.urdf'))
        self.target = TargetView.from_urdf(lander, load_target())
        self.state = IDLE
        self.reason = 'no campaign yet'
        self.joints: dict[str, tuple[float, float]] = {}
        self.info: CameraInfo | None = None
        self.frames: list[Frame] = []
        self.plan: list[tuple[float, float]] = []
        self.still_since: float | None = None
        self.deadline = 0.0
        self.shutter_ns = 0
        self.exposed: Image | None = None     # the frame, until its camera_info is here
        self.campaigns = 0
        self.last_path: Path | None = None
        self.last_seconds = math.nan
        self.result = None
        self._worker: threading.Thread | None = None
        self.create_subscription(JointState, 'joint_states', self.joint_callback, STATE_QOS)
        self.frame_ns = -1      # stamp of the newest frame received: the lock-step answer
        sensors = sensor_qos(bool(self.get_parameter('use_sim_time').value))
        self.create_subscription(CameraInfo, 'tcam/camera_info', self.info_callback, sensors)
        self.create_subscription(Image, 'tcam/image_raw', self.image_callback, sensors)
        self.command_pub = self.create_publisher(JointState, 'joint_commands', STATE_QOS)
        self.panorama_pub = self.create_publisher(Image, 'panorama', LATCHED_QOS)
        self.diag_pub = self.create_publisher(DiagnosticArray, '/diagnostics', STATE_QOS)
        self.capture_client = self.create_client(Trigger, 'tcam/capture')
        self.create_service(Trigger, 'camera/take_panorama', self.take_panorama_callback)
        self.create_timer(0.05, self.step)
        self.create_timer(1.0, self.publish_diagnostics)

    # ---- inputs --------------------------------------------------------------------------
    def now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def joint_callback(self, msg: JointState) -> None:
        for i, name in enumerate(msg.name):
            if name in (PAN, TILT) and i < len(msg.position):
                v = msg.velocity[i] if i < len(msg.velocity) else 0.0
                self.joints[name] = (float(msg.position[i]), float(v))

    def info_callback(self, msg: CameraInfo) -> None:
        self.info = msg

    def take_panorama_callback(self, request, response: Trigger.Response) -> Trigger.Response:
        if self.state != IDLE:
            response.success = False
            response.message = f'a campaign is already running ({self.state}, ' \
                               f'{len(self.frames)}/{len(self.plan)} frames)'
            return response
        if not self.capture_client.service_is_ready():
            response.success = False
            response.message = 'the terrain camera (lander/tcam/capture) is not available'
            return response
        self.plan = self.campaign.pointings()
        self.frames = []
        self.result = None
        self._begin_slew()
        self.reason = f'campaign of {len(self.plan)} frames started'
        self.get_logger().info(self.reason)
        response.success = True
        response.message = self.reason
        return response

    # ---- the campaign --------------------------------------------------------------------
    def _fail(self, reason: str) -> None:
        self.reason = f'campaign failed: {reason}'
        self.get_logger().error(self.reason)
        self.state = IDLE
        self.plan, self.frames = [], []

    def _begin_slew(self) -> None:
        pan, tilt = self.plan[len(self.frames)]
        self.command_pub.publish(JointState(name=[PAN, TILT], position=[pan, tilt]))
        self.state = SLEWING
        self.still_since = None
        self.deadline = self.now() + self.p['slew_timeout_s']

    def step(self) -> None:
        if self.state == SLEWING:
            pan, tilt = self.plan[len(self.frames)]
            now = self.now()
            if now > self.deadline:
                self._fail(f'the mount did not reach pan {pan:.3f} tilt {tilt:.3f} rad')
                return
            if PAN not in self.joints or TILT not in self.joints:
                return
            (qp, vp), (qt, vt) = self.joints[PAN], self.joints[TILT]
            there = abs(qp - pan) < self.p['settle_rad'] and abs(qt - tilt) < self.p['settle_rad']
            if not there:
                self.still_since = None
                return
            if self.still_since is None:
                self.still_since = now
            if now - self.still_since < self.p['settle_s']:
                return
            self.state = EXPOSING
            self.exposed = None
            self.shutter_ns = self.get_clock().now().nanoseconds
            self.deadline = now + self.p['frame_timeout_s']
            self.capture_client.call_async(Trigger.Request())
        elif self.state == EXPOSING:
            if self.exposed is not None and self.info is not None:
                self._take(self.exposed)
            elif self.now() > self.deadline:
                what = 'frame' if self.exposed is None else 'lander/tcam/camera_info'
                self._fail(f'no {what} within {self.p["frame_timeout_s"]} s of the trigger')
        elif self.state == STITCHING and self._worker is not None and not self._worker.is_alive():
            self._worker = None
            self._finish()

    def image_callback(self, msg: Image) -> None:
        """Take the frame if one is awaited; answer every frame on /diagnostics with its
        stamp (the simulator's lock-step waits for it, docs/simulator.md)."""
        try:
            if self.state != EXPOSING or stamp_to_ns(msg.header.stamp) < self.shutter_ns:
                return
            self.exposed = msg
            if self.info is not None:
                self._take(msg)
        finally:
            self.frame_ns = max(self.frame_ns, stamp_to_ns(msg.header.stamp))
            self.publish_diagnostics()

    def _take(self, msg: Image) -> None:
        self.exposed = None
        try:
            raw = image_array(msg)
            k = np.array(self.info.k, dtype=np.float64).reshape(3, 3)
            factor = max(1, int(k[0, 0] * math.pi / 180.0 // self.layout.px_per_deg))
            small, kk = reduce(raw, k, factor)
        except (ValueError, PanoramaError) as exc:
            self._fail(f'bad frame: {exc}')
            return
        pan, tilt = self.joints[PAN][0], self.joints[TILT][0]   # measured at the shutter
        self.frames.append(Frame(small, kk, rotation(pan, tilt), pan, tilt))
        if len(self.frames) < len(self.plan):
            self._begin_slew()
            return
        self.state = STITCHING
        self.reason = f'{len(self.frames)} frames taken; stitching'
        self._worker = threading.Thread(target=self._stitch, daemon=True)
        self._t0 = time.perf_counter()
        self._worker.start()

    def _stitch(self) -> None:
        try:
            self.result = stitch(self.frames, self.layout, self.target,
                                 self.p['panorama.feather_px'])
        except (PanoramaError, ValueError) as exc:
            self.result = exc

    def _finish(self) -> None:
        result, self.frames, self.plan = self.result, [], []
        self.state = IDLE
        if isinstance(result, Exception):
            self._fail(f'stitching: {result}')
            return
        self.last_seconds = time.perf_counter() - self._t0
        img = result.image
        # cylinder axis: the pan axis; column 0 at azimuth 0
        self.panorama_pub.publish(rgb_image(img, 'tcam_pan', self.get_clock().now().to_msg()))
        folder = config.state_path(self.p['output_dir'])
        folder.mkdir(parents=True, exist_ok=True)
        self.campaigns += 1
        path = folder / f'panorama_{self.campaigns:03d}.png'
        cv2.imwrite(str(path), img[:, :, ::-1])
        self.last_path = path
        self.reason = (f'panorama {img.shape[1]} x {img.shape[0]} px, coverage '
                       f'{result.coverage:.1%}, stitched in {self.last_seconds:.1f} s: {path}')
        self.get_logger().info(self.reason)

    def publish_diagnostics(self) -> None:
        failed = self.reason.startswith('campaign failed')
        status = DiagnosticStatus(
            level=DiagnosticStatus.WARN if failed else DiagnosticStatus.OK,
            name='lander/camera', hardware_id='tcam', message=self.reason)
        status.values = [KeyValue(key=k, value=str(v)) for k, v in (
            ('state', self.state), ('frames', len(self.frames)), ('planned', len(self.plan)),
            ('campaigns', self.campaigns), ('last_panorama', self.last_path or ''),
            ('stitch_s', f'{self.last_seconds:.1f}'), ('frame_stamp_ns', self.frame_ns))]
        array = DiagnosticArray(status=[status])
        array.header.stamp = self.get_clock().now().to_msg()
        self.diag_pub.publish(array)


def main(args=None) -> None:
    rclpy.init(args=args)
    spin_node(LanderCameraNode())
