"""ROS 2 node /sim: the simulated rover and lander behind the topics real drivers would use.

Thin shell: it wires ROS to the pure parts of sim/ (docs/simulator.md, Parts). Sensors go
out stamped with sim time; the simulator steps a control period only when every flight
node in the loop has answered for it (sim.loop, sim.lockstep, sim.stepping), so results
do not depend on machine speed or load. Stepping is driven by those answers, not by a
polling timer.
"""
from __future__ import annotations

import time

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import Quaternion
from nav_msgs.msg import OccupancyGrid, Odometry
import rclpy
from rclpy.node import Node
from rclpy.parameter import Parameter
from rcl_interfaces.msg import SetParametersResult
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import BatteryState, CameraInfo, Image, Imu, JointState, Temperature
from std_msgs.msg import Bool
from std_srvs.srv import Trigger

from chang_e_rover.robot_description import WHEEL_IDS
from chang_e_rover.ros_common import (CONTROL_QOS, declare_from_config, DIAGNOSTICS_QOS,
                                      kept, LATCHED_QOS, log_outcome, ns_to_stamp, rgb_image,
                                      SIM_SENSOR_QOS, spin_node, STATE_QOS, stamp_to_ns)
from chang_e_rover.sim import loop
from chang_e_rover.sim.lockstep import LockstepStalled, waited_values
from chang_e_rover.sim.parameters import DYNAMIC, fault_wheel, rebuilds_world, refusal
from chang_e_rover.sim.readings import camera_matrices, Frames, WheelReadout
from chang_e_rover.sim.schedule import RateSchedule, WheelFaults
from chang_e_rover.sim.stepping import Stepping
from chang_e_rover.sim.viewer import ViewerError, Window
from chang_e_rover.sim.world import CAMERAS, ROVER, SimError, World

CAMERA_TOPICS = {'hazcam_left': 'rover/hazcam/left', 'hazcam_right': 'rover/hazcam/right',
                 'navcam_left': 'rover/navcam/left', 'navcam_right': 'rover/navcam/right',
                 'pancam': 'rover/pancam', 'tcam': 'lander/tcam'}
# Cameras that image only while the flight software asks (rover/navcam/imaging).
ON_REQUEST = ('navcam_left', 'navcam_right')
MAX_WALL_PER_TICK_S = 0.005     # one callback steps at most this long, then yields
GRAPH_CHECK_S = 0.25            # wall period of the watchdog check
PRESENCE_EVERY = 8              # graph checks run every this many watchdog checks, and at
                                # each one while the loop has waited GRAPH_CHECK_S or more
FREE_RUN_S = 0.002              # wall period of ticks while the loop cannot drive stepping


