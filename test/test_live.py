"""--foxglove: a Foxglove client on the live view sees the rover's frames, scene and hazard map."""
import base64
import collections
import json
import math
import socket
import struct
import threading

from geometry_msgs.msg import PoseStamped, Twist
from nav_msgs.msg import OccupancyGrid, Odometry
import numpy as np
import pytest
from rclpy.parameter import Parameter
from sensor_msgs.msg import JointState
from test_live_core import decoder
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from chang_e_rover import config, graph, runner
from chang_e_rover.live.live_node import LiveNode
from chang_e_rover.robot_description import load_urdf
from chang_e_rover.ros_common import LATCHED_QOS, STATE_QOS, stamp_to_ns

SUBPROTOCOL = 'foxglove.websocket.v1'    # the ICD's name of the protocol (live/front.py)
MESSAGE_DATA = 1                    # binary opcode of a server's message
ROBOT = load_urdf(config.urdf_path('rover.urdf'))
GOAL_TOLERANCE_M = config.load_params('rover.yaml', 'drive_controller')['goal_tolerance_m']


class FoxgloveClient:
    """A client of the Foxglove WebSocket protocol, as the Foxglove app speaks it: reads the
    server's info and advertised channels, subscribes, keeps each channel's messages."""

    def __init__(self, ws):
        self.ws = ws
        self.info = json.loads(self.ws.recv(timeout=10))
        self.channels: dict[str, dict] = {}             # topic -> advertised channel
        self.payloads = collections.defaultdict(list)   # topic -> [(log time ns, payload)]
        self.subscriptions: dict[int, str] = {}
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self.read, daemon=True)
        self.thread.start()

    def read(self) -> None:
        try:
            for frame in self.ws:
                self.take(frame)
        except ConnectionClosed:
            pass                    # the server stopped: the test sees what came before

    def take(self, frame: str | bytes) -> None:
        with self.lock:
            if isinstance(frame, str):
                msg = json.loads(frame)
                if msg['op'] == 'advertise':
                    self.channels.update({c['topic']: c for c in msg['channels']})
            elif frame[0] == MESSAGE_DATA:   # opcode, subscription id, log time, payload
                sub, log_time = struct.unpack_from('<IQ', frame, 1)
                self.payloads[self.subscriptions[sub]].append((log_time, frame[13:]))

    def subscribe(self, *topics: str) -> None:
        with self.lock:
            subs = []
            for topic in topics:
                sub = len(self.subscriptions) + 1
                self.subscriptions[sub] = topic
                subs.append({'id': sub, 'channelId': self.channels[topic]['id']})
        self.ws.send(json.dumps({'op': 'subscribe', 'subscriptions': subs}))

    def count(self, topic: str) -> int:
        with self.lock:
            return len(self.payloads.get(topic, ()))

    def messages(self, topic: str) -> list:
        """The topic's messages so far, decoded with the schema its channel advertised."""
        channel = self.channels[topic]
        with self.lock:
            payloads = list(self.payloads[topic])
        if channel['encoding'] == 'json':
            return [json.loads(p) for _, p in payloads]
        assert channel['encoding'] == channel['schemaEncoding'] == 'protobuf'
        decode = decoder(channel['schemaName'], base64.b64decode(channel['schema']))
        return [decode(p) for _, p in payloads]



