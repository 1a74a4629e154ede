"""ROS 2 node /lander/relay: downlink plan in, telecommands out onto the rover's graph.

The node subscribes to the topics of the downlink plan (config/relay.yaml),
serializes each message (CDR, as rosbag2 stores them), shrinks and compresses
images, applies the science validity checks, and hands the products to the
persistent queue (relay/store.py) that RelayEndpoint sends through the link.
Accepted telecommands are executed here, on the executor thread, and their
start and completion reported back to the ground.
"""
from __future__ import annotations

import importlib
import math
import queue
from typing import Any, Callable

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import PoseStamped, Twist
from nav_msgs.msg import Odometry
import numpy as np
import rclpy
from rclpy.node import Node
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.serialization import serialize_message
from sensor_msgs.msg import CompressedImage, Image, JointState
from std_msgs.msg import String
from std_srvs.srv import SetBool, Trigger

from chang_e_rover import config
from chang_e_rover.navigation.goal_status import GoalState, GoalStatus, GoalStatusError
from chang_e_rover.relay.clock import LinkClock
from chang_e_rover.relay.downlink import compress_image, plan_from_params, PlanEntry
from chang_e_rover.relay.endpoint import (
    COMPLETE_FAILED, COMPLETED, RelayEndpoint, STARTED)
from chang_e_rover.relay.keys import load_key_ring
from chang_e_rover.relay.packets import Product
from chang_e_rover.relay.store import Store
from chang_e_rover.relay.telecommands import ArgLimits, CAMERAS, MODES, Telecommand
from chang_e_rover.robot_description import load_urdf, WHEEL_IDS
from chang_e_rover.ros_common import (
    declare_from_config, LATCHED_QOS, SENSOR_QOS, spin_node, STATE_QOS, stamp_to_ns)
from chang_e_rover.science.instruments import VALIDATORS

# A plan entry that takes every message (rate_hz 0: science) reads with no depth limit, so
# a burst that comes while the relay is busy (storing, or at a high rate in a test) waits in
# its reader instead of pushing older messages out.
EVERY_QOS = QoSProfile(reliability=ReliabilityPolicy.RELIABLE, history=HistoryPolicy.KEEP_ALL)

CAMERA_JOINTS = {'pancam': ('/rover/joint_commands', '/rover/joint_states',
                            'pancam_pan_joint', 'pancam_tilt_joint', 'rover.urdf'),
                 'tcam': ('/lander/joint_commands', '/lander/joint_states',
                          'tcam_pan_joint', 'tcam_tilt_joint', 'lander.urdf')}


def message_class(type_name: str) -> type:
    """Return the Python class of a ROS message type named 'pkg/msg/Type'."""
    parts = type_name.split('/')
    if len(parts) != 3 or parts[1] != 'msg':
        raise config.ConfigError(f'message type {type_name!r} is not of the form pkg/msg/Type')
    try:
        return getattr(importlib.import_module(f'{parts[0]}.msg'), parts[2])
    except (ImportError, AttributeError) as exc:
        raise config.ConfigError(f'message type {type_name!r} is not installed') from exc


def camera_limits() -> tuple[dict, dict]:
    """Return the pan and tilt limits of each camera from the URDFs."""
    pan, tilt = {}, {}
    for camera, (_, _, pan_joint, tilt_joint, urdf) in CAMERA_JOINTS.items():
        robot = load_urdf(config.urdf_path(urdf))
        pj, tj = robot.joints[pan_joint], robot.joints[tilt_joint]
        pan[camera] = ((-math.pi, math.pi) if pj.kind == 'continuous' else (pj.lower, pj.upper))
        tilt[camera] = (tj.lower, tj.upper)
    return pan, tilt


def image_product(msg: Image, scale: float, compress: str) -> CompressedImage:
    """Shrink an rgb8/bgr8/mono8 image by scale and compress it (jpeg or png)."""
    out = CompressedImage(format=compress)
    out.header = msg.header
    out.data = compress_image(msg.data, msg.height, msg.width, msg.step, msg.encoding,
                              scale, compress)
    return out


