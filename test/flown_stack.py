"""The flown stack in one process, as the suite and the benches drive it.

RosSession: an rclpy context of its own with one executor of the kind the stack
spins on. HazardStack: the whole drive stack with the hazard camera on a terrain,
each node that asks for it on an executor and thread of its own (as in one-process
bringup). cross_rock_field: a goal drive through a seeded rock field, every node
over DDS with its own map and estimates, judged afterwards against the simulator's
truth (test_hazard_stack.py asserts on one field, bench_hazard_recall.py --stack
flown pools several).
"""
from __future__ import annotations

from collections import OrderedDict
import math
import threading
import time

from chang_e_rover import config, graph, runner
from chang_e_rover.robot_description import load_urdf, rover_geometry
from chang_e_rover.ros_common import STATE_QOS

TOP_SPEED = config.load_params('rover.yaml', 'drive_controller')['max_speed_m_s']
GEOMETRY = rover_geometry(load_urdf(config.urdf_path('rover.urdf')))
FRONT = max(x for x, _ in GEOMETRY.wheel_xy.values()) + GEOMETRY.wheel_radius   # base to tyre
TRUTH_KEPT = 40     # steps of truth kept for the attitude check (the IMU lags a step or two)
SKIP = ('relay', 'science', 'link')   # not needed to drive: they cost time, the link binds ports