def test_a_foxglove_client_sees_the_rover_move_in_its_frames_and_scene(ros):
    spec, params = graph.live(0)       # port 0: any free one
    nodes = runner.build_nodes(graph.all_nodes() + [spec],
                               {'sim': {'real_time_factor': 0.0}, **params}, context=ros.context)
    for node in nodes:
        ros.add(node)
    sim, live = nodes[0], nodes[-1]
    assert live.server is not None, live.error
    probe = ros.node('operator')
    cmd = probe.create_publisher(Twist, 'rover/cmd_vel', STATE_QOS)
    odom, joints, maps = {}, {}, {}
    probe.create_subscription(Odometry, 'rover/odom', lambda m: odom.setdefault(
        stamp_to_ns(m.header.stamp), m.pose.pose.position), STATE_QOS)
    probe.create_subscription(JointState, 'rover/joint_states', lambda m: joints.setdefault(
        stamp_to_ns(m.header.stamp), dict(zip(m.name, m.position))), STATE_QOS)
    probe.create_subscription(OccupancyGrid, 'rover/hazard/map', lambda m: maps.setdefault(
        stamp_to_ns(m.header.stamp), m), LATCHED_QOS)
    url = f'ws://127.0.0.1:{live.server.port}'
    with connect(url, subprotocols=['foxglove.sdk.v1'], open_timeout=10) as newer:
        assert newer.subprotocol == 'foxglove.sdk.v1', 'the newer name is served as well'
        assert json.loads(newer.recv(timeout=10))['op'] == 'serverInfo'
    with connect(url, subprotocols=[SUBPROTOCOL], max_size=None, open_timeout=10) as ws:
        assert ws.subprotocol == SUBPROTOCOL
        client = FoxgloveClient(ws)
        assert client.info['op'] == 'serverInfo' and 'time' in client.info['capabilities']
        ros.spin_until(lambda: len(client.channels) >= 6, 10, 'the channels advertised')
        schemas = {t: c['schemaName'] for t, c in client.channels.items()}
        assert schemas['/tf'] == 'foxglove.FrameTransforms'
        assert schemas['/rover/scene'] == 'foxglove.SceneUpdate'
        assert schemas['/rover/hazard/map'] == 'foxglove.Grid'
        assert schemas['/rover/hazcam/left/image_raw'] == 'foxglove.RawImage'
        assert client.channels['/diagnostics']['encoding'] == 'json'
        client.subscribe('/tf', '/rover/scene', '/rover/hazard/map',
                         '/rover/hazcam/left/image_raw', '/diagnostics')
        ros.spin_until(lambda: sim.world.time > 1.0, 120, 'the stack stepping')
        forward = Twist()
        forward.linear.x = 0.05
        while sim.world.time < 6.0 or not (client.count('/rover/hazard/map')
                                           and client.count('/rover/hazcam/left/image_raw')):
            cmd.publish(forward)
            ros.spin_for(0.1)
            assert sim.world.time < 20.0, 'no hazard map or hazcam image in 20 s of sim time'
        goal = PoseStamped()
        goal.header.frame_id, goal.pose.position.x, goal.pose.position.y = 'odom', 3.0, 1.0
        probe.create_publisher(PoseStamped, 'rover/goal', STATE_QOS).publish(goal)
        ros.spin_for(1.0)           # a scene update after the last of the motion, and the goal
        check_frames(client.messages('/tf'), odom, joints)
        check_scene(client.messages('/rover/scene')[-1])
        check_map(client.messages('/rover/hazard/map'), maps)
        image = client.messages('/rover/hazcam/left/image_raw')[-1]
        assert image.frame_id == 'hazcam_left_optical_frame' and image.encoding == 'rgb8'
        camera = sim.world.cameras['hazcam_left']
        assert (image.width, image.height) == (camera.width, camera.height)
        assert len(image.data) == image.height * image.step == camera.height * camera.width * 3
        names = {s['name'] for d in client.messages('/diagnostics') for s in d['status']}
        assert {'rover/wheel_lf', 'rover/drive_controller'} <= names, names


def ns(stamp) -> int:
    """A decoded google.protobuf.Timestamp in nanoseconds."""
    return stamp.seconds * 1_000_000_000 + stamp.nanos