class SimNode(Node):
    """Publishes /clock, sensors and ground truth; takes motor and servo commands."""

    def __init__(self, **kwargs):
        kwargs.setdefault('parameter_overrides', [])
        kwargs['parameter_overrides'] = [p for p in kwargs['parameter_overrides']
                                         if p.name != 'use_sim_time'] + [
            Parameter('use_sim_time', value=False)]   # the simulator is the clock
        super().__init__('sim', **kwargs)
        self.params = declare_from_config(self, 'sim.yaml', 'sim', DYNAMIC)
        self.clock_pub = self.create_publisher(Clock, '/clock', 10)
        # What a node in the loop waits for by stamp is kept for a reader that matches late
        # (ros_common.loop_input_qos).
        self.joint_pub = self.create_publisher(JointState, 'rover/joint_states', kept(STATE_QOS))
        self.lander_joint_pub = self.create_publisher(JointState, 'lander/joint_states', STATE_QOS)
        self.imu_pub = self.create_publisher(Imu, 'rover/imu', kept(SIM_SENSOR_QOS))
        self.truth_pub = self.create_publisher(Odometry, 'sim/ground_truth/odom', STATE_QOS)
        # Where the wall time goes: the steps' waits by the node answering last (each sim
        # second; sim.lockstep.Lockstep.waited_s), for an operator asking why a run is slow.
        self.lockstep_pub = self.create_publisher(DiagnosticStatus, 'sim/lockstep', STATE_QOS)
        self._wall_start: float | None = None       # wall time of the first inputs
        self.motor_pubs = {w: self.create_publisher(JointState, f'rover/wheel_{w}/motor/state',
                                                    kept(CONTROL_QOS)) for w in WHEEL_IDS}
        self.temp_pubs = {w: self.create_publisher(Temperature,
                                                   f'rover/wheel_{w}/motor/temperature',
                                                   kept(STATE_QOS)) for w in WHEEL_IDS}
        self.image_pubs = {c: (self.create_publisher(Image, f'{t}/image_raw', SIM_SENSOR_QOS),
                               self.create_publisher(CameraInfo, f'{t}/camera_info',
                                                     SIM_SENSOR_QOS))
                           for c, t in CAMERA_TOPICS.items()}
        self._answer_subs = {}
        for w in WHEEL_IDS:
            topic = f'rover/wheel_{w}/motor/command'
            self._answer_subs[topic] = self.create_subscription(
                JointState, topic, lambda msg, w=w: self.motor_command_callback(w, msg),
                CONTROL_QOS)
        for robot in ('rover', 'lander'):
            self.create_subscription(JointState, f'{robot}/joint_commands',
                                     lambda msg, r=robot: self.joint_command_callback(r, msg),
                                     STATE_QOS)
        # The navcams image at their rate while the drive asks (it does before the control
        # period's answer, as its steering, so the first frame's step is the same every run).
        self.navcam_imaging = False
        self.create_subscription(Bool, 'rover/navcam/imaging', self.navcam_imaging_callback,
                                 STATE_QOS)
        # The controller's and the hazard pipeline's answers, after their other outputs
        # (steering above) so that a step never goes before what the answer closes.
        self._answer_subs['rover/odom'] = self.create_subscription(
            Odometry, 'rover/odom', self.controller_answer_callback, STATE_QOS)
        self.create_subscription(DiagnosticArray, '/diagnostics', self.diagnostics_callback,
                                 DIAGNOSTICS_QOS)
        # the hazard pipeline's answers come on /diagnostics; its map marks it present
        self._answer_subs['rover/hazard/map'] = self.create_subscription(
            OccupancyGrid, 'rover/hazard/map', lambda msg: None, LATCHED_QOS)
        self._reading_pubs = {**{f'rover/wheel_{w}/motor/state': self.motor_pubs[w]
                                 for w in WHEEL_IDS},
                              'rover/hazcam/right/image_raw': self.image_pubs['hazcam_right'][0],
                              'lander/tcam/image_raw': self.image_pubs['tcam'][0]}
        # A camera's shutter on command: the frame goes out on its image topic at the next
        # control period, whatever the camera's rate (the terrain camera has rate 0).
        self._capture: set[str] = set()
        for cam, topic in CAMERA_TOPICS.items():
            self.create_service(Trigger, f'{topic}/capture',
                                lambda req, res, c=cam: self.capture_callback(c, res))
        self.battery_pub = self.create_publisher(BatteryState, 'lander/battery', STATE_QOS)
        # The hold-down release (the hardware's pyrotechnic bolts on the flight lander).
        self.create_service(Trigger, 'lander/release_rover', self.release_callback)
        self.add_on_set_parameters_callback(self.parameters_callback)
        self.failure: str | None = None     # set when the watchdog stopped the simulation
        loop.check_period_inputs(self.params)
        self.lockstep = loop.make_lockstep(self.params)
        self.presence = loop.Presence(self.lockstep)
        self.window = None
        self._build_world()
        # Stepping goes on from the answers' callbacks. A wall timer ticks as well only while
        # the loop cannot drive it: real-time pacing, or nobody in the loop (graph_check).
        self._free_run = None
        self._checks_skipped = 0
        self.create_timer(GRAPH_CHECK_S, self.graph_check)
        self.graph_check()

    # ---- world lifecycle ----------------------------------------------------------------
    def _build_world(self) -> None:
        """A world from the parameters, its time at 0, the loop owing its first step."""
        self.world = World(self.params)
        self.frames = Frames(self.world, self.params)
        self._open_window()
        self.period_s = float(self.params['physics.control_period_s'])
        self.faults = WheelFaults(self.world, self.params)
        self.lockstep.restart()
        self.readout = WheelReadout(self.world)
        self.rates = RateSchedule()
        self.stepping = Stepping(self.lockstep, self.period_s, self.world.time)
        self.tick()

    def parameters_callback(self, params: list[Parameter]) -> SetParametersResult:
        """Take a call's parameters (all or none, sim.parameters' rules); a terrain change
        rebuilds the world."""
        for p in params:
            reason = refusal(p.name, p.value)
            if reason is not None:
                return SetParametersResult(successful=False, reason=reason)
        for p in params:        # a time given with its fault in one call applies to it
            self.params[p.name] = p.value
        for p in params:
            if p.name.startswith('fault.'):
                wheel = fault_wheel(p.name)
                when = self.faults.set(wheel, p.value)
                self.get_logger().warning(f'fault on wheel {wheel}: {p.value} at '
                                          f't={when:.3f} s (sim)')
            elif p.name in ('real_time_factor', 'paused'):
                self.stepping.pace_from(self.world.time)
                if p.name == 'real_time_factor':   # which runs repeat; a warning if not
                    log_outcome(self.get_logger(), *loop.reproducibility(self.lockstep, p.value))
            elif p.name == 'power.initial_soc':
                self.world.battery.set_soc(p.value)
                self.get_logger().warning(f'lander battery state of charge set to {p.value:.2f}')
        if any(rebuilds_world(p.name) for p in params):
            try:
                self.frames.close()
                self._build_world()
            except (SimError, ValueError) as exc:
                return SetParametersResult(successful=False, reason=str(exc))
            self.get_logger().info('terrain changed: world rebuilt, rover back at the start')
        return SetParametersResult(successful=True)

    # ---- commands -----------------------------------------------------------------------
    def capture_callback(self, cam: str, response: Trigger.Response) -> Trigger.Response:
        self._capture.add(cam)
        response.success = True
        response.message = f'{cam} frame at t={self.world.time + self.period_s:.3f} s (sim)'
        return response

    def release_callback(self, request, response: Trigger.Response) -> Trigger.Response:
        try:
            self.world.release_rover()
        except SimError as exc:
            response.success, response.message = False, str(exc)
            return response
        response.success = True
        response.message = f'rover released at t={self.world.time:.2f} s (sim)'
        self.get_logger().info(response.message)
        return response

    def motor_command_callback(self, wheel: str, msg: JointState) -> None:
        if len(msg.effort) != 1:
            self.get_logger().error(f'wheel {wheel}: motor command needs exactly one effort '
                                    f'(torque, N m), got {len(msg.effort)}; ignored')
            return
        try:
            self.world.set_wheel_torque(wheel, float(msg.effort[0]))
        except SimError as exc:
            self.get_logger().error(f'{exc}; last command stands')
        self.lockstep.answer(f'wheel_{wheel}', stamp_to_ns(msg.header.stamp))
        self.tick()

    def controller_answer_callback(self, msg: Odometry) -> None:
        """The drive controller closed the control period its odometry is stamped with."""
        self.lockstep.answer('drive_controller', stamp_to_ns(msg.header.stamp))
        self.tick()

    def diagnostics_callback(self, msg: DiagnosticArray) -> None:
        """The on-demand channels' answers (sim.loop.answers_in)."""
        for status in msg.status:
            for channel, stamp_ns in loop.answers_in(status.name,
                                                     ((kv.key, kv.value) for kv in status.values)):
                self.lockstep.answer(channel, stamp_ns)
                self.tick()

    def navcam_imaging_callback(self, msg: Bool) -> None:
        self.navcam_imaging = bool(msg.data)

    def joint_command_callback(self, robot: str, msg: JointState) -> None:
        if len(msg.position) != len(msg.name):
            self.get_logger().error(f'{robot}/joint_commands: {len(msg.name)} names but '
                                    f'{len(msg.position)} positions; ignored')
            return
        for name, position in zip(msg.name, msg.position):
            try:
                self.world.set_joint_target(robot, name, float(position))
            except SimError as exc:
                self.get_logger().error(str(exc))

    # ---- stepping -----------------------------------------------------------------------
    def graph_check(self) -> None:
        """Who of the loop is on the graph (sim.loop.Presence: a process that left is not
        waited for; one that comes owes answers from the next inputs on); the watchdog;
        the free-run timer on or off; and a nudge to step if the loop is waiting on nobody.

        Asking the graph costs about 1 ms a topic, so it is asked while the loop waits (a
        node that left is found within GRAPH_CHECK_S of wall time) and before the start,
        and otherwise only every PRESENCE_EVERY checks (a node that came is waited for
        within two of those)."""
        self.tick()
        who, wall_s = self.lockstep.waiting
        self._checks_skipped += 1
        if (not self.stepping.started or (who and wall_s >= GRAPH_CHECK_S)
                or self._checks_skipped >= PRESENCE_EVERY):
            self._checks_skipped = 0
            self.presence.check(self._on_graph)
        free = self.stepping.free_running(float(self.params['real_time_factor']))
        if free and self._free_run is None:
            self._free_run = self.create_timer(FREE_RUN_S, self.tick)
        elif not free and self._free_run is not None:
            self.destroy_timer(self._free_run)
            self._free_run = None
        self.tick()
        who, wall_s = self.lockstep.waiting
        if who and wall_s > 5.0:
            self.get_logger().warning(f'lock-step: waiting {wall_s:.0f} s (wall) for {who} at '
                                      f't={self.world.time:.3f} s (sim)',
                                      throttle_duration_sec=10.0)

    def _on_graph(self, node: str | None, answers: str, reads: str) -> bool:
        def named(infos):
            return any(node is None or i.node_name == node for i in infos)
        answer_sub = self._answer_subs.get(answers)    # matched, where the sim reads it
        return (named(self.get_publishers_info_by_topic(answers))
                and named(self.get_subscriptions_info_by_topic(reads))
                and (answer_sub is None or answer_sub.get_publisher_count() > 0)
                and self._reading_pubs[reads].get_subscription_count() > 0)

    def tick(self) -> None:
        """Step while the loop has answered and pacing allows, for at most
        MAX_WALL_PER_TICK_S; then go on from the guard condition, a pacing timer, or
        the next answer. Past the lock-step watchdog the simulation stops, named."""
        if self.failure is not None or self.params['paused']:
            return
        start = time.monotonic()
        rtf = float(self.params['real_time_factor'])
        try:
            if not self.stepping.started:
                if not self.stepping.startable():
                    return
                self._publish_inputs()
                self.stepping.start(self.world.time)
                self._wall_start = time.monotonic()
                log_outcome(self.get_logger(), *loop.reproducibility(self.lockstep, rtf))
            while self.stepping.may_step(self.world.time, rtf):
                for wheel, kind in self.faults.inject_due():
                    self.get_logger().warning(f'fault injected on wheel {wheel}: {kind} at '
                                              f't={self.world.time:.3f} s (sim)')
                self.world.step(self.period_s)
                self._publish_inputs()
                if self.window is not None:
                    self.window.sync()
                if time.monotonic() - start > MAX_WALL_PER_TICK_S:
                    return      # the free-run timer or the next answer comes back
        except LockstepStalled as exc:
            self.failure = str(exc)
            self.get_logger().fatal(self.failure)
            raise

    # ---- sensors ------------------------------------------------------------------------
    def _publish_inputs(self) -> None:
        """One control period's inputs to the loop, stamped with its sim time: clock, ground
        truth, joint states, IMU, battery and camera frames as they fall due, and the motor
        readings last. DDS keeps each topic's order, not the order across topics: a node in
        the loop waits for each input it steps on by its stamp (docs/simulator.md, Time)."""
        w, p = self.world, self.params
        t = w.time
        stamp = ns_to_stamp(round(t * 1e9))
        self.lockstep.inputs(round(t * 1e9))
        self.clock_pub.publish(Clock(clock=stamp))
        motors = self.readout.read(w, self.period_s)
        self.truth_pub.publish(odometry(w.ground_truth(), stamp))
        if self.rates.due('joint', t, float(p['joint_states_rate_hz'])):
            for robot, pub in (('rover', self.joint_pub), ('lander', self.lander_joint_pub)):
                names, q, v, e = w.joint_state(robot)
                pub.publish(joint_state(names, q.tolist(), v.tolist(), e.tolist(), stamp))
        if self.rates.due('imu', t, float(p['imu.rate_hz'])):
            self.imu_pub.publish(imu_sample(*w.imu(), w.imu_model.sample_sigma, stamp))
        if self.rates.due('battery', t, float(p['power.rate_hz'])):
            self.battery_pub.publish(battery_state(w.battery, stamp))
        if self._wall_start is not None and self.rates.due('lockstep', t, 1.0):
            self.lockstep_pub.publish(self._lockstep_status(t))
        self._publish_cameras(t, stamp)
        if self.rates.due('temperature', t, float(p['motor_temperature_rate_hz'])):
            for wid, celsius in zip(WHEEL_IDS, motors.temperature_c):
                self.temp_pubs[wid].publish(stamped(
                    Temperature(temperature=float(celsius), variance=0.25), stamp, f'wheel_{wid}'))
        for i, wid in enumerate(WHEEL_IDS):
            self.motor_pubs[wid].publish(joint_state(
                [f'wheel_{wid}_joint'], [float(motors.encoder_rad[i])],
                [float(motors.speed_rad_s[i])], [float(motors.torque_nm[i])], stamp))

    def _lockstep_status(self, t: float) -> DiagnosticStatus:
        """Sim and wall seconds since the first step, and the wall seconds the steps waited
        for each node of the loop (the one answering last)."""
        values = [('sim_s', f'{t:.3f}'), ('wall_s', f'{time.monotonic() - self._wall_start:.3f}')]
        values += waited_values(self.lockstep.waited_s)
        return DiagnosticStatus(level=DiagnosticStatus.OK, name='sim/lockstep',
                                message='wall seconds the steps waited, by the node answering last',
                                values=[KeyValue(key=k, value=v) for k, v in values])

    def _publish_cameras(self, t: float, stamp) -> None:
        """The frames due at t by their camera's rate, or asked for by a capture."""
        for cam, (_, frame, _) in CAMERAS.items():
            image_pub, info_pub = self.image_pubs[cam]
            if cam in self._capture:
                self._capture.discard(cam)
            elif (not self.frames.due(cam, t) or image_pub.get_subscription_count() == 0
                  or (cam in ON_REQUEST and not self.navcam_imaging)):
                continue   # nobody looking: skip the render, it is the costly part
            # The calibration goes out now (it tells the drive a pair was taken), the
            # image once the render thread has developed it (sim.readings.Frames).
            info_pub.publish(camera_info(self.world.cameras[cam], frame, stamp))
            self.frames.take(cam, lambda raw, pub=image_pub, frame=frame, stamp=stamp:
                             pub.publish(rgb_image(raw, frame, stamp)))
            if cam in loop.OWED_FOR:
                self.lockstep.sent(loop.OWED_FOR[cam], round(t * 1e9))

    def _open_window(self) -> None:
        """MuJoCo's viewer on this world (parameter viewer); without a display, say so and
        run on headless."""
        if self.window is not None:
            self.window.close()
        self.window = None
        if self.params['viewer']:
            try:
                self.window = Window(self.world.model, self.world.data,
                                     self.world.model.body(ROVER + 'base_link').id)
            except ViewerError as exc:
                self.get_logger().error(str(exc))

    def destroy_node(self) -> None:
        if self.window is not None:
            self.window.close()
        self.frames.close()
        super().destroy_node()


