"""ROS 2 node /mission: the operator of the simulated mission.

Phases: when the rover starts on the lander's deck, the deployment (the lander
sequencer: checkout, survey, ramp, release, drive-off, park) and mutual imaging
(the lander's terrain camera on the rover, the rover's pancam on the lander,
pointed from the two poses); the lander's 360 degree panorama (the
take_panorama telecommand through the relay when a ground station is there); a
scripted traverse (velocity commands); then a 5 m goal drive during which a
wheel fails (injected through the /sim fault parameter, as a test operator
would); then, when a crossing is planned, the fault is cleared, the ground
resets the wheel (wheel_reset telecommand) and sends a goal through the rock
field beyond the open ground around the lander; then a summary. Everything it
knows comes from topics, but for the ground-truth contact probe a test operator
would watch (which rocks the rover touches).
"""
from __future__ import annotations

import math
import time

from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PoseStamped, Twist
from nav_msgs.msg import OccupancyGrid, Odometry
from rcl_interfaces.srv import SetParameters
from rclpy.node import Node
from rclpy.parameter import Parameter
from sensor_msgs.msg import Image, JointState
from std_srvs.srv import Trigger

from chang_e_rover.lander.mutual import MutualImaging
from chang_e_rover.mission.plan import Crossing, FaultDrive, PathMeter, PlanClock, SetHeading
from chang_e_rover.ros_common import LATCHED_QOS, SENSOR_QOS, STATE_QOS


MUTUAL_TURN_RATE = 0.1       # rad/s, for MUTUAL_TURN_S: 0.3 rad (17 deg)
MUTUAL_TURN_S = 3.0
MUTUAL_TURN_SETTLE_S = 2.0


def _held_short(short: str | None) -> str:
    """The summary's note of a goal drive that ended held short of its goal (the controller's
    `goal_short_m`, odometry), or nothing."""
    try:
        metres = float(short or 0.0)
    except ValueError:
        return ''
    return f', ended held {metres:.2f} m short (odometry)' if metres > 0 else ''