class RosSession:
    """An rclpy context of its own with one executor of the kind the stack spins on."""

    def __init__(self):
        import rclpy
        self.rclpy = rclpy
        self.context = rclpy.Context()
        rclpy.init(context=self.context)
        self.executor = runner.make_executor(context=self.context)
        self.nodes = []

    def add(self, node):
        self.nodes.append(node)
        self.executor.add_node(node)
        return node

    def node(self, name: str, **kwargs):
        from rclpy.node import Node
        return self.add(Node(name, context=self.context, **kwargs))

    def spin_until(self, predicate, timeout: float, what: str = 'condition') -> None:
        """Spin until predicate() is true; AssertionError after timeout wall seconds."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f'timed out after {timeout} s waiting for {what}')
            self.executor.spin_once(timeout_sec=0.05)

    def spin_for(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.executor.spin_once(timeout_sec=0.05)

    def close(self) -> None:
        for node in self.nodes:
            self.executor.remove_node(node)
            node.destroy_node()
        self.executor.shutdown()
        self.rclpy.try_shutdown(context=self.context)


class HazardStack:
    def __init__(self, ros, terrain: str, seed: int = 1, rock_abundance: float = 0.05,
                 visual_odometry: bool | None = None):
        """:param visual_odometry: the hazard node's vo.enabled; None: config's."""
        from geometry_msgs.msg import Twist
        self.ros = ros
        specs = [s for s in graph.all_nodes() if s.name not in SKIP]
        self.nodes = runner.build_nodes(specs, {'sim': {
            'real_time_factor': 0.0, 'terrain.name': terrain, 'terrain.seed': seed,
            'terrain.rock_abundance': rock_abundance},
            'hazard_camera': {} if visual_odometry is None else {'vo.enabled': visual_odometry}},
            context=ros.context)
        self.stop = threading.Event()
        self.threads = []
        for spec, node in zip(specs, self.nodes):
            if spec.own_executor:
                ex = runner.make_executor(context=ros.context)
                ex.add_node(node)
                th = threading.Thread(target=self._spin, args=(ex,), daemon=True)
                th.start()
                self.threads.append((th, ex, node))
            else:
                ros.add(node)
        self.sim = self.nodes[0]
        self.controller = next(n for n in self.nodes if n.get_name() == 'drive_controller')
        self.hazard = next(n for n in self.nodes if n.get_name() == 'hazard_camera')
        self.cmd = ros.node('operator').create_publisher(Twist, 'rover/cmd_vel', STATE_QOS)

    def _spin(self, ex):
        while not self.stop.is_set():
            ex.spin_once(timeout_sec=0.1)

    def drive_ahead(self, seconds: float) -> float:
        """Command top speed for seconds of sim time; return the furthest tyre front x."""
        from geometry_msgs.msg import Twist
        front, next_send = -1e9, 0.0
        while self.sim.world.time < seconds:
            if self.sim.world.time >= next_send:
                msg = Twist()
                msg.linear.x = TOP_SPEED
                self.cmd.publish(msg)
                next_send = self.sim.world.time + 0.1
                front = max(front, self.sim.world.ground_truth().position[0] + FRONT)
            self.ros.executor.spin_once(timeout_sec=0.05)
        return front

    def close(self):
        self.stop.set()
        for th, ex, node in self.threads:
            th.join(timeout=2.0)
            ex.remove_node(node)
            node.destroy_node()
            ex.shutdown()


def cross_rock_field(s: HazardStack, goal_x: float = 15.0, cap_s: float = 420.0) -> dict:
    """Send a goal goal_x m ahead and drive until it is reached or cap_s of sim time; then
    the stack's own map against the truth (harness.map_quality over the true left-hazcam
    poses of the frames), with what the drive did: reached, where, tall rocks touched,
    wheels in service, the odometry's largest error, and its attitude's largest error
    (deg) once aligned."""
    from geometry_msgs.msg import PoseStamped
    from sensor_msgs.msg import CameraInfo
    from transforms3d.euler import quat2euler

    from chang_e_rover.sim.camera import intrinsics
    from harness import map_quality
    ros, w = s.ros, s.sim.world
    limit = config.load_params('rover.yaml', 'hazard_camera')['max_step_m']
    tall = {f'rock_{i}' for i, r in enumerate(w.terrain.rocks) if 0.5 * r[2] > limit}
    probe = ros.node('navigator')
    goal_pub = probe.create_publisher(PoseStamped, 'rover/goal', STATE_QOS)
    # The left hazcam's true pose at each frame (a step or two late at most: this
    # callback shares the simulator's thread): which rocks the cameras had in view.
    cam = w.model.camera('hazcam_left').id
    views = []
    probe.create_subscription(CameraInfo, 'rover/hazcam/left/camera_info', lambda _: views.append(
        (w.data.cam_xpos[cam].copy(), w.data.cam_xmat[cam].reshape(3, 3).copy())), 10)
    touched: set[str] = set()
    path, odom_error = [], 0.0
    worst = {'roll': 0.0, 'pitch': 0.0, 'heading': 0.0}
    truth_at: OrderedDict[float, tuple] = OrderedDict()   # the last TRUTH_KEPT steps'
    heading0 = None
    wall0 = time.monotonic()
    while w.time < 3.0:
        ros.executor.spin_once(timeout_sec=0.05)
    goal = PoseStamped()
    goal.header.frame_id = 'odom'
    goal.pose.position.x, goal.pose.orientation.w = goal_x, 1.0
    goal_pub.publish(goal)
    core = s.controller.core
    while w.time < cap_s and not (core.goal is not None and core.goal.reached):
        ros.executor.spin_once(timeout_sec=0.05)
        touched |= w.rover_contacts() & tall
        truth = w.ground_truth().position[:2]
        odom_error = max(odom_error, math.dist(truth, (core.odometry.x, core.odometry.y)))
        # The truth at each step's time: the estimate is compared with the truth at its
        # last IMU sample's stamp (the sample may be a step older than the world).
        truth_at[round(w.time, 6)] = quat2euler(w.ground_truth().quaternion, 'sxyz')
        while len(truth_at) > TRUTH_KEPT:
            truth_at.popitem(last=False)
        est = core.attitude_estimator
        at = truth_at.get(round(est.stamp, 6)) if est.stamp is not None else None
        if not core.aligning and est.roll is not None and at is not None:
            roll, pitch, yaw = at
            off = core.odometry.yaw - yaw
            heading = math.atan2(math.sin(off), math.cos(off))
            heading0 = heading if heading0 is None else heading0
            for key, err in (('roll', core.roll - roll), ('pitch', core.pitch - pitch),
                             ('heading', heading - heading0)):
                worst[key] = max(worst[key], abs(math.degrees(err)))
        if not path or math.dist(path[-1], truth) > 0.1:
            path.append(tuple(truth))
    spec = w.cameras['hazcam_left']
    q = map_quality(s.hazard.map, s.hazard.limits, w, path, views=views, K=intrinsics(spec),
                    size=(spec.width, spec.height), registration_m=odom_error)
    pos = w.ground_truth().position
    q.update(reached=bool(core.goal is not None and core.goal.reached),
             arrival_error_m=math.hypot(pos[0] - goal_x, pos[1]), position=tuple(pos[:2]),
             touched=sorted(touched), tall=len(tall), healthy=len(core.healthy(w.time)),
             odom_error_m=odom_error, attitude_error_deg=worst, frames=len(views),
             sim_s=w.time, wall_s=time.monotonic() - wall0,
             events=[f'{e.t:.0f} s {e.what}' for e in core.events])
    return q
