"""ROS 2 node /live: a Foxglove WebSocket server with the stack's state and a 3D scene.

Thin shell: it converts what it hears to plain values, calls the pure modules
(frames, scene, grid) and logs their results, wrapped by encode, on the SDK's
channels. It only listens: it is outside the simulator's lock-step loop. A port
that cannot be served (taken, or a host that is not this machine's) is reported at
start, naming it and what to do; the node then streams nothing and the rest of the
stack runs on.
"""
from __future__ import annotations

from diagnostic_msgs.msg import DiagnosticArray
import foxglove
from foxglove.channels import (FrameTransformsChannel, GridChannel, RawImageChannel,
                               SceneUpdateChannel)
from foxglove.websocket import Capability
from geometry_msgs.msg import PoseStamped
from nav_msgs.msg import OccupancyGrid, Odometry
import rclpy
from rclpy.clock import Clock, ClockType
from rclpy.node import Node
from sensor_msgs.msg import Image, JointState

from chang_e_rover import config
from chang_e_rover.live import encode
from chang_e_rover.live.front import Front, FrontError
from chang_e_rover.live.frames import FrameTree, pose_transform
from chang_e_rover.live.grid import occupancy_cells
from chang_e_rover.live.scene import link_primitives, Trail
from chang_e_rover.robot_description import load_urdf
from chang_e_rover.ros_common import (declare_from_config, LATCHED_QOS, SENSOR_QOS, spin_node,
                                      STATE_QOS, stamp_to_ns)

SERVER_NAME = 'chang_e_rover'
MAX_PORT = 65535
ODOM = 'odom'
# The Foxglove channels (topics as Foxglove lists them).
TF, SCENE, MAP, DIAGNOSTICS = '/tf', '/rover/scene', '/rover/hazard/map', '/diagnostics'
HAZCAMS = ('/rover/hazcam/left/image_raw', '/rover/hazcam/right/image_raw')


class LiveError(ValueError):
    """The live view cannot serve where it was asked to."""


