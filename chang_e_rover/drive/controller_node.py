"""ROS 2 node /rover/drive_controller: velocity and goal commands to six wheels and four corners.

Thin shell over drive.controller.DriveCore: messages in as plain values, wheel
setpoints, corner angles, odometry and diagnostics out.

A wheel unit's health comes on its wheel_<id>/status, with every reading it
answers. On hardware a wall-clock timer runs the control step and a status
counts from its arrival. In simulation (use_sim_time) the step of period t runs
when the six motor readings, the IMU sample and the joint states stamped t are
in (the simulator sends one of each every period; DDS keeps the order of one
topic's messages, not across topics, so each is waited for by its stamp) and
every wheel unit on the graph has sent its status of the period before, and
everything the step uses is judged on stamps, not on arrival: a wheel's
status counts from the step after its stamp, a hazard map and a visual
odometry step from hazard.map_latency_s after their pair. The step at that due
time waits for them: a pair taken is seen on the left hazcam's camera_info, and
the hazard pipeline's answer to it (rover/hazard/status, while the pipeline is on
the graph) names the outputs it sent, map and visual odometry (a navcam pair on the
left navcam's, the same way). The setpoints
go to every wheel every step, stamped t (a wheel unit applies them from its
next reading on, whichever arrives first). The odometry, stamped t and
published last, is the controller's lock-step answer to the simulator (after
any automatic reset has been answered), so a run gives the same result however
busy the machine is. An automatic reset asked for in the step of period t goes
to the wheel unit once the unit has answered its reading stamped t (its status
stamped t is heard), so the reset falls between the unit's readings t and
t + period in every run, whichever message arrives first; the unit's state after
it comes with its status of t + period.
"""
from __future__ import annotations

import math

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import PoseStamped, Twist
from nav_msgs.msg import OccupancyGrid, Odometry
import numpy as np
import rclpy
import transforms3d
from rclpy.clock import Clock, ClockType
from rclpy.node import Node
from sensor_msgs.msg import CameraInfo, Imu, JointState
from std_msgs.msg import Bool
from std_srvs.srv import SetBool, Trigger

from chang_e_rover import config
from chang_e_rover.drive.controller import DriveCore
from chang_e_rover.drive.due_queue import DueQueue
from chang_e_rover.drive.governor import CommandRejected
from chang_e_rover.drive.pairs_owed import PairsOwed
from chang_e_rover.drive.step_inputs import ResetsOwed, StepInputs
from chang_e_rover.hazard.gate import Grid
from chang_e_rover.hazard.mast import PAN, TILT
from chang_e_rover.navigation.goal_status import GoalStatus, STATUS_NAME
from chang_e_rover.robot_description import load_urdf, rover_geometry, STEERED_IDS, WHEEL_IDS
from chang_e_rover.ros_common import (ANSWER_QOS, CONTROL_QOS, declare_from_config,
                                      LATCHED_QOS, log_outcome, loop_input_qos, ns_to_stamp,
                                      odom_tf_broadcaster,
                                      PITCH_VAR, ROLL_VAR, sensor_qos, SETPOINT_QOS, spin_node,
                                      STATE_QOS, stamp_to_ns)

RESET_CHECK_S = 0.25    # sim: wall seconds between checks for answers owed by a unit now gone