class MissionNode(Node):
    """Drives the mission phases and reports progress and a summary."""

    def __init__(self, report=print, fault_drive: FaultDrive | None = None, ground=None,
                 downlink_wait_s: float = 60.0, folder=None, panorama_timeout_s: float = 600.0,
                 deploy: bool = False, deploy_timeout_s: float = 1500.0,
                 crossing: Crossing | None = None, contacts=None, tall_rocks=(), **kwargs):
        kwargs['parameter_overrides'] = [Parameter('use_sim_time', value=True)]
        super().__init__('mission', **kwargs)
        self.report = report
        self.ground = ground            # the ground station: goals go up as telecommands
        self.folder = folder            # where the mission writes its products
        self.hazard_map: OccupancyGrid | None = None
        self.path: list[tuple[float, float]] = []
        self.downlink_wait_s = downlink_wait_s
        self.goal_tc: int | None = None
        self.downlink_target: dict[int, int] = {}
        self.plan = PlanClock()
        self.fault_drive = fault_drive or FaultDrive()
        self.set_heading = SetHeading()
        self._heading_done: float | None = None
        self.crossing = crossing
        self.contacts = contacts        # ground truth: names of the geoms the rover touches
        self.tall_rocks = {name: xy for name, xy in tall_rocks}   # over crossing.tall_m
        self.touched: set[str] = set()
        self.crossing_tc: int | None = None
        self.crossing_path: list[tuple[float, float]] = []
        self.meter = PathMeter()
        self.truth = None
        self.odom = None
        self.odom_pose = None
        self.phase = 'deploy' if deploy else 'panorama'
        self.deploy_timeout_s = deploy_timeout_s
        self.sequencer: dict[str, str] = {}
        self.mutual = MutualImaging() if deploy else None
        self.images: dict[str, Image] = {}
        self.joints: dict[str, tuple[float, float]] = {}
        self.traverse_offset: tuple[float, float] | None = None
        self._turn_until: float | None = None    # mutual imaging: turning the lander into reach
        # During the deployment a wheel that latches a fault is reset from the ground, as
        # the flight team would once the telemetry shows it clear (the sequencer holds).
        self.deploy_resets: list[str] = []
        self._reset_due: dict[str, float] = {}
        self.reset_clients = {w: self.create_client(Trigger, f'rover/wheel_{w}/reset')
                              for w in ('lf', 'lm', 'lr', 'rf', 'rm', 'rr')}
        self.panorama: Image | None = None
        self.panorama_tc: int | None = None
        self.panorama_timeout_s = panorama_timeout_s
        self.phase_t: float | None = None
        self.start_t: float | None = None
        self.wall_start = time.monotonic()
        self.finished = False
        self.results: dict = {}
        self.wheel_states: dict[str, tuple[str, str]] = {}
        self.controller_goal = ''
        self.controller_goal_short = '0.00'  # m, as the controller's diagnostics give it
        self._last_report = -math.inf
        self.cmd_pub = self.create_publisher(Twist, 'rover/cmd_vel', STATE_QOS)
        self.goal_pub = self.create_publisher(PoseStamped, 'rover/goal', STATE_QOS)
        self.create_subscription(Odometry, 'sim/ground_truth/odom', self.truth_callback, STATE_QOS)
        self.create_subscription(Odometry, 'rover/odom', self.odom_callback, STATE_QOS)
        self.create_subscription(OccupancyGrid, 'rover/hazard/map', self.hazard_map_callback,
                                 LATCHED_QOS)
        self.create_subscription(DiagnosticArray, '/diagnostics', self.diagnostics_callback,
                                 STATE_QOS)
        self.create_subscription(Image, 'lander/panorama', self.panorama_callback, LATCHED_QOS)
        self.panorama_client = self.create_client(Trigger, 'lander/camera/take_panorama')
        self.sequencer_client = self.create_client(Trigger, 'lander/sequencer/start')
        self.capture = {c: self.create_client(Trigger, f'{t}/capture')
                        for c, t in (('tcam', 'lander/tcam'), ('pancam', 'rover/pancam'))}
        self.joint_cmd = {r: self.create_publisher(JointState, f'{r}/joint_commands', STATE_QOS)
                          for r in ('rover', 'lander')}
        if deploy:
            for cam, topic in (('tcam', 'lander/tcam'), ('pancam', 'rover/pancam')):
                self.create_subscription(Image, f'{topic}/image_raw',
                                         lambda m, c=cam: self.images.__setitem__(c, m), SENSOR_QOS)
            for robot in ('rover', 'lander'):
                self.create_subscription(JointState, f'{robot}/joint_states', self.joint_callback,
                                         STATE_QOS)
        self.sim_params = self.create_client(SetParameters, '/sim/set_parameters')
        self.create_timer(0.1, self.timer_callback)

    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def truth_callback(self, msg: Odometry) -> None:
        p = msg.pose.pose.position
        self.truth = (p.x, p.y, p.z)
        self.meter.add(*self.truth)

    def odom_callback(self, msg: Odometry) -> None:
        self.odom = (msg.pose.pose.position.x, msg.pose.pose.position.y)
        q = msg.pose.pose.orientation
        self.odom_pose = (*self.odom, math.atan2(2 * (q.w * q.z + q.x * q.y),
                                                 1 - 2 * (q.y * q.y + q.z * q.z)))
        if not self.path or math.dist(self.path[-1], self.odom) > 0.05:
            self.path.append(self.odom)

    def joint_callback(self, msg: JointState) -> None:
        for i, name in enumerate(msg.name):
            if i < len(msg.position):
                v = msg.velocity[i] if i < len(msg.velocity) else 0.0
                self.joints[name] = (msg.position[i], v)

    def panorama_callback(self, msg: Image) -> None:
        self.panorama = msg

    def hazard_map_callback(self, msg: OccupancyGrid) -> None:
        self.hazard_map = msg

    def diagnostics_callback(self, msg: DiagnosticArray) -> None:
        for status in msg.status:
            values = {kv.key: kv.value for kv in status.values}
            if status.name.startswith('rover/wheel_'):
                wheel = status.name[len('rover/wheel_'):]
                state = (values.get('state', '?'), values.get('fault', '?'))
                if state[0] == 'FAULT' and self.wheel_states.get(wheel, ('', ''))[0] != 'FAULT':
                    if self.phase == 'deploy':
                        self._reset_due.setdefault(wheel, self._now() + 2.0)
                        self.report(f'[mission] wheel {wheel} reports FAULT {state[1]} during the '
                                    'deployment: the ground will reset it')
                    else:
                        # the failure the mission injects: not a fault from before it
                        if self.phase == 'fault_drive' and 'injected' in self.results and \
                                wheel == self.fault_drive.wheel:
                            # When the unit reported it (its stamp): this callback can run
                            # later, queued behind the simulator on the shared executor.
                            stamp = msg.header.stamp.sec + 1e-9 * msg.header.stamp.nanosec
                            self.results.setdefault('detected', (wheel, state[1],
                                                                 stamp or self._now()))
                        self.report(f'[mission] wheel {wheel} reports FAULT {state[1]}: isolated')
                elif state[0] == 'ENABLED':
                    self._reset_due.pop(wheel, None)
                self.wheel_states[wheel] = state
            elif status.name == 'lander/sequencer':
                if values.get('state') != self.sequencer.get('state') or \
                        values.get('step') != self.sequencer.get('step'):
                    self.report(f'[mission] lander sequencer: {status.message}')
                self.sequencer = values
            elif status.name == 'rover/drive_controller':
                self.controller_goal = values.get('goal', '')
                self.controller_goal_short = values.get('goal_short_m', '0.00')
                self.results['healthy'] = values.get('healthy_wheels', '?')

    def timer_callback(self) -> None:
        now = self._now()
        if self.truth is None or self.finished:
            return
        if self.start_t is None:
            self.start_t = self.phase_t = now
        if self.phase == 'deploy':
            self._deploy(now)
        elif self.phase == 'mutual':
            self._mutual(now)
        elif self.phase == 'panorama':
            self._panorama(now)
        elif self.phase == 'heading':
            self._heading(now)
        elif self.phase == 'traverse':
            self._traverse(now)
        elif self.phase == 'fault_drive':
            self._fault_drive(now)
        elif self.phase == 'recover':
            self._recover(now)
        elif self.phase == 'crossing':
            self._crossing(now)
        elif self.phase == 'downlink':
            self._downlink(now)

    def _progress(self, now: float, label: str, share: float) -> None:
        if now - self._last_report >= 10.0:
            self._last_report = now
            x, y, _ = self.truth
            odom = '' if self.odom is None else f'  odom ({self.odom[0]:6.2f}, {self.odom[1]:6.2f})'
            self.report(f'[mission] t={now - self.start_t:6.1f} s  {label:<16} true ({x:6.2f}, '
                        f'{y:6.2f}){odom}  {100 * share:3.0f} %')

    def _deploy(self, now: float) -> None:
        """Arm the lander's deployment sequence and wait until the rover is parked."""
        if 'deploy_asked' not in self.results:
            if not self.sequencer_client.service_is_ready():
                return
            future = self.sequencer_client.call_async(Trigger.Request())
            future.add_done_callback(lambda f: self.report(
                f'[mission] lander sequencer: {f.result().message if f.result() else "no answer"}'))
            self.results['deploy_asked'] = now
            return
        waited = now - self.results['deploy_asked']
        for wheel, due in list(self._reset_due.items()):
            if now >= due and self.reset_clients[wheel].service_is_ready():
                self._reset_due[wheel] = now + 5.0     # again if it is refused
                self.deploy_resets.append(wheel)
                future = self.reset_clients[wheel].call_async(Trigger.Request())
                future.add_done_callback(lambda f, w=wheel: self.report(
                    f'[mission] reset of wheel {w}: '
                    f'{f.result().message if f.result() else "no answer"}'))
        if self.sequencer.get('state') == 'COMPLETE' or waited > self.deploy_timeout_s:
            self.results['deploy_s'] = waited
            self.results['deployed'] = self.sequencer.get('state') == 'COMPLETE'
            self.results['deploy_truth'] = self.truth
            self.phase, self.phase_t = 'mutual', now
            return
        self._progress(now, f'deploy: {self.sequencer.get("step", "?")}',
                       min(1.0, waited / self.deploy_timeout_s))

    def _mutual(self, now: float) -> None:
        """Point each vehicle's camera at the other, take a frame with each, write them."""
        m = self.mutual
        elapsed = now - self.phase_t
        if m.aims is None:
            if self.odom_pose is None:
                return
            if self._turn_until is not None and now < self._turn_until + MUTUAL_TURN_SETTLE_S:
                cmd = Twist()
                if now < self._turn_until:
                    cmd.angular.z = MUTUAL_TURN_RATE
                self.cmd_pub.publish(cmd)
                return
            try:
                m.plan(*self.odom_pose)
            except ValueError as exc:
                if self._turn_until is None and 'out of reach' in str(exc):
                    # The park can leave the lander right behind the rover, where the
                    # pancam's pan stops short of it: turn a little and aim again, once.
                    self._turn_until = now + MUTUAL_TURN_S
                    self.report(f'[mission] mutual imaging: {exc}; turning the rover '
                                f'{MUTUAL_TURN_RATE * MUTUAL_TURN_S:.2f} rad and aiming again')
                    return
                self.results['mutual'] = f'not possible: {exc}'
                self.phase, self.phase_t = 'panorama', now
                return
            for robot, joints in m.commands().items():
                self.joint_cmd[robot].publish(JointState(name=list(joints),
                                                         position=list(joints.values())))
            return
        if m.shutter_t is None:
            if m.settled(self.joints) and all(c.service_is_ready() for c in self.capture.values()):
                m.shutter_t = now
                self.images.clear()
                for client in self.capture.values():
                    client.call_async(Trigger.Request())
            elif elapsed > 120.0:
                self.results['mutual'] = 'cameras did not settle in 120 s'
                self.phase, self.phase_t = 'panorama', now
            return
        if len(self.images) == 2 or now - m.shutter_t > 30.0:
            self.results['mutual'] = m.write(self.images, self.folder)
            self.phase, self.phase_t = 'panorama', now

    def _panorama(self, now: float) -> None:
        """Ask for the lander's panorama and wait for it before the rover moves."""
        if 'panorama_asked' not in self.results:
            if self.ground is not None:
                if self.ground.status is None:
                    return                      # the link is not up yet
                self.panorama_tc = self.ground.send('take_panorama')
                self.report(f'[mission] ground sent telecommand {self.panorama_tc}: '
                            'take_panorama (80 frames of the lander terrain camera)')
            elif self.panorama_client.service_is_ready():
                self.panorama_client.call_async(Trigger.Request())
                self.report('[mission] lander panorama requested')
            else:
                return
            self.results['panorama_asked'] = now
            return
        waited = now - self.results['panorama_asked']
        if self.panorama is not None or waited > self.panorama_timeout_s:
            self.results['panorama_s'] = waited
            if self.panorama is None:
                self.report(f'[mission] no panorama after {waited:.0f} s; going on without it')
            self.phase, self.phase_t = 'heading', now
            return
        self._progress(now, 'panorama', min(1.0, waited / 80.0))

    def _heading(self, now: float) -> None:
        """Turn in place to the set heading (odometry yaw), so the legs after it repeat."""
        sh = self.set_heading
        if self.odom_pose is None:
            return
        elapsed = now - self.phase_t
        cmd = Twist()
        if self._heading_done is None:
            rate = sh.rate(self.odom_pose[2])
            if rate is not None and elapsed < sh.timeout_s:
                cmd.angular.z = rate
                self.cmd_pub.publish(cmd)
                self._progress(now, 'set heading', min(1.0, elapsed / sh.timeout_s))
                return
            self._heading_done = now
            self.results['heading'] = (self.odom_pose[2], elapsed)
            self.report(f'[mission] heading {math.degrees(self.odom_pose[2]):.1f} deg '
                        f'(set {math.degrees(sh.heading_rad):.0f} deg) after {elapsed:.0f} s'
                        + ('' if rate is None else ': timed out, going on from here'))
        self.cmd_pub.publish(cmd)
        if now - self._heading_done >= sh.settle_s:
            self.phase, self.phase_t = 'traverse', now

    def _traverse(self, now: float) -> None:
        elapsed = now - self.phase_t
        if self.traverse_offset is None and self.odom is not None:
            # Distance and odometry drift count from here (the deployment drove too).
            self.meter = PathMeter()
            x, y, _ = self.truth
            self.traverse_offset = (self.odom[0] - x, self.odom[1] - y)
        leg = self.plan.leg_at(elapsed)
        if leg is None:
            self.cmd_pub.publish(Twist())
            self.results['traverse_odom_error'] = self._odom_error()
            self.results['traverse_distance'] = self.meter.length
            self._start_fault_drive(now)
            return
        cmd = Twist()
        cmd.linear.x, cmd.angular.z = leg.v_m_s, leg.omega_rad_s
        self.cmd_pub.publish(cmd)
        self._progress(now, leg.label, elapsed / self.plan.total_s)

    def _start_fault_drive(self, now: float) -> None:
        fd = self.fault_drive
        ox, oy, yaw = self.odom_pose if self.odom_pose else (0.0, 0.0, 0.0)
        # straight ahead along the rover's heading (odometry)
        goal = PoseStamped()
        goal.header.frame_id = 'odom'
        goal.header.stamp = self.get_clock().now().to_msg()
        goal.pose.position.x = ox + fd.distance_m * math.cos(yaw)
        goal.pose.position.y = oy + fd.distance_m * math.sin(yaw)
        goal.pose.orientation.w = 1.0
        if self.ground is not None:
            # As flown: the goal goes up from the ground through the relay.
            self.goal_tc = self.ground.send('drive_goal', x_m=goal.pose.position.x,
                                            y_m=goal.pose.position.y)
            self.report(f'[mission] ground sent telecommand {self.goal_tc}: drive_goal '
                        f'({goal.pose.position.x:.2f}, {goal.pose.position.y:.2f}) in odom')
        else:
            self.goal_pub.publish(goal)
        self.results['goal_odom'] = (goal.pose.position.x, goal.pose.position.y)
        # the true goal: the same displacement from where the rover truly is
        tx, ty, _ = self.truth
        self.results['goal_true'] = (tx + (goal.pose.position.x - ox), ty + (goal.pose.position.y - oy))
        self.phase, self.phase_t = 'fault_drive', now
        self.report(f'[mission] goal drive: {fd.distance_m:.1f} m ahead; {fd.fault} will be '
                    f'injected on wheel {fd.wheel} {fd.inject_after_s:.0f} s after the rover '
                    'takes the goal up')

    def _fault_drive(self, now: float) -> None:
        fd = self.fault_drive
        elapsed = now - self.phase_t
        # The goal reaches the rover through the relay seconds to tens of seconds after it
        # is sent: the failure comes inject_after_s into the drive itself, mid-traverse.
        gx, gy = self.results['goal_odom']
        if 'goal_active' not in self.results and \
                self.controller_goal == f'({gx:.2f}, {gy:.2f}) active':
            self.results['goal_active'] = now
        active = self.results.get('goal_active')
        if active is not None and now - active >= fd.inject_after_s and \
                'injected' not in self.results:
            self.results['injected'] = now
            self.sim_params.call_async(SetParameters.Request(parameters=[
                Parameter(f'fault.wheel_{fd.wheel}', value=fd.fault).to_parameter_msg()]))
            self.report(f'[mission] t={now - self.start_t:6.1f} s  injected {fd.fault} on wheel '
                        f'{fd.wheel}')
        self._progress(now, 'goal drive', min(1.0, elapsed / fd.timeout_s))
        gx, gy = self.results['goal_odom']
        reached = self.controller_goal == f'({gx:.2f}, {gy:.2f}) reached'
        if reached or elapsed > fd.timeout_s:
            self.results['reached'] = reached
            self.results['short'] = self.controller_goal_short if reached else '0.00'
            self.results['goal_drive_end'] = self.truth
            self.results['goal_drive_distance'] = self.meter.length
            self.results['healthy_at_arrival'] = self.results.get('healthy', '?')
            if self.crossing is not None:
                self._start_recover(now)
            else:
                self._end_drives(now)

    def _end_drives(self, now: float) -> None:
        self.results['sim_s'] = now - self.start_t
        if self.ground is None:
            self.finished = True
            self.summary(self.results['sim_s'])
        else:
            self.phase, self.wall_downlink = 'downlink', time.monotonic()
            status = self.ground.status
            # Everything the relay had numbered by the arrival must be on the ground.
            self.downlink_target = dict(status.next_seq) if status is not None else {}
            self.report('[mission] waiting for the ground to receive the completion report '
                        'and the downlink to catch up')

    # ---- the crossing: the wheel back in service, then through the rock field ------------
    def _start_recover(self, now: float) -> None:
        """Clear the injected fault (the operator) and have the ground reset the wheel."""
        fd = self.fault_drive
        self.sim_params.call_async(SetParameters.Request(parameters=[
            Parameter(f'fault.wheel_{fd.wheel}', value='none').to_parameter_msg()]))
        self.results['recover_t'] = now
        self.phase, self.phase_t = 'recover', now
        self.report(f'[mission] t={now - self.start_t:6.1f} s  fault on wheel {fd.wheel} cleared '
                    'in the simulator; the ground will reset the wheel')

    def _recover(self, now: float) -> None:
        fd, cr = self.fault_drive, self.crossing
        elapsed = now - self.phase_t
        if self.wheel_states.get(fd.wheel, ('', ''))[0] == 'ENABLED' and \
                self.results.get('healthy') == '6':
            self.results['recovered'] = (elapsed, self.results['healthy'])
            self._start_crossing(now)
            return
        if elapsed > cr.reset_timeout_s:
            self.results['recovered'] = (None, self.results.get('healthy', '?'))
            self._start_crossing(now)
            return
        if elapsed < self.results.get('reset_due', 1.0):
            return                  # the wheel's telemetry clear first
        if self.ground is not None:
            # One telecommand at a time (the ground retransmits until it is accepted);
            # another only once the rover has refused the last (the wheel not yet clear).
            tc = self.ground.pending.get(self.results.get('reset_tc'))
            if tc is not None and not tc.finished:
                return
            if tc is not None and any(r.kind == 7 for r in tc.reports):
                return              # done: the wheel's diagnostics will say so
            from chang_e_rover.robot_description import WHEEL_IDS
            self.results['reset_tc'] = self.ground.send('wheel_reset',
                                                        wheel=WHEEL_IDS.index(fd.wheel))
            self.report(f'[mission] ground sent telecommand {self.results["reset_tc"]}: '
                        f'wheel_reset {fd.wheel}')
        elif self.reset_clients[fd.wheel].service_is_ready():
            self.reset_clients[fd.wheel].call_async(Trigger.Request())
        self.results['reset_due'] = elapsed + 5.0
        self.results['resets_sent'] = self.results.get('resets_sent', 0) + 1

    def _start_crossing(self, now: float) -> None:
        cr = self.crossing
        ox, oy, _ = self.odom_pose if self.odom_pose else (0.0, 0.0, 0.0)
        # Outward from the lander (the odom origin is the rover's place on its deck):
        # the open ground around it ends keep_clear_m out, and the field begins.
        bearing = math.atan2(oy, ox)
        distance = cr.distance_to_edge(ox, oy, bearing)
        gx, gy = ox + distance * math.cos(bearing), oy + distance * math.sin(bearing)
        self.results['crossing_goal_odom'] = (gx, gy)
        self.results['crossing_distance'] = distance
        tx, ty, _ = self.truth
        self.results['crossing_goal_true'] = (tx + gx - ox, ty + gy - oy)
        self.results['crossing_start'] = (tx, ty)
        self.crossing_path = [(tx, ty)]
        if self.ground is not None:
            self.crossing_tc = self.ground.send('drive_goal', x_m=gx, y_m=gy)
            self.report(f'[mission] ground sent telecommand {self.crossing_tc}: drive_goal '
                        f'({gx:.2f}, {gy:.2f}) in odom, {distance:.1f} m through the rock '
                        'field')
        else:
            goal = PoseStamped()
            goal.header.frame_id = 'odom'
            goal.header.stamp = self.get_clock().now().to_msg()
            goal.pose.position.x, goal.pose.position.y = gx, gy
            goal.pose.orientation.w = 1.0
            self.goal_pub.publish(goal)
        self.phase, self.phase_t = 'crossing', now

    def _crossing(self, now: float) -> None:
        cr = self.crossing
        elapsed = now - self.phase_t
        if self.contacts is not None:
            self.touched |= self.contacts() & set(self.tall_rocks)
        tx, ty, _ = self.truth
        if math.dist(self.crossing_path[-1], (tx, ty)) > 0.05:
            self.crossing_path.append((tx, ty))
        self._progress(now, 'rock field', min(1.0, elapsed / cr.timeout_s))
        gx, gy = self.results['crossing_goal_odom']
        reached = self.controller_goal == f'({gx:.2f}, {gy:.2f}) reached'
        if reached or elapsed > cr.timeout_s:
            self.results['crossing_reached'] = reached
            self.results['crossing_short'] = self.controller_goal_short if reached else '0.00'
            self.results['crossing_s'] = elapsed
            self._end_drives(now)

    def _downlink(self, now: float) -> None:
        tc = self.ground.pending.get(self.crossing_tc if self.crossing_tc is not None
                                     else self.goal_tc)
        completed = tc is not None and any(r.kind == 7 for r in tc.reports)
        caught_up = not self.ground.behind(self.downlink_target)
        if (completed and caught_up) or time.monotonic() - self.wall_downlink > self.downlink_wait_s:
            self.finished = True
            self.summary(self.results['sim_s'])

    def _odom_error(self) -> float | None:
        """Odometry drift over the traverse: its error now less its error at the start."""
        if self.odom is None:
            return None
        x, y, _ = self.truth
        ox, oy = self.traverse_offset or (0.0, 0.0)
        return math.hypot(self.odom[0] - x - ox, self.odom[1] - y - oy)

    def summary(self, sim_s: float) -> None:
        wall = time.monotonic() - self.wall_start
        r = self.results
        x, y, _ = r.get('goal_drive_end', self.truth)
        lines = ['', '=== mission summary ===']
        if 'deploy_s' in r:
            lines.append(self._deploy_summary())
            lines.append(f'mutual imaging: {r.get("mutual", "not done")}')
        if 'heading' in r:
            yaw, took = r['heading']
            lines.append(f'heading before the traverse: {math.degrees(yaw):.1f} deg (set '
                         f'{math.degrees(self.set_heading.heading_rad):.0f} deg), turned in '
                         f'{took:.0f} s')
        lines += [f'distance driven from the start of the traverse to the end of the goal drive '
                  f'(ground truth): {r.get("goal_drive_distance", self.meter.length):.2f} m',
                  f'position at the end of the goal drive: ({x:.2f}, {y:.2f}) m']
        if r.get('traverse_odom_error') is not None:
            lines.append(f'odometry error after the traverse: {r["traverse_odom_error"]:.3f} m '
                         f'({100 * r["traverse_odom_error"] / max(r["traverse_distance"], 1e-9):.1f}'
                         ' % of distance)')
        if 'detected' in r:
            wheel, fault, t = r['detected']
            lines.append(f'wheel failure: {fault} on wheel {wheel}, injected at '
                         f'{r["injected"] - self.start_t:.2f} s, detected and isolated '
                         f'{t - r["injected"]:.2f} s later; healthy wheels: '
                         f'{r.get("healthy_at_arrival", r.get("healthy", "?"))}')
        else:
            lines.append('wheel failure: none detected')
        gx, gy = r['goal_true']
        lines.append(f'goal drive: {"arrived" if r.get("reached") else "DID NOT ARRIVE"}, '
                     f'arrival error {math.hypot(gx - x, gy - y):.3f} m (ground truth)'
                     + _held_short(r.get('short')))
        if 'crossing_start' in r:
            lines += self._crossing_summary()
        lines.append(f'sim time: {sim_s:.1f} s, wall time: {wall:.1f} s, '
                     f'real-time factor: {sim_s / wall:.1f}')
        if self.ground is not None:
            lines += self._ground_summary()
        lines.append(self._panorama_summary())
        if self.folder is not None and self.hazard_map is not None:
            lines.append(self._write_hazard_map())
        self.report('\n'.join(lines))

    def _crossing_summary(self) -> list[str]:
        r, cr, fd = self.results, self.crossing, self.fault_drive
        waited, healthy = r['recovered']
        lines = [f'wheel {fd.wheel} back in service: ' + (
            f'fault cleared and reset by the ground ({r.get("resets_sent", 0)} wheel_reset '
            f'telecommand(s)), {waited:.1f} s; healthy wheels: {healthy}' if waited is not None
            else f'NOT after {cr.reset_timeout_s:.0f} s; healthy wheels: {healthy}')]
        x, y, _ = self.truth
        gx, gy = r['crossing_goal_true']
        sx, sy = r['crossing_start']
        length = sum(math.dist(a, b) for a, b in zip(self.crossing_path, self.crossing_path[1:]))
        near = sorted(n for n, (rx, ry) in self.tall_rocks.items()
                      if min(math.dist((rx, ry), p) for p in self.crossing_path) <= cr.near_m)
        lines.append(f'rock field crossing: {"arrived" if r.get("crossing_reached") else "DID NOT ARRIVE"} '
                     f'{math.dist((sx, sy), (gx, gy)):.1f} m out from ({sx:.2f}, {sy:.2f}) in '
                     f'{r["crossing_s"]:.0f} s (sim), {length:.2f} m driven, arrival error '
                     f'{math.hypot(gx - x, gy - y):.3f} m (ground truth)'
                     + _held_short(r.get('crossing_short')))
        if self.contacts is not None:
            lines.append(f'rocks over {cr.tall_m:.2f} m within {cr.near_m:.1f} m of the path: '
                         f'{len(near)}; touched by the rover (ground truth, sampled at 10 Hz): '
                         f'{", ".join(sorted(self.touched)) or "none"}')
        return lines

    def _deploy_summary(self) -> str:
        r, s = self.results, self.sequencer
        if not r.get('deployed'):
            return (f'deployment: NOT COMPLETE after {r["deploy_s"]:.0f} s (sim): step '
                    f'{s.get("step", "?")} {s.get("state", "?")} {s.get("reason", "")}')
        x, y, z = r['deploy_truth']
        resets = (f'; wheel resets by the ground: {", ".join(self.deploy_resets)}'
                  if self.deploy_resets else '')
        return (f'deployment: complete in {r["deploy_s"]:.0f} s (sim) after the start, steps '
                f'{s.get("steps_done", "?").replace(",", ", ")}; rover parked at ({x:.2f}, '
                f'{y:.2f}, {z:.2f}) m (ground truth), off the deck{resets}')

    def _panorama_summary(self) -> str:
        m = self.panorama
        if m is None:
            return 'lander panorama: NOT TAKEN'
        line = (f'lander panorama: {m.width} x {m.height} px, 360 deg, taken in '
                f'{self.results.get("panorama_s", float("nan")):.0f} s (sim)')
        if self.folder is not None:
            import cv2
            import numpy as np
            img = np.frombuffer(bytes(m.data), np.uint8).reshape(m.height, m.width, 3)
            path = self.folder / 'panorama.png'
            path.parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(path), img[:, :, ::-1])
            line += f'; written to {path}'
        return line

    def _write_hazard_map(self) -> str:
        """Write the last hazard map, with the driven path, as a PNG."""
        from chang_e_rover.hazard.render import render_cost_map
        import cv2
        import numpy as np
        m = self.hazard_map
        cost = np.asarray(m.data, dtype=np.int8).reshape(m.info.height, m.info.width)
        image = render_cost_map(cost, m.info.origin.position.x, m.info.origin.position.y,
                                m.info.resolution, self.path)
        path = self.folder / 'hazard_map.png'
        path.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(path), image[:, :, ::-1])
        known = int(np.count_nonzero(cost >= 0))
        bad = int(np.count_nonzero(cost == 100))
        return (f'hazard map around the rover: {known} cells seen, {bad} untraversable; '
                f'written to {path}')

    def _ground_summary(self) -> list[str]:
        from chang_e_rover.relay.endpoint import REPORT_NAMES
        g = self.ground
        lines = []
        tcs = [(self.panorama_tc, 'take_panorama'), (self.goal_tc, 'drive_goal')]
        if self.crossing_tc is not None:
            tcs.append((self.crossing_tc, 'drive_goal (rock field)'))
        for seq, name in tcs:
            tc = g.pending.get(seq)
            reports = ', '.join(REPORT_NAMES.get(r.kind, str(r.kind))
                                for r in tc.reports) if tc else '-'
            lines.append(f'telecommand {seq} {name}, reports on the ground: {reports}')
        by_topic = g.topic_counts()
        lines.append('downlinked through the relay (products on the ground): ' +
                     (', '.join(f'{t} {n}' for t, n in sorted(by_topic.items())) or 'none'))
        if g.status is not None:
            behind = {f'{a:#05x}': n for a, n in g.behind(self.downlink_target).items()}
            lines.append(f'everything the relay had queued at arrival is on the ground: '
                         f'{"yes" if not behind else f"no, packets missing {behind}"}; relay queue '
                         f'now {g.status.queued_packets} packets (new data keeps coming); '
                         f'corrupted packets caught by CRC: {g.bad_packets}')
        if g.archive is not None:
            lines.append(f'ground archive: {g.archive.path} ({len(g.archive.images)} images, '
                         f'{g.archive.invalid} products flagged invalid)')
        return lines