class LiveNode(Node):
    """Serves Foxglove on host:port and logs there what it hears. Nothing is converted for
    a channel no client subscribes to: an unwatched live view costs next to nothing."""

    def __init__(self, **kwargs):
        super().__init__('live', **kwargs)
        p = declare_from_config(self, 'live.yaml', 'live')
        self.server = None
        self.error: str | None = None
        # A context of its own: the channels reach this server only (not the SDK's global
        # one). Held: when the context goes, its channels are closed.
        self.fox = context = foxglove.Context()
        try:
            self.trail = Trail(float(p['path.spacing_m']), int(p['path.max_points']))
            self.server = serve(context, str(p['host']), int(p['port']))
        except ValueError as exc:     # LiveError, or a bad path parameter
            self.error = f'{exc}; streaming nothing, the stack runs on'
            self.get_logger().error(self.error)
            return
        robot = load_urdf(config.urdf_path('rover.urdf'))
        self.frames = FrameTree(robot)
        self.links = link_primitives(robot)
        self.goal_radius_m = float(
            config.load_params('rover.yaml', 'drive_controller')['goal_tolerance_m'])
        self.goal = None
        self.last_map: OccupancyGrid | None = None
        self.map_sent = False
        self.tf = FrameTransformsChannel(TF, context=context)
        self.scene = SceneUpdateChannel(SCENE, context=context)
        self.map = GridChannel(MAP, context=context)
        self.images = {topic: RawImageChannel(topic, context=context) for topic in HAZCAMS}
        self.diagnostics = foxglove.Channel(DIAGNOSTICS, schema=encode.DIAGNOSTICS_SCHEMA,
                                            context=context)
        self.create_subscription(JointState, 'rover/joint_states', self.joint_states_callback,
                                 STATE_QOS)
        self.create_subscription(Odometry, 'rover/odom', self.odom_callback, STATE_QOS)
        self.create_subscription(OccupancyGrid, 'rover/hazard/map', self.map_callback,
                                 LATCHED_QOS)
        self.create_subscription(PoseStamped, 'rover/goal', self.goal_callback, STATE_QOS)
        # Images best effort: a viewer never holds the camera's publisher back.
        self.create_subscription(Image, 'rover/hazcam/left/image_raw',
                                 lambda m: self.image_callback(HAZCAMS[0], m), SENSOR_QOS)
        self.create_subscription(Image, 'rover/hazcam/right/image_raw',
                                 lambda m: self.image_callback(HAZCAMS[1], m), SENSOR_QOS)
        self.create_subscription(DiagnosticArray, '/diagnostics', self.diagnostics_callback,
                                 STATE_QOS)
        # Wall time: the scene is redrawn for late joiners whether or not the sim runs.
        self.create_timer(float(p['scene_period_s']), self.scene_timer_callback,
                          clock=Clock(clock_type=ClockType.STEADY_TIME))
        self.get_logger().info(f'Foxglove live view on ws://{p["host"]}:{self.server.port}')

    def now_ns(self) -> int:
        return self.get_clock().now().nanoseconds

    def joint_states_callback(self, msg: JointState) -> None:
        stamp = stamp_to_ns(msg.header.stamp)
        self.frames.update(msg.name, msg.position)
        self.server.broadcast_time(stamp)
        if self.tf.has_sinks():
            self.tf.log(encode.frame_transforms(self.frames.transforms(), stamp), log_time=stamp)

    def odom_callback(self, msg: Odometry) -> None:
        stamp = stamp_to_ns(msg.header.stamp)
        p, q = msg.pose.pose.position, msg.pose.pose.orientation
        try:
            tf = pose_transform(msg.header.frame_id or ODOM, msg.child_frame_id or 'base_link',
                                (p.x, p.y, p.z), (q.x, q.y, q.z, q.w))
        except ValueError as exc:
            self.get_logger().warning(f'rover/odom not drawn: {exc}', throttle_duration_sec=10.0)
            return
        self.trail.add(tf.translation)
        if self.tf.has_sinks():
            self.tf.log(encode.frame_transforms([tf], stamp), log_time=stamp)

    def map_callback(self, msg: OccupancyGrid) -> None:
        self.last_map, self.map_sent = msg, False
        self.send_map()

    def send_map(self) -> None:
        """Log the last hazard map, once, when a client is subscribed: one that subscribes
        after it came (it comes transient local, maybe long before) gets it from the timer."""
        msg = self.last_map
        if msg is None or self.map_sent or not self.map.has_sinks():
            return
        self.map_sent = True
        info, o = msg.info, msg.info.origin
        try:
            cells = occupancy_cells(info.width, info.height, msg.data)
        except ValueError as exc:
            self.get_logger().warning(f'rover/hazard/map not drawn: {exc}')
            return
        stamp = stamp_to_ns(msg.header.stamp)
        origin = ((o.position.x, o.position.y, o.position.z),
                  (o.orientation.x, o.orientation.y, o.orientation.z, o.orientation.w))
        self.map.log(encode.grid(cells, info.resolution, origin, msg.header.frame_id or ODOM,
                                 stamp), log_time=stamp)

    def goal_callback(self, msg: PoseStamped) -> None:
        p = msg.pose.position
        self.goal = (msg.header.frame_id or ODOM, (p.x, p.y, p.z))
        self.scene_timer_callback()

    def image_callback(self, channel: str, msg: Image) -> None:
        if not self.images[channel].has_sinks():
            return
        stamp = stamp_to_ns(msg.header.stamp)
        self.images[channel].log(encode.raw_image(msg.width, msg.height, msg.encoding, msg.step,
                                                  bytes(msg.data), msg.header.frame_id, stamp),
                                 log_time=stamp)

    def diagnostics_callback(self, msg: DiagnosticArray) -> None:
        if not self.diagnostics.has_sinks():
            return
        stamp = stamp_to_ns(msg.header.stamp)
        self.diagnostics.log(encode.diagnostics_record(stamp, [
            (s.name, s.hardware_id, int.from_bytes(s.level, 'little'), s.message,
             [(kv.key, kv.value) for kv in s.values]) for s in msg.status]), log_time=stamp)

    def scene_timer_callback(self) -> None:
        self.send_map()
        if not self.scene.has_sinks():
            return
        stamp = self.now_ns()
        entities = [encode.link_entity(link, prims, stamp) for link, prims in self.links.items()]
        entities.append(encode.path_entity(self.trail.points, ODOM, stamp))
        if self.goal is not None:
            entities.append(encode.goal_entity(self.goal[1], self.goal_radius_m, self.goal[0],
                                               stamp))
        self.scene.log(encode.scene_update(entities), log_time=stamp)

    def destroy_node(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None
        super().destroy_node()


class Served:
    """The SDK's server on a loopback port of its own, behind the front on host:port
    (live/front.py: the protocol under both its names)."""

    def __init__(self, sdk: foxglove.WebSocketServer, front: Front):
        self.sdk, self.front = sdk, front

    @property
    def port(self) -> int:
        return self.front.port

    def broadcast_time(self, stamp_ns: int) -> None:
        self.sdk.broadcast_time(stamp_ns)

    def stop(self) -> None:
        self.front.close()
        self.sdk.stop()


def serve(context: foxglove.Context, host: str, port: int) -> Served:
    """Start a Foxglove WebSocket server on host:port for context's channels; raise LiveError
    naming them if it cannot (the port taken, out of range, a host not this machine's)."""
    what = 'choose another with the parameter port (--foxglove PORT)'
    if not 0 <= port <= MAX_PORT:
        raise LiveError(f'Foxglove live view: port {port} is not a TCP port (0..{MAX_PORT}): '
                        f'{what}')
    # Time: the clients follow the stack's clock (sim time on the simulator).
    sdk = foxglove.start_server(name=SERVER_NAME, host='127.0.0.1', port=0, context=context,
                                capabilities=[Capability.Time])
    try:
        return Served(sdk, Front(host, port, sdk.port))
    except FrontError as exc:
        sdk.stop()
        raise LiveError(f'Foxglove live view cannot serve on {host}:{port} ({exc}): if another '
                        f'live view or program has the port, {what} or stop that one; the '
                        f'host (parameter host) must be an address of this machine') from exc


def main(args=None) -> None:
    rclpy.init(args=args)
    spin_node(LiveNode())