class DriveControllerNode(Node):
    """Turns body commands into wheel and steering commands; publishes odometry and health."""

    def __init__(self, **kwargs):
        kwargs.setdefault('namespace', 'rover')
        super().__init__('drive_controller', **kwargs)
        p = declare_from_config(self, 'rover.yaml', 'drive_controller')
        self.sim = bool(self.get_parameter('use_sim_time').value)
        self._step_t: float | None = None                # stamp of the last control step (sim)
        robot = load_urdf(config.urdf_path('rover.urdf'))
        self.core = DriveCore(rover_geometry(robot), p, start_t=self._now())
        # The mast's look at the way on while the rear leads: to the pan joint's limit
        # nearest the rear, tilted down mast.look_tilt_rad; the navcams image meanwhile.
        pan = robot.joints[PAN]
        self._mast_look = {PAN: min(pan.upper, max(pan.lower, math.pi)),
                           TILT: float(p['mast.look_tilt_rad'])}
        self._navcams = False
        self.period = 1.0 / p['control_rate_hz']
        self.map_latency = float(p['hazard.map_latency_s'])
        self._held = DueQueue()     # sim: inputs held until the step they are due at
        self._inputs = StepInputs(WHEEL_IDS, ('imu', 'joint_states'))      # sim
        self._resets = ResetsOwed()                                         # sim
        self._pairs = PairsOwed(round(self.map_latency * 1e9))             # sim
        self.rejected = 0
        self._reported_events = 0
        self._last_t: float | None = None
        self._last_out = None
        self.setpoint_pubs = {w: self.create_publisher(JointState, f'wheel_{w}/setpoint',
                                                       SETPOINT_QOS) for w in WHEEL_IDS}
        self.steer_pub = self.create_publisher(JointState, 'joint_commands', STATE_QOS)
        self.navcam_pub = self.create_publisher(Bool, 'navcam/imaging', STATE_QOS)
        self.odom_pub = self.create_publisher(Odometry, 'odom', STATE_QOS)
        self.send_tf = odom_tf_broadcaster(self) or (lambda odom: None)   # system ROS only
        self.diag_pub = self.create_publisher(DiagnosticArray, '/diagnostics', STATE_QOS)
        self.goal_status_pub = self.create_publisher(DiagnosticStatus, 'goal_status', LATCHED_QOS)
        self._goal_status: GoalStatus | None = None     # the driven goal's, last published
        self.create_subscription(Twist, 'cmd_vel', self.cmd_vel_callback, STATE_QOS)
        self.create_subscription(PoseStamped, 'goal', self.goal_callback, STATE_QOS)
        # The per-period inputs besides the motor readings: a step in sim waits for both.
        self.period_subs = {
            'joint_states': self.create_subscription(JointState, 'joint_states',
                                                     self.joint_states_callback,
                                                     loop_input_qos(STATE_QOS, self.sim)),
            'imu': self.create_subscription(Imu, 'imu', self.imu_callback,
                                            loop_input_qos(sensor_qos(self.sim), self.sim))}
        self.create_subscription(OccupancyGrid, 'hazard/map', self.hazard_map_callback,
                                 LATCHED_QOS)
        # ANSWER_QOS, as hazard/status: a pair's answer that names a visual odometry step
        # sent before this subscription matched must find the step kept for it.
        self.create_subscription(Odometry, 'visual_odom', self.visual_odom_callback, ANSWER_QOS)
        self._visual_last: tuple[float, np.ndarray] | None = None   # stamp, pose (4x4)
        if self.sim:
            # A pair's map and visual odometry step, waited for at the step they are due.
            for topic in ('hazcam/left/camera_info', 'navcam/left/camera_info'):
                self.create_subscription(CameraInfo, topic, self.pair_taken_callback,
                                         sensor_qos(True))
            self.hazard_status_sub = self.create_subscription(
                DiagnosticArray, 'hazard/status', self.hazard_status_callback, ANSWER_QOS)
        # Each wheel unit's status, with every reading it answers: in sim its answer to the
        # reading of that stamp, and what the next step takes of the unit's health.
        self.status_subs = {w: self.create_subscription(
            DiagnosticArray, f'wheel_{w}/status', lambda msg, w=w: self.status_callback(w, msg),
            loop_input_qos(CONTROL_QOS, self.sim)) for w in WHEEL_IDS}
        for w in WHEEL_IDS:
            self.create_subscription(JointState, f'wheel_{w}/motor/state',
                                     lambda msg, w=w: self.motor_state_callback(w, msg),
                                     loop_input_qos(CONTROL_QOS, self.sim))
        self.create_service(SetBool, 'drive_controller/hazard_gate', self.hazard_gate_callback)
        # the wheel units' own reset service, for the automatic retry after a stall
        self.reset_clients = {w: self.create_client(Trigger, f'wheel_{w}/reset')
                              for w in WHEEL_IDS}
        if not self.sim:
            self.create_timer(self.period, self.control_callback)
        else:
            self.create_timer(RESET_CHECK_S, self._check_resets_due,
                              clock=Clock(clock_type=ClockType.STEADY_TIME))
        self.create_timer(1.0, self.publish_diagnostics)
        self.create_timer(1.0, lambda: self.publish_goal_status(periodic=True))

    def hazard_gate_callback(self, request: SetBool.Request,
                             response: SetBool.Response) -> SetBool.Response:
        self.core.gate_enabled = bool(request.data)
        response.success = True
        response.message = f"hazard gate {'on' if request.data else 'off'}"
        self.get_logger().warning(response.message)
        return response

    def _now(self) -> float:
        """The control step's time: the clock on hardware, the last step's stamp in sim."""
        if self.sim and self._step_t is not None:
            return self._step_t
        return self.get_clock().now().nanoseconds * 1e-9

    def _hold(self, due: float, apply) -> None:
        """In simulation, apply at the first control step at or after due; else now."""
        if not self.sim:
            apply()
            return
        self._held.hold(due, apply)

    def cmd_vel_callback(self, msg: Twist) -> None:
        try:
            self.core.command_velocity(msg.linear.x, msg.angular.z, self._now())
        except CommandRejected as exc:
            self.rejected += 1
            self.get_logger().error(f'{exc}; refused, the last safe command stands',
                                    throttle_duration_sec=1.0)
            return
        self._step_now()

    def _step_now(self) -> None:
        """On hardware a command reaches the wheels at once, not at the next tick; in
        simulation the control step stays bound to the simulator's period."""
        if not self.sim:
            self.control_callback()

    def goal_callback(self, msg: PoseStamped) -> None:
        x, y, stamp_ns = msg.pose.position.x, msg.pose.position.y, stamp_to_ns(msg.header.stamp)
        if msg.header.frame_id not in ('odom', ''):
            return self._goal_refused(x, y, stamp_ns, f'goal in frame {msg.header.frame_id!r} '
                                      'refused: goals are points in odom')
        try:
            self.core.set_goal(x, y, self._now(), stamp_ns)
        except ValueError as exc:
            self.rejected += 1
            return self._goal_refused(x, y, stamp_ns, f'{exc}; goal refused')
        self._step_now()

    def _goal_refused(self, x: float, y: float, stamp_ns: int, why: str) -> None:
        self.get_logger().error(why)
        self.publish_goal_status(refused=self.core.refused_goal(x, y, stamp_ns, why))

    def hazard_map_callback(self, msg: OccupancyGrid) -> None:
        if msg.header.frame_id != 'odom':
            self.get_logger().error(f'hazard map in frame {msg.header.frame_id!r} ignored: '
                                    'expected odom', throttle_duration_sec=10.0)
            return
        info = msg.info
        cost = np.frombuffer(bytes(np.asarray(msg.data, dtype=np.int8)), np.int8).reshape(
            info.height, info.width)
        grid = Grid(cost, info.origin.position.x, info.origin.position.y, info.resolution)
        stamp_ns = stamp_to_ns(msg.header.stamp)
        self._hold(stamp_ns * 1e-9 + self.map_latency, lambda: self.core.hazard(grid, self._now()))
        self._pair_output(stamp_ns, 'hazard/map')

    def visual_odom_callback(self, msg: Odometry) -> None:
        """A pose of the hazcams' visual odometry: the step from the previous one goes to
        the odometry, unless this pose starts a new chain (pose.covariance[0] < 0)."""
        self._pair_output(stamp_to_ns(msg.header.stamp), 'visual_odom')
        t = stamp_to_ns(msg.header.stamp) * 1e-9
        p, q = msg.pose.pose.position, msg.pose.pose.orientation
        values = (p.x, p.y, p.z, q.w, q.x, q.y, q.z)
        norm = math.sqrt(q.w * q.w + q.x * q.x + q.y * q.y + q.z * q.z)
        if not all(math.isfinite(v) for v in values) or abs(norm - 1.0) > 1e-3:
            self.rejected += 1
            self._visual_last = None
            self.get_logger().error(f'visual_odom pose {values} refused: not finite or not '
                                    'a unit quaternion', throttle_duration_sec=10.0)
            return
        pose = np.eye(4)
        pose[:3, :3] = transforms3d.quaternions.quat2mat((q.w, q.x, q.y, q.z))
        pose[:3, 3] = (p.x, p.y, p.z)
        last, self._visual_last = self._visual_last, (t, pose)
        if last is None or msg.pose.covariance[0] < 0 or not t > last[0]:
            return
        step = np.linalg.solve(last[1], pose)

        def apply(t0=last[0], t1=t, translation=step[:3, 3]):
            try:
                self.core.visual_motion(t0, t1, translation)
            except ValueError as exc:
                self.get_logger().error(f'visual odometry step refused: {exc}',
                                        throttle_duration_sec=10.0)
        self._hold(t + self.map_latency, apply)

    def pair_taken_callback(self, msg: CameraInfo) -> None:
        """Sim: the left hazcam took a frame; its pair's outputs are owed at their step."""
        self._pairs.taken(stamp_to_ns(msg.header.stamp))

    def hazard_status_callback(self, msg: DiagnosticArray) -> None:
        """Sim: the hazard pipeline's answer to the pair of its stamp, naming what it sent."""
        self._pairs.answered(stamp_to_ns(msg.header.stamp), ' '.join(
            kv.value for status in msg.status for kv in status.values
            if kv.key == 'pair_outputs'))
        self._step_when_ready()

    def _pair_output(self, stamp_ns: int, output: str) -> None:
        if self.sim:
            self._pairs.output(output, stamp_ns)
            self._step_when_ready()

    def joint_states_callback(self, msg: JointState) -> None:
        self.core.steering({name[6:8]: q for name, q in zip(msg.name, msg.position)
                            if name.startswith('steer_')})
        self._heard('joint_states', msg.header.stamp)

    def imu_callback(self, msg: Imu) -> None:
        """Rates and specific force to the attitude estimate; an orientation, if the IMU
        gives one, is not used: the rover keeps its own (drive/attitude.py)."""
        w, f = msg.angular_velocity, msg.linear_acceleration
        self.core.imu(stamp_to_ns(msg.header.stamp) * 1e-9, (w.x, w.y, w.z), (f.x, f.y, f.z))
        self._heard('imu', msg.header.stamp)

    def _heard(self, stream: str, stamp) -> None:
        """Sim: a per-period input is in (the newest of one writer's messages is the last)."""
        if self.sim:
            self._inputs.heard(stream, stamp_to_ns(stamp))
            self._step_when_ready()

    def status_callback(self, wheel: str, msg: DiagnosticArray) -> None:
        """A wheel unit's status. Sim: its answer to the reading of that stamp, taken into
        use in the step after it; hardware: at once."""
        if not self.sim:
            self._wheel_status(wheel, msg, self._now())
            return
        stamp_ns = stamp_to_ns(msg.header.stamp)
        self._hold(stamp_ns * 1e-9 + self.period / 2,
                   lambda: self._wheel_status(wheel, msg, stamp_ns * 1e-9))
        self._inputs.answer(wheel, stamp_ns)
        self._send_due_resets()
        self._step_when_ready()

    def _wheel_status(self, wheel: str, msg: DiagnosticArray, t: float) -> None:
        for status in msg.status:
            if status.name == f'rover/wheel_{wheel}' and wheel in self.core.wheels:
                values = {kv.key: kv.value for kv in status.values}
                self.core.wheel_status(wheel, values.get('state', 'UNKNOWN'),
                                       values.get('fault', 'none'), t)

    def motor_state_callback(self, wheel: str, msg: JointState) -> None:
        stamp_ns = stamp_to_ns(msg.header.stamp)
        if len(msg.position) == 1:
            self.core.encoder(wheel, stamp_ns * 1e-9, msg.position[0])
        if not self.sim:
            return
        if self._inputs.reading(wheel, stamp_ns):
            self._pairs.restart()       # sim time started again (a rebuilt world)
        self._step_when_ready()

    def _present(self, name: str) -> bool:
        """Sim: whether the writer of a per-period stream, or a wheel's unit, is on the graph."""
        sub = self.period_subs[name] if name in self.period_subs else self.status_subs[name]
        return sub.get_publisher_count() > 0

    def _step_when_ready(self) -> None:
        """Sim: run the step drive/step_inputs.py says may run, once the outputs of the
        stereo pairs due at it are in too (while the hazard pipeline is on the graph)."""
        stamp_ns = self._inputs.next_step(self._present)
        if stamp_ns is None or not self._pairs.ready(
                stamp_ns, self.hazard_status_sub.get_publisher_count() > 0):
            return
        self._inputs.step(stamp_ns)
        self._step_t = stamp_ns * 1e-9
        self.control_callback()

    def control_callback(self) -> None:
        t = self._now()
        for apply in self._held.due(t):
            apply()
        dt = self.period if self._last_t is None else max(0.0, t - self._last_t)
        self._last_t = t
        out = self.core.step(t, dt)
        self._last_out = out
        stamp = self._stamp()
        for w in WHEEL_IDS:     # every wheel, every step; an isolated one without a demand
            sp = JointState(name=[f'wheel_{w}_joint'],
                            velocity=[out.setpoints[w]] if w in out.healthy else [])
            sp.header.stamp = stamp
            self.setpoint_pubs[w].publish(sp)
        for w in out.resets:
            self._reset(w)
        self._send_due_resets()
        targets = {f'steer_{w}_joint': out.steer[w] for w in STEERED_IDS}
        if out.navcams and not self._navcams:
            targets.update(self._mast_look)
        steer_msg = JointState(name=list(targets), position=list(targets.values()))
        steer_msg.header.stamp = stamp
        self.steer_pub.publish(steer_msg)
        if out.navcams != self._navcams:
            self._navcams = out.navcams
            self.navcam_pub.publish(Bool(data=out.navcams))
        events = self.core.events[self._reported_events:]
        self._reported_events = len(self.core.events)
        for e in events:
            self.get_logger().warning(f't={e.t:.2f} s wheel {e.wheel}: {e.what}')
        if events:
            self.publish_diagnostics()
        self.publish_goal_status()
        if not (self.sim and self._resets.hold_odometry()):
            self._publish_odometry()

    def _stamp(self):
        """The step's time as a stamp (sim), or the clock's now (hardware)."""
        if self.sim and self._step_t is not None:
            return ns_to_stamp(round(self._step_t * 1e9))
        return self.get_clock().now().to_msg()

    def _reset(self, wheel: str) -> None:
        if not self.reset_clients[wheel].service_is_ready():
            self.get_logger().error(f'wheel {wheel}: automatic reset not sent, its reset '
                                    'service is not available')
            return
        if not self.sim:
            self._call_reset(wheel)
            return
        self._resets.ask(wheel, self._inputs.last_ns)

    def _send_due_resets(self) -> None:
        for w in self._resets.to_send(self._inputs.answered):
            self._call_reset(w)

    def _check_resets_due(self) -> None:
        """Sim safety net: a reset or a step waiting for a unit that has left the graph
        goes on without it."""
        if self.hazard_status_sub.get_publisher_count() == 0:
            self._pairs.gone()
        self._step_when_ready()
        for w, ns in self._resets.drop_gone(self._present):
            self.get_logger().warning(f'wheel {w}: automatic reset dropped, its unit left '
                                      'the graph before answering its reading of '
                                      f't={ns * 1e-9:.3f} s')
            self._reset_answered()

    def _reset_answered(self) -> None:
        if self._resets.answered():
            self._publish_odometry()

    def _call_reset(self, wheel: str) -> None:
        client = self.reset_clients[wheel]

        def done(future, wheel=wheel):
            if self.sim:
                self._reset_answered()
            r = future.result()
            text = f'wheel {wheel}: automatic reset ' + (
                f'{"accepted" if r.success else "refused"}: {r.message}' if r is not None
                else 'failed: no answer')
            log_outcome(self.get_logger(), r is not None and r.success, text)

        client.call_async(Trigger.Request()).add_done_callback(done)

    def _publish_odometry(self) -> None:
        odo = self.core.odometry
        msg = Odometry()
        msg.header.stamp = self._stamp()
        msg.header.frame_id = 'odom'
        msg.child_frame_id = 'base_link'
        msg.pose.pose.position.x, msg.pose.pose.position.y = odo.x, odo.y
        # the odometry's heading with the attitude estimate's roll and pitch (drive/attitude.py)
        q = msg.pose.pose.orientation
        q.w, q.x, q.y, q.z = transforms3d.euler.euler2quat(self.core.roll, self.core.pitch,
                                                           odo.yaw, 'sxyz')
        if self.core.aligning:
            # Roll and pitch not yet estimated at rest (the rover may still be settling):
            # their variances -1, ROS's "no estimate" (the hazard camera maps no pair).
            msg.pose.covariance[ROLL_VAR] = msg.pose.covariance[PITCH_VAR] = -1.0
        msg.twist.twist.linear.x = self.core.v_measured
        if self.core.gyro is not None:
            msg.twist.twist.angular.z = self.core.gyro
        self.odom_pub.publish(msg)
        self.send_tf(msg)

    def publish_goal_status(self, periodic: bool = False,
                            refused: GoalStatus | None = None) -> None:
        """rover/goal_status: at each change, 1 Hz (periodic) while a goal is under way, and
        once for a goal refused (the driven goal's status follows at its next change)."""
        status = refused or self.core.goal_status()
        if refused is None:
            if status.same_report(self._goal_status) and not (periodic and
                                                              status.state.under_way):
                return
            self._goal_status = status
        self.goal_status_pub.publish(DiagnosticStatus(
            level=getattr(DiagnosticStatus, status.level), name=STATUS_NAME,
            hardware_id='drive_controller', message=status.message,
            values=[KeyValue(key=k, value=v) for k, v in status.to_values()]))

    def publish_diagnostics(self) -> None:
        level, message, values = self.core.health(self._last_out, self.rejected)
        status = DiagnosticStatus(level=getattr(DiagnosticStatus, level),
                                  name='rover/drive_controller', hardware_id='drive_controller',
                                  message=message,
                                  values=[KeyValue(key=k, value=v) for k, v in values])
        array = DiagnosticArray(status=[status])
        array.header.stamp = self._stamp()
        self.diag_pub.publish(array)


def main(args=None) -> None:
    rclpy.init(args=args)
    node = DriveControllerNode()
    spin_node(node)