# ---- messages: the plain readings as a real driver would send them --------------------------
def stamped(msg, stamp, frame_id: str = ''):
    """msg with its header's stamp and frame set."""
    msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    return msg


def odometry(truth, stamp) -> Odometry:
    """Ground truth as odom -> base_link."""
    odom = stamped(Odometry(child_frame_id='base_link'), stamp, 'odom')
    p, (w, x, y, z) = odom.pose.pose.position, truth.quaternion
    p.x, p.y, p.z = (float(v) for v in truth.position)
    odom.pose.pose.orientation = Quaternion(w=float(w), x=float(x), y=float(y), z=float(z))
    lin, ang = odom.twist.twist.linear, odom.twist.twist.angular
    lin.x, lin.y, lin.z = (float(v) for v in truth.linear)
    ang.x, ang.y, ang.z = (float(v) for v in truth.angular)
    return odom


def joint_state(names, position, velocity, effort, stamp) -> JointState:
    return stamped(JointState(name=names, position=position, velocity=velocity, effort=effort),
                   stamp)


def imu_sample(gyro, accel, sample_sigma, stamp) -> Imu:
    """A strapdown IMU's sample: rates and specific force with the covariance of a sample's
    white noise, and no orientation (all zeros, covariance[0] -1: REP 145)."""
    msg = stamped(Imu(orientation=Quaternion(x=0.0, y=0.0, z=0.0, w=0.0)), stamp, 'imu_link')
    msg.orientation_covariance[0] = -1.0
    r, a = msg.angular_velocity, msg.linear_acceleration
    r.x, r.y, r.z = map(float, gyro)
    a.x, a.y, a.z = map(float, accel)
    g, acc = sample_sigma
    msg.angular_velocity_covariance[0::4] = [g * g] * 3
    msg.linear_acceleration_covariance[0::4] = [acc * acc] * 3
    return msg


def battery_state(b, stamp) -> BatteryState:
    """The lander battery: charging while the array's current into it is positive."""
    return stamped(BatteryState(
        voltage=b.voltage, current=b.current_a, percentage=b.soc,
        capacity=b.capacity_wh / b.voltage, present=True,
        power_supply_status=BatteryState.POWER_SUPPLY_STATUS_CHARGING if b.current_a > 0
        else BatteryState.POWER_SUPPLY_STATUS_DISCHARGING,
        power_supply_technology=BatteryState.POWER_SUPPLY_TECHNOLOGY_LION), stamp,
        'lander_battery')


def camera_info(spec, frame: str, stamp) -> CameraInfo:
    """A camera's calibration (sim.readings.camera_matrices), plumb_bob without distortion."""
    k, r, p = camera_matrices(spec)
    return stamped(CameraInfo(height=spec.height, width=spec.width, distortion_model='plumb_bob',
                              d=[0.0] * 5, k=k, r=r, p=p), stamp, frame)


def main(args=None) -> None:
    rclpy.init(args=args)
    node = SimNode()
    spin_node(node)
