"""ROS 2 node /mission: the operator of the simulated mission.

A thin shell: its topics kept as plain values in a phases.Inputs, the phase machine
(mission/phases.py) run every 0.1 s of sim time, and the actions it returns carried
out: velocity commands, goals (as telecommands through the ground station when there
is one), service calls, camera pointing. The simulator's levers and instruments (the
wheel fault injected and cleared, ground truth, the rocks touched) go through the
simulator operator (mission/operator_node.py). At the end, the mission report
(mission/report.py) is written as summary.json beside the PNGs and printed as text.
The report page (mission/html_report.py) follows as report.html, drawn from the time
series kept as the mission runs (mission/timeline.py).
"""
from __future__ import annotations

import math
from pathlib import Path
import time

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from geometry_msgs.msg import PoseStamped, Twist
from nav_msgs.msg import OccupancyGrid, Odometry
import numpy as np
from rclpy.node import Node
from rclpy.parameter import Parameter
from sensor_msgs.msg import Image, JointState
from std_srvs.srv import Trigger

from chang_e_rover.lander.mutual import MutualImaging
from chang_e_rover.mission import html_report
from chang_e_rover.mission import products, report as mission_report
from chang_e_rover.mission.ground_link import GroundLink, relative
from chang_e_rover.mission.operator_node import SimOperator
from chang_e_rover.mission.phases import Action, Inputs, MissionPhases
from chang_e_rover.mission.plan import Crossing, FaultDrive
from chang_e_rover.mission.timeline import Timeline
from chang_e_rover.navigation.goal_status import GoalStatus, GoalStatusError
from chang_e_rover.robot_description import WHEEL_IDS
from chang_e_rover.ros_common import image_array, LATCHED_QOS, SENSOR_QOS, STATE_QOS
from chang_e_rover.sim.lockstep import waited_from

PERIOD_S = 0.1
ODOM_PATH_STEP_M = 0.05     # a point of the driven path (odom) is kept this far from the last