class RelayNode(Node):
    def __init__(self, **kwargs):
        super().__init__('relay', **kwargs)
        p = self.params = declare_from_config(self, 'relay.yaml', 'relay')
        # Keys first: a relay with a key open to others, or none, starts nothing.
        keys = load_key_ring(config.state_path(p['key_file']),
                             config.state_path(p['next_key_file']) if p['next_key_file'] else None,
                             p['next_key_from_seq'])
        pan, tilt = camera_limits()
        limits = ArgLimits(p['max_goal_distance_m'], pan, tilt)
        store_file = config.state_path(p['store_path'])
        store_file.parent.mkdir(parents=True, exist_ok=True)
        self.store = Store(store_file, p['store_synchronous'],
                           p['retransmit_timeout_s'], p['nak_holdoff_s'],
                           p['retransmit_timeout_min_s'], p['retransmit_timeout_max_s'])
        self.tc_queue: queue.SimpleQueue[Telecommand] = queue.SimpleQueue()
        self.endpoint = RelayEndpoint(
            self.store, keys.current, limits, p['port'],
            (p['host'], p['link_port']), p['downlink_rate_bps'], p['max_packet_bytes'],
            p['tc_window_behind'], p['tc_window_ahead'], self.tc_queue.put,
            p['status_period_s'], p['refusal_reports_per_s'], host=p['host'],
            refusal_report_burst=p['refusal_report_burst'], next_key=keys.next,
            next_key_from_seq=keys.next_from_seq, clock_ns=self._now_ns,
            clock=LinkClock.of_node(self))
        self.get_logger().info(
            f'uplink keys: {keys.describe(self.endpoint.window.highest)}')
        self.plan = plan_from_params(p)
        for entry in self.plan:
            message_class(entry.type_name)           # refuse a plan naming unknown types
            if not entry.sampled:
                self._subscribe(entry)
        self.mode_pub = self.create_publisher(String, 'relay/mode', LATCHED_QOS)
        self.goal_pub = self.create_publisher(PoseStamped, '/rover/goal', STATE_QOS)
        self.cmd_pub = self.create_publisher(Twist, '/rover/cmd_vel', STATE_QOS)
        self.joint_pubs = {c: self.create_publisher(JointState, j[0], STATE_QOS)
                           for c, j in CAMERA_JOINTS.items()}
        # Inputs of completion checks, subscribed only while a telecommand needs them
        # (the relay shares the lander's computer; idle subscriptions cost deserializing).
        self.joints: dict[str, float] = {}
        # The goal status is latched: a watch begun late still hears the verdict.
        self.watches = {
            'pancam': (JointState, CAMERA_JOINTS['pancam'][1], self.joint_states_callback,
                       STATE_QOS),
            'tcam': (JointState, CAMERA_JOINTS['tcam'][1], self.joint_states_callback, STATE_QOS),
            'goal': (DiagnosticStatus, '/rover/goal_status', self.goal_status_callback,
                     LATCHED_QOS),
            'speed': (Odometry, '/rover/odom', self.odom_callback, STATE_QOS)}
        self.watching: dict[str, Any] = {}
        self.diag_pub = self.create_publisher(DiagnosticArray, '/diagnostics', STATE_QOS)
        self.wheel_clients = {w: (self.create_client(SetBool, f'/rover/wheel_{w}/enable'),
                                  self.create_client(Trigger, f'/rover/wheel_{w}/reset'))
                              for w in WHEEL_IDS}
        self.panorama_client = self.create_client(Trigger, '/lander/camera/take_panorama')
        self.goal_target: tuple[float, float, int] | None = None   # x, y, stamp ns of ours
        self.goal_status: GoalStatus | None = None    # the controller's status of goal_target
        self.speed = math.nan
        self.active: list[tuple[Telecommand, float, float, Callable[[], tuple[bool, str] | None]]] = []
        self.needs: dict[int, str] = {}      # telecommand seq -> the watch its check reads
        self.publish_mode()
        self.create_timer(0.1, self.telecommand_callback)
        self.create_timer(1.0, self.sample_callback)
        self.create_timer(1.0, self.publish_diagnostics)
        self.endpoint.start()

    def _now_ns(self) -> int:
        return self.get_clock().now().nanoseconds

    # ---- downlink ------------------------------------------------------------------------
    def _subscribe(self, entry: PlanEntry) -> None:
        msg_type = message_class(entry.type_name)
        qos = SENSOR_QOS if msg_type is Image else EVERY_QOS if entry.every else STATE_QOS
        entry.subscription = self.create_subscription(
            msg_type, entry.topic, lambda msg, e=entry: self.plan_callback(e, msg), qos)

    def sample_callback(self) -> None:
        t = self._now_ns() * 1e-9
        for entry in self.plan:
            if not entry.sampled:
                continue
            if entry.done and entry.subscription is not None:
                self.destroy_subscription(entry.subscription)
                entry.subscription, entry.done = None, False
            due = t - entry.last_t >= 1.0 / entry.rate_hz
            if due and entry.subscription is None and not self._safe_blocks(entry):
                self._subscribe(entry)

    def _safe_blocks(self, entry: PlanEntry) -> bool:
        return self.endpoint.mode == MODES.index('safe') and not entry.safe

    def plan_callback(self, entry: PlanEntry, msg: Any) -> None:
        t = self._now_ns() * 1e-9
        if isinstance(msg, DiagnosticArray):
            # Every publisher sends its own array: downlink the newest status of each.
            entry.latest.update((st.name, st) for st in msg.status)
            if entry.too_soon(t):
                return
            msg = DiagnosticArray(header=msg.header, status=list(entry.latest.values()))
        if entry.too_soon(t) or entry.done:
            return
        entry.done = entry.sampled
        if self._safe_blocks(entry):
            return
        entry.last_t = t
        invalid, reason, type_name, topic = False, '', entry.type_name, entry.topic
        try:
            if entry.compress:    # on <topic>/compressed, as image_transport names it
                msg = image_product(msg, entry.scale, entry.compress)
                type_name, topic = 'sensor_msgs/msg/CompressedImage', f'{entry.topic}/compressed'
            if entry.validator:
                invalid, reason = self._validate(entry, msg)
            body = serialize_message(msg)
        except ValueError as exc:
            self.get_logger().error(f'{entry.name}: {exc}; not downlinked',
                                    throttle_duration_sec=5.0)
            return
        self.endpoint.enqueue(entry.apid, entry.priority,
                              Product(topic, type_name, body, invalid, reason),
                              self._now_ns())
        entry.queued += 1
        entry.invalid += invalid

    @staticmethod
    def _validate(entry: PlanEntry, msg: Any) -> tuple[bool, str]:
        ok, reason = VALIDATORS[entry.validator](np.asarray(msg.data, dtype=np.float64))
        return (not ok), reason

    # ---- telecommands --------------------------------------------------------------------
    def telecommand_callback(self) -> None:
        while True:
            try:
                tc = self.tc_queue.get_nowait()
            except queue.Empty:
                break
            self.get_logger().info(f'telecommand {tc.seq} {tc.name} {tc.args}')
            try:
                check = getattr(self, f'_tc_{tc.name}')(tc)
            except Exception as exc:  # noqa: BLE001 - any failure is reported, not raised
                self._report(tc, COMPLETE_FAILED, 'failed', str(exc))
                continue
            self._report(tc, STARTED, 'ok')
            timeout = (self.params['goal_timeout_s'] if tc.name == 'drive_goal'
                       else self.params['command_timeout_s'])
            self.active.append((tc, self._now_ns() * 1e-9, timeout, check))
        still = []
        for tc, started, timeout, check in self.active:
            result = check()
            if result is None and self._now_ns() * 1e-9 - started > timeout:
                result = (False, f'not complete after {timeout:.0f} s')
                code = 'timeout'
            else:
                code = 'failed'
            if result is None:
                still.append((tc, started, timeout, check))
            elif result[0]:
                self._report(tc, COMPLETED, 'ok', result[1])
            else:
                self._report(tc, COMPLETE_FAILED, code, result[1])
        self.active = still
        self._update_watches()

    def _watch(self, tc: Telecommand, name: str) -> None:
        self.needs[tc.seq] = name
        if name not in self.watching:
            msg_type, topic, callback, qos = self.watches[name]
            self.watching[name] = self.create_subscription(msg_type, topic, callback, qos)

    def _update_watches(self) -> None:
        live = {tc.seq for tc, *_ in self.active}
        self.needs = {seq: name for seq, name in self.needs.items() if seq in live}
        for name in [n for n in self.watching if n not in self.needs.values()]:
            self.destroy_subscription(self.watching.pop(name))
            if name == 'goal':
                self.goal_target = self.goal_status = None
            elif name == 'speed':
                self.speed = math.nan

    def _report(self, tc: Telecommand, kind: int, code: str, reason: str = '') -> None:
        self.endpoint.report(tc.seq, tc.opcode.code, kind, code, reason)

    def _supersede(self, names: tuple[str, ...], why: str) -> None:
        for tc, *_ in self.active:
            if tc.name in names:
                self._report(tc, COMPLETE_FAILED, 'failed', why)
        self.active = [a for a in self.active if a[0].name not in names]

    def _tc_drive_goal(self, tc: Telecommand):
        self._supersede(('drive_goal',), f'superseded by telecommand {tc.seq}')
        msg = PoseStamped()
        msg.header.frame_id = 'odom'
        msg.header.stamp = self.get_clock().now().to_msg()
        x, y = tc.args['x_m'], tc.args['y_m']
        msg.pose.position.x, msg.pose.position.y = x, y
        msg.pose.orientation.w = 1.0
        self.goal_target, self.goal_status = (x, y, stamp_to_ns(msg.header.stamp)), None
        self._watch(tc, 'goal')
        self.goal_pub.publish(msg)
        target = f'({x:.2f}, {y:.2f})'

        def check():
            s = self.goal_status
            if s is None or s.state.under_way:
                return None
            if s.state is GoalState.FAILED:
                return False, f'goal {target} failed: {s.reason}'
            short = s.short_by_m if s.state is GoalState.REACHED_SHORT else 0.0
            return True, f'goal {target} reached' + (
                f', held {short:.2f} m short' if short else '')
        return check

    def _tc_stop(self, tc: Telecommand):
        self._supersede(('drive_goal',), f'stopped by telecommand {tc.seq}')
        self._watch(tc, 'speed')
        self.cmd_pub.publish(Twist())
        return lambda: (True, 'rover at rest') if abs(self.speed) < 1e-3 else None

    def _call(self, client, request, what: str):
        # The check waits for the service to appear, up to the telecommand timeout.
        state: dict[str, Any] = {}

        def check():
            if 'future' not in state:
                if not client.service_is_ready():
                    return None
                state['future'] = client.call_async(request)
            future = state['future']
            if not future.done():
                return None
            response = future.result()
            return bool(response.success), f'{what}: {response.message}'
        return check

    def _tc_wheel_enable(self, tc: Telecommand):
        wheel = WHEEL_IDS[tc.args['wheel']]
        return self._call(self.wheel_clients[wheel][0], SetBool.Request(data=bool(tc.args['enable'])),
                          f'wheel {wheel} enable={bool(tc.args["enable"])}')

    def _tc_wheel_reset(self, tc: Telecommand):
        wheel = WHEEL_IDS[tc.args['wheel']]
        return self._call(self.wheel_clients[wheel][1], Trigger.Request(), f'wheel {wheel} reset')

    def _tc_take_panorama(self, tc: Telecommand):
        return self._call(self.panorama_client, Trigger.Request(), 'panorama')

    def _tc_point_camera(self, tc: Telecommand):
        camera = CAMERAS[tc.args['camera']]
        _, _, pan_joint, tilt_joint, _ = CAMERA_JOINTS[camera]
        target = {pan_joint: tc.args['pan_rad'], tilt_joint: tc.args['tilt_rad']}
        self._watch(tc, camera)
        msg = JointState(name=list(target), position=list(target.values()))
        msg.header.stamp = self.get_clock().now().to_msg()
        self.joint_pubs[camera].publish(msg)
        tol = self.params['point_tolerance_rad']

        def check():
            if all(abs(self.joints.get(j, math.inf) - v) <= tol for j, v in target.items()):
                return True, f'{camera} at pan {target[pan_joint]:.3f}, tilt {target[tilt_joint]:.3f}'
            return None
        return check

    def _tc_set_mode(self, tc: Telecommand):
        self.endpoint.mode = tc.args['mode']
        if MODES[self.endpoint.mode] == 'safe':
            self._supersede(('drive_goal',), 'safe mode')
            self.cmd_pub.publish(Twist())
        self.publish_mode()
        return lambda: (True, f'mode {MODES[self.endpoint.mode]}')

    # ---- inputs for completion checks ----------------------------------------------------
    def joint_states_callback(self, msg: JointState) -> None:
        self.joints.update(zip(msg.name, msg.position))

    def goal_status_callback(self, msg: DiagnosticStatus) -> None:
        """The drive controller's goal status; kept when it is about our goal."""
        try:
            status = GoalStatus.from_values((kv.key, kv.value) for kv in msg.values)
        except GoalStatusError as exc:
            self.get_logger().error(f'rover/goal_status ignored: {exc}',
                                    throttle_duration_sec=10.0)
            return
        if self.goal_target is not None and status.is_for(*self.goal_target):
            self.goal_status = status

    def odom_callback(self, msg: Odometry) -> None:
        self.speed = math.hypot(msg.twist.twist.linear.x, msg.twist.twist.angular.z)

    def publish_mode(self) -> None:
        self.mode_pub.publish(String(data=MODES[self.endpoint.mode]))

    def publish_diagnostics(self) -> None:
        self.publish_mode()
        e = self.endpoint
        packets_, products, nbytes = self.store.stats()
        status = DiagnosticStatus(level=DiagnosticStatus.OK, name='lander/relay',
                                  hardware_id='relay', message=f'mode {MODES[e.mode]}')
        status.values = [KeyValue(key=k, value=str(v)) for k, v in (
            ('mode', MODES[e.mode]), ('queued_packets', packets_), ('queued_products', products),
            ('queued_bytes', nbytes), ('sent_packets', e.sent_packets), ('acks', e.acks),
            ('tc_accepted', e.tc_accepted), ('tc_refused', e.tc_refused),
            ('refusal_reports_suppressed', e.reports_suppressed),
            ('uplink_keys', e.keys.describe(e.window.highest)))]
        status.values += [KeyValue(key=f'queued.{x.name}', value=str(x.queued)) for x in self.plan]
        array = DiagnosticArray(status=[status])
        array.header.stamp = self.get_clock().now().to_msg()
        self.diag_pub.publish(array)

    def destroy_node(self) -> None:
        # Also after a failed start (its port taken): stop only what was built.
        endpoint, store = getattr(self, 'endpoint', None), getattr(self, 'store', None)
        if endpoint is not None:
            endpoint.stop()
        if store is not None:
            store.close()
        super().destroy_node()


def main(args=None) -> None:
    rclpy.init(args=args)
    spin_node(RelayNode(namespace='lander'))