def check_frames(messages, odom, joints) -> None:
    """odom -> base_link is the odometry of the same stamp; each joint turns by its state."""
    base = [t for m in messages for t in m.transforms if t.child_frame_id == 'base_link']
    matched = [(t, odom[ns(t.timestamp)]) for t in base if ns(t.timestamp) in odom]
    assert len(matched) >= 20, f'{len(base)} base_link transforms, {len(matched)} matched'
    for t, p in matched:
        assert t.parent_frame_id == 'odom'
        assert (t.translation.x, t.translation.y, t.translation.z) == (p.x, p.y, p.z)
    assert max(t.translation.x for t, _ in matched) > 0.1, 'the rover drove forward'
    wheels = [t for m in messages for t in m.transforms if t.child_frame_id == 'wheel_lf']
    turned = 0
    for t in wheels:
        q = joints.get(ns(t.timestamp), {}).get('wheel_lf_joint')
        if q is not None:
            # wheel_lf_joint turns about y (the URDF's axis), from its joint origin.
            assert (t.rotation.x, t.rotation.y, t.rotation.z, t.rotation.w) == pytest.approx(
                (0.0, math.sin(q / 2), 0.0, math.cos(q / 2)), abs=1e-9)
            turned += abs(q) > 0.1
    assert turned > 0, 'the left front wheel turned'
    children = {t.child_frame_id: t.parent_frame_id for m in messages for t in m.transforms}
    assert children['hazcam_left_optical_frame'] == 'hazcam_left'
    assert set(children) == set(ROBOT.links), 'every link a frame (base_link in odom)'


def check_scene(update) -> None:
    """An entity per rover link with visuals, drawn from the URDF, and the path driven."""
    by_id = {e.id: e for e in update.entities}
    links = {n for n, link in ROBOT.links.items() if link.visuals}
    assert {i for i in by_id if i.startswith('rover/')} == {f'rover/{n}' for n in links}
    wheel = by_id['rover/wheel_lf']
    radius, width = ROBOT.links['wheel_lf'].visuals[0].size
    assert wheel.frame_id == 'wheel_lf' and wheel.frame_locked
    assert (wheel.cylinders[0].size.x, wheel.cylinders[0].size.z) == (2 * radius, width)
    body = by_id['rover/base_link'].cubes[0].size
    assert (body.x, body.y, body.z) == ROBOT.links['base_link'].visuals[0].size
    goal = by_id['goal']
    assert goal.frame_id == 'odom'
    assert (goal.cylinders[0].pose.position.x, goal.cylinders[0].pose.position.y) == (3.0, 1.0)
    assert goal.cylinders[0].size.x == 2 * GOAL_TOLERANCE_M, 'a disc as wide as it is reached'
    path = by_id['path'].lines[0].points
    assert by_id['path'].frame_id == 'odom' and len(path) >= 2
    assert path[-1].x - path[0].x > 0.05


def check_map(grids, maps) -> None:
    """The Grid carries the hazard map's costs cell for cell, where the map puts them."""
    grid = grids[-1]
    source = maps[ns(grid.timestamp)]
    assert grid.frame_id == source.header.frame_id == 'odom'
    assert grid.column_count == source.info.width
    assert grid.cell_size.x == source.info.resolution
    assert (grid.pose.position.x, grid.pose.position.y) == (source.info.origin.position.x,
                                                            source.info.origin.position.y)
    cells = np.frombuffer(grid.data, np.uint8).reshape(-1, grid.cell_stride)
    assert cells[:, 4].view(np.int8).tolist() == list(source.data)


def test_a_taken_port_is_named_and_nothing_else_stops(ros, capfd):
    with socket.socket() as taken:
        taken.bind(('127.0.0.1', 0))
        taken.listen()
        port = taken.getsockname()[1]
        spec, params = graph.live(port)
        sim, live = runner.build_nodes([graph.find('/sim'), spec],
                                       {'sim': {'real_time_factor': 0.0}, **params},
                                       context=ros.context)
        ros.add(sim)
        ros.add(live)
        assert live.server is None
        assert f'127.0.0.1:{port}' in live.error and '--foxglove PORT' in live.error
        assert {s.topic_name for s in live.subscriptions} <= {'/clock'}, 'it listens to nothing'
        ros.spin_until(lambda: sim.world.time > 1.0, 60, 'the simulator stepping on')
    assert f'127.0.0.1:{port}' in capfd.readouterr().err, 'the error is logged'
    for port in (70000, -1):
        node = ros.add(LiveNode(context=ros.context,
                                parameter_overrides=[Parameter('port', value=port)]))
        assert node.server is None and f'port {port} is not a TCP port' in node.error