class MissionNode(Node):
    """Drives the mission phases and reports progress and a summary."""

    def __init__(self, report=print, fault_drive: FaultDrive | None = None, ground=None,
                 downlink_wait_s: float = 60.0, folder=None, panorama_timeout_s: float = 600.0,
                 deploy: bool = False, deploy_timeout_s: float = 1500.0,
                 crossing: Crossing | None = None, contacts=None, tall_rocks=(), **kwargs):
        kwargs['parameter_overrides'] = [Parameter('use_sim_time', value=True)]
        super().__init__('mission', **kwargs)
        self.say = report
        self.ground = GroundLink(ground) if ground is not None else None
        self.folder = None if folder is None else Path(folder)   # the mission's products
        self.phases = MissionPhases(fault_drive, crossing, ground=ground is not None,
                                    mutual=MutualImaging() if deploy else None,
                                    deploy_timeout_s=deploy_timeout_s,
                                    panorama_timeout_s=panorama_timeout_s,
                                    downlink_wait_s=downlink_wait_s)
        self.inputs = Inputs()
        self.report: dict | None = None         # the mission report, once finished
        self.hazard_map: OccupancyGrid | None = None
        self.panorama: Image | None = None
        self.path: list[tuple[float, float]] = []      # driven, odometry
        self.images: dict[str, Image] = {}
        self.detector_response: list[float] | None = None   # from rover/hazard_camera
        self.mutual_files: list[str] = []
        self.wall_start = time.monotonic()
        self.cmd_pub = self.create_publisher(Twist, 'rover/cmd_vel', STATE_QOS)
        self.goal_pub = self.create_publisher(PoseStamped, 'rover/goal', STATE_QOS)
        self.operator = SimOperator(self, contacts, tall_rocks)
        # The report page's time series (mission/timeline.py), fed beside the phases' inputs.
        self.timeline = Timeline()
        self.timeline.rocks = self.operator.tall_rocks
        if self.phases.mutual is not None:
            self.timeline.lander_xy = tuple(float(v)
                                            for v in self.phases.mutual.lander_centre[:2])
        self.create_subscription(Odometry, 'rover/odom', self.odom_callback, STATE_QOS)
        self.create_subscription(OccupancyGrid, 'rover/hazard/map', self.hazard_map_callback,
                                 LATCHED_QOS)
        self.create_subscription(DiagnosticArray, '/diagnostics', self.diagnostics_callback,
                                 STATE_QOS)
        # the simulator's account of its wall time: what its steps waited for
        self.waited_s: dict[str, float] = {}
        self.create_subscription(DiagnosticStatus, 'sim/lockstep', self.lockstep_callback,
                                 STATE_QOS)
        self.create_subscription(DiagnosticStatus, 'rover/goal_status', self.goal_status_callback,
                                 LATCHED_QOS)
        self.create_subscription(Image, 'lander/panorama', self.panorama_callback, LATCHED_QOS)
        self.triggers = {'panorama': self.create_client(Trigger, 'lander/camera/take_panorama'),
                        'sequencer': self.create_client(Trigger, 'lander/sequencer/start')}
        self.triggers.update({f'reset_{w}': self.create_client(Trigger, f'rover/wheel_{w}/reset')
                             for w in WHEEL_IDS})
        self.capture = {c: self.create_client(Trigger, f'{t}/capture')
                        for c, t in (('tcam', 'lander/tcam'), ('pancam', 'rover/pancam'))}
        self.joint_cmd = {r: self.create_publisher(JointState, f'{r}/joint_commands', STATE_QOS)
                          for r in ('rover', 'lander')}
        if deploy:
            for cam, topic in (('tcam', 'lander/tcam'), ('pancam', 'rover/pancam')):
                self.create_subscription(Image, f'{topic}/image_raw',
                                         lambda m, c=cam: self.images.__setitem__(c, m),
                                         SENSOR_QOS)
            for robot in ('rover', 'lander'):
                self.create_subscription(JointState, f'{robot}/joint_states', self.joint_callback,
                                         STATE_QOS)
        self.create_timer(PERIOD_S, self.timer_callback)

    @property
    def finished(self) -> bool:
        return self.phases.finished

    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    # ---- topics to plain values ----------------------------------------------------------
    def odom_callback(self, msg: Odometry) -> None:
        p, q = msg.pose.pose.position, msg.pose.pose.orientation
        self.inputs.odom_pose = (p.x, p.y, math.atan2(2 * (q.w * q.z + q.x * q.y),
                                                      1 - 2 * (q.y * q.y + q.z * q.z)))
        if not self.path or math.dist(self.path[-1], (p.x, p.y)) > ODOM_PATH_STEP_M:
            self.path.append((p.x, p.y))

    def joint_callback(self, msg: JointState) -> None:
        for i, name in enumerate(msg.name):
            if i < len(msg.position):
                v = msg.velocity[i] if i < len(msg.velocity) else 0.0
                self.inputs.joints[name] = (msg.position[i], v)

    def panorama_callback(self, msg: Image) -> None:
        self.panorama = msg
        self.inputs.panorama = True

    def hazard_map_callback(self, msg: OccupancyGrid) -> None:
        self.hazard_map = msg

    def diagnostics_callback(self, msg: DiagnosticArray) -> None:
        inp = self.inputs
        statuses = [(s, {kv.key: kv.value for kv in s.values}) for s in msg.status]
        self.timeline.diagnostics(self._now(), [(s.name, values) for s, values in statuses])
        for status, values in statuses:
            if status.name.startswith('rover/wheel_'):
                # When the unit reported it (its stamp): this callback can run later,
                # queued behind the simulator on the shared executor.
                stamp = msg.header.stamp.sec + 1e-9 * msg.header.stamp.nanosec
                self._carry_out(self.phases.wheel_status(
                    status.name[len('rover/wheel_'):], values.get('state', '?'),
                    values.get('fault', '?'), stamp, self._now()))
            elif status.name == 'lander/sequencer':
                if values.get('state') != inp.sequencer.get('state') or \
                        values.get('step') != inp.sequencer.get('step'):
                    self.say(f'[mission] lander sequencer: {status.message}')
                inp.sequencer = values
            elif status.name == 'rover/drive_controller':
                inp.healthy = values.get('healthy_wheels', '?')
            elif status.name == 'rover/hazard_camera':
                # the detectors' response, measured on the rover's calibration target
                try:
                    self.detector_response = [float(v) for v in
                                              values.get('response_rgb', '').split()]
                except ValueError:
                    pass

    def lockstep_callback(self, msg: DiagnosticStatus) -> None:
        self.waited_s = waited_from((kv.key, kv.value) for kv in msg.values)

    def goal_status_callback(self, msg: DiagnosticStatus) -> None:
        try:
            self.inputs.goal_status = GoalStatus.from_values((kv.key, kv.value)
                                                             for kv in msg.values)
        except GoalStatusError as exc:
            self.say(f'[mission] rover/goal_status ignored: {exc}')

    # ---- the phases ------------------------------------------------------------------------
    def timer_callback(self) -> None:
        inp, op = self.inputs, self.operator
        inp.truth, inp.distance_m = op.truth, op.meter.length
        self.timeline.poses(self._now(), op.truth, inp.odom_pose)
        if inp.truth is None or self.finished:
            return
        inp.ready = frozenset([name for name, c in self.triggers.items() if c.service_is_ready()]
                              + (['capture'] if all(c.service_is_ready()
                                                    for c in self.capture.values()) else []))
        inp.frames = len(self.images)
        if self.ground is not None:
            inp.link_up = self.ground.link_up
            inp.reset_tc = self.ground.state('wheel_reset')
            inp.downlinked = self.phases.phase == 'downlink' and self.ground.downlinked()
        if self.phases.phase == 'crossing':
            op.sample_crossing()
        self._carry_out(self.phases.update(inp, self._now()))
        self.timeline.phase(self.phases.phase_t, self.phases.phase, time.monotonic())
        if self.ground is not None:
            self.timeline.ground(self._now(), {leg: self.ground.state(leg)
                                               for leg in self.ground.sent},
                                 self.ground.station.payload_bytes)

    def _carry_out(self, actions: list[Action]) -> None:
        for action in actions:
            getattr(self, f'_do_{action.kind}')(*action.value)

    def _do_say(self, text: str) -> None:
        self.say(text)

    def _do_progress(self, text: str, remaining_sim_s: float) -> None:
        """A progress line, with the wall time left at the real-time factor so far."""
        sim_s = self._now() - (self.phases.start_t or self._now())
        wall_s = time.monotonic() - self.wall_start
        if sim_s > 1.0 and wall_s > 1.0:
            left = remaining_sim_s * wall_s / sim_s
            text += f'  about {left / 60:.0f} min left' if left >= 90 else \
                f'  about {left:.0f} s left'
        self.say(text)

    def _do_cmd(self, v: float, omega: float) -> None:
        cmd = Twist()
        cmd.linear.x, cmd.angular.z = v, omega
        self.cmd_pub.publish(cmd)

    def _do_start_sequencer(self) -> None:
        self._call('sequencer', 'lander sequencer')

    def _do_reset_wheel(self, wheel: str, announce: bool) -> None:
        self._call(f'reset_{wheel}', f'reset of wheel {wheel}' if announce else None)

    def _call(self, client: str, what: str | None) -> None:
        future = self.triggers[client].call_async(Trigger.Request())
        if what is not None:
            future.add_done_callback(lambda f: self.say(
                f'[mission] {what}: {f.result().message if f.result() else "no answer"}'))

    def _do_reset_tc(self, wheel: str) -> None:
        seq = self.ground.send('wheel_reset', 'wheel_reset', wheel=WHEEL_IDS.index(wheel))
        self.timeline.telecommand(self._now(), 'wheel_reset', 'wheel_reset', seq,
                                  f'wheel {wheel}')
        self.say(f'[mission] ground sent telecommand {seq}: wheel_reset {wheel}')

    def _do_aim(self, commands: dict[str, dict[str, float]]) -> None:
        for robot, joints in commands.items():
            self.joint_cmd[robot].publish(JointState(name=list(joints),
                                                     position=list(joints.values())))

    def _do_capture(self) -> None:
        self.images.clear()
        for client in self.capture.values():
            client.call_async(Trigger.Request())

    def _do_write_mutual(self) -> None:
        line = self.phases.mutual.write({c: image_array(m) for c, m in self.images.items()},
                                        self.folder, self.detector_response)
        self.phases.results['mutual'] = line
        # MutualImaging.write ends its line with the files it wrote
        _, written, names = line.partition('; written to ')
        self.mutual_files = [relative(n, self.folder) for n in names.split(', ')] if written \
            else []

    def _do_request_panorama(self) -> None:
        if self.ground is not None:
            seq = self.ground.send('panorama', 'take_panorama')
            self.timeline.telecommand(self._now(), 'panorama', 'take_panorama', seq)
            self.say(f'[mission] ground sent telecommand {seq}: take_panorama (80 frames of the '
                     'lander terrain camera)')
        else:
            self.triggers['panorama'].call_async(Trigger.Request())
            self.say('[mission] lander panorama requested')

    def _do_restart_meter(self) -> None:
        self.operator.restart_meter()

    def _do_goal(self, x: float, y: float, leg: str) -> None:
        self.timeline.goal(self._now(), x, y, leg)
        if leg == 'crossing':
            self.operator.begin_crossing()
        if self.ground is not None:
            # As flown: the goal goes up from the ground through the relay.
            seq = self.ground.send(leg, 'drive_goal', x_m=x, y_m=y)
            self.timeline.telecommand(self._now(), leg, 'drive_goal', seq,
                                      f'x_m={x:.2f}, y_m={y:.2f}')
            where = (f', {self.phases.results["crossing_distance"]:.1f} m through the rock field'
                     if leg == 'crossing' else '')
            self.say(f'[mission] ground sent telecommand {seq}: drive_goal ({x:.2f}, {y:.2f}) '
                     f'in odom{where}')
            return
        goal = PoseStamped()
        goal.header.frame_id = 'odom'
        goal.header.stamp = self.get_clock().now().to_msg()
        goal.pose.position.x, goal.pose.position.y = x, y
        goal.pose.orientation.w = 1.0
        self.goal_pub.publish(goal)

    def _do_inject_fault(self, wheel: str, kind: str) -> None:
        self.operator.set_fault(wheel, kind)

    def _do_clear_fault(self, wheel: str) -> None:
        self.operator.set_fault(wheel, 'none')

    def _do_await_downlink(self) -> None:
        # Everything the relay had numbered by the arrival must be on the ground.
        self.ground.mark_downlink()
        self.say('[mission] waiting for the ground to receive the completion report and the '
                 'downlink to catch up')

    def _do_finish(self) -> None:
        """Write the products and the report, and print its summary."""
        wall_s = time.monotonic() - self.wall_start
        panorama = hazard_map = None
        if self.panorama is not None:
            m = self.panorama
            panorama = {'width_px': m.width, 'height_px': m.height, 'file': None}
            if self.folder is not None:
                rgb = np.frombuffer(bytes(m.data), np.uint8).reshape(m.height, m.width, 3)
                panorama = products.write_panorama(self.folder, rgb)
        if self.folder is not None and self.hazard_map is not None:
            info = self.hazard_map.info
            cost = np.asarray(self.hazard_map.data, dtype=np.int8).reshape(info.height,
                                                                           info.width)
            hazard_map = products.write_hazard_map(
                self.folder, cost, (info.origin.position.x, info.origin.position.y),
                info.resolution, self.path)
        crossing = self.phases.crossing
        self.report = mission_report.build(
            self.phases, sequencer=self.inputs.sequencer, truth=self.operator.truth,
            crossing=None if crossing is None else self.operator.crossing_record(crossing.near_m),
            ground=None if self.ground is None else self.ground.record(self.folder),
            panorama=panorama, hazard_map=hazard_map, mutual_files=self.mutual_files,
            wall_s=wall_s, pace=self.timeline.pace(self._now(), time.monotonic()),
            waited=self.waited_s)
        text = mission_report.text(self.report, self.folder)
        if self.folder is not None:
            path = mission_report.write(self.report, self.folder)
            text += f'\nmission report: written to {path}'
        self.say(text)
        if self.folder is not None:
            self.say(self._write_report_page())

    def _write_report_page(self) -> str:
        """Write report.html beside summary.json; return the line saying where, or why not."""
        grid = None
        if self.hazard_map is not None:
            info = self.hazard_map.info
            grid = (np.asarray(self.hazard_map.data, dtype=np.int8).reshape(info.height,
                                                                            info.width),
                    (info.origin.position.x, info.origin.position.y), info.resolution)
        try:
            path = html_report.write(self.folder, self.report, self.timeline, grid)
        except html_report.ReportPageError as exc:
            return f'mission report page: NOT written: {exc}'
        return f'mission report page: written to {path}'
