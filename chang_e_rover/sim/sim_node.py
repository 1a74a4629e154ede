"""ROS 2 node /sim: the simulated rover and lander behind the topics real drivers would use.

Thin shell around sim.world.World. Sensors go out stamped with sim time; the
simulator steps a control period only when every flight node in the loop has
answered for it (sim.lockstep: the six wheel units, the drive controller, the
hazard pipeline's map when it is due), so results do not depend on machine
speed or load. Stepping is driven by those answers, not by a polling timer.
"""
from __future__ import annotations

import math
import time

from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import Quaternion
from nav_msgs.msg import OccupancyGrid, Odometry
import numpy as np
import rclpy
from rclpy.node import Node
from rclpy.parameter import Parameter
from rcl_interfaces.msg import SetParametersResult
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import BatteryState, CameraInfo, Image, Imu, JointState, Temperature
from std_srvs.srv import Trigger

from chang_e_rover import config
from chang_e_rover.robot_description import WHEEL_IDS
from chang_e_rover.ros_common import (CONTROL_QOS, declare_from_config, DIAGNOSTICS_QOS,
                                      LATCHED_QOS, log_outcome, ns_to_stamp, rgb_image,
                                      SIM_SENSOR_QOS, spin_node, STATE_QOS, stamp_to_ns)
from chang_e_rover.sim.camera import CameraRig, detector_response, intrinsics
from chang_e_rover.sim.lockstep import Lockstep, LockstepStalled
from chang_e_rover.sim.motor import FAULT_KINDS
from chang_e_rover.sim.viewer import ViewerError, Window
from chang_e_rover.sim.world import CAMERAS, ROVER, SimError, World

CAMERA_TOPICS = {'hazcam_left': 'rover/hazcam/left', 'hazcam_right': 'rover/hazcam/right',
                 'pancam': 'rover/pancam', 'tcam': 'lander/tcam'}
DYNAMIC = ('fault', 'fault_at_s', 'real_time_factor', 'paused', 'terrain.seed',
           'terrain.rock_abundance', 'terrain.name', 'power.initial_soc')
MAX_WALL_PER_TICK_S = 0.005     # one callback steps at most this long, then yields
GRAPH_CHECK_S = 0.25            # wall period of the graph and watchdog check
FREE_RUN_S = 0.002              # wall period of ticks while the loop cannot drive stepping
# The nodes in the loop: channel -> (the node's name, None for any node; the topic it answers
# on, and a topic of the simulator's it reads). A motor driver's contract is its topics,
# so any node on a wheel's command topic is that wheel's driver.
EVERY_STEP = {**{f'wheel_{w}': (None, f'rover/wheel_{w}/motor/command',
                                f'rover/wheel_{w}/motor/state') for w in WHEEL_IDS},
              'drive_controller': ('drive_controller', 'rover/odom', 'rover/wheel_rr/motor/state')}
ON_DEMAND = {'hazard_camera': ('hazard_camera', 'rover/hazard/map',
                               'rover/hazcam/right/image_raw'),
             'camera': ('camera', 'lander/panorama', 'lander/tcam/image_raw')}
# Which on-demand channel answers which frames, and under which diagnostics key.
ANSWERS = {'rover/hazard_camera': ('hazard_camera', 'pair_stamp_ns'),
           'lander/camera': ('camera', 'frame_stamp_ns')}

def map_latency_s() -> float:
    """How long after its pair the drive takes a hazard map into use in simulation
    (config/rover.yaml, the drive controller's hazard.map_latency_s): the simulator
    must have the map before then."""
    return float(config.load_params('rover.yaml', 'drive_controller')['hazard.map_latency_s'])


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
        self.joint_pub = self.create_publisher(JointState, 'rover/joint_states', STATE_QOS)
        self.lander_joint_pub = self.create_publisher(JointState, 'lander/joint_states', STATE_QOS)
        self.imu_pub = self.create_publisher(Imu, 'rover/imu', SIM_SENSOR_QOS)
        self.truth_pub = self.create_publisher(Odometry, 'sim/ground_truth/odom', STATE_QOS)
        self.motor_pubs = {w: self.create_publisher(JointState, f'rover/wheel_{w}/motor/state',
                                                    CONTROL_QOS) for w in WHEEL_IDS}
        self.temp_pubs = {w: self.create_publisher(Temperature,
                                                   f'rover/wheel_{w}/motor/temperature',
                                                   STATE_QOS) for w in WHEEL_IDS}
        self.image_pubs = {c: (self.create_publisher(Image, f'{t}/image_raw', SIM_SENSOR_QOS),
                               self.create_publisher(CameraInfo, f'{t}/camera_info',
                                                     SIM_SENSOR_QOS))
                           for c, t in CAMERA_TOPICS.items()}
        self.motor_topics = {w: f'rover/wheel_{w}/motor/command' for w in WHEEL_IDS}
        self._answer_subs = {}
        for w in WHEEL_IDS:
            self._answer_subs[self.motor_topics[w]] = self.create_subscription(
                JointState, self.motor_topics[w],
                lambda msg, w=w: self.motor_command_callback(w, msg), CONTROL_QOS)
        for robot in ('rover', 'lander'):
            self.create_subscription(JointState, f'{robot}/joint_commands',
                                     lambda msg, r=robot: self.joint_command_callback(r, msg),
                                     STATE_QOS)
        # The controller's and the hazard pipeline's answers, after their other outputs
        # (steering above) so that a step never goes before what the answer closes.
        odom_sub = self.create_subscription(Odometry, 'rover/odom',
                                            self.controller_answer_callback, STATE_QOS)
        self.create_subscription(DiagnosticArray, '/diagnostics', self.diagnostics_callback,
                                 DIAGNOSTICS_QOS)
        self._answer_subs['rover/odom'] = odom_sub
        # the hazard pipeline's answers come on /diagnostics; its map marks it present
        self._answer_subs['rover/hazard/map'] = self.create_subscription(
            OccupancyGrid, 'rover/hazard/map', lambda msg: None, LATCHED_QOS)
        self._reading_pubs = {**{f'rover/wheel_{w}/motor/state': self.motor_pubs[w]
                                 for w in WHEEL_IDS},
                              'rover/hazcam/right/image_raw': self.image_pubs['hazcam_right'][0],
                              'lander/tcam/image_raw': self.image_pubs['tcam'][0]}
        self._seen_before: dict[str, bool] = {}
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
        self._pending_faults: dict[str, tuple[str, float]] = {}
        expect = [n.strip() for n in str(self.params['lockstep.expect']).split(',') if n.strip()]
        self.lockstep = Lockstep(list(EVERY_STEP), list(ON_DEMAND), round(map_latency_s() * 1e9),
                                 float(self.params['lockstep.watchdog_s']), expect)
        self._build_world()
        # Stepping goes on from the answers' callbacks. A wall timer ticks as well only while
        # the loop cannot drive it: real-time pacing, or nobody in the loop (graph_check).
        self._free_run = None
        self.create_timer(GRAPH_CHECK_S, self.graph_check)
        self.graph_check()

    # ---- world lifecycle ----------------------------------------------------------------
    def _build_world(self) -> None:
        self.world = World(self.params)
        self.rig = CameraRig(self.world.model, self.world.cameras)
        self._open_window()
        self.rng = np.random.default_rng(int(self.params['terrain.seed']) + 1)
        self.period_s = float(self.params['physics.control_period_s'])
        for w in WHEEL_IDS:
            self._set_fault(w, self.params[f'fault.wheel_{w}'])
        self.lockstep.restart()
        self._prev_hall = self.world.wheel_readings()['hall_count']
        self._camera_due = {c: 0.0 for c in CAMERAS}
        self._next_state = {'joint': 0.0, 'imu': 0.0, 'temperature': 0.0, 'battery': 0.0}
        self._reset_pacing()
        self._inputs_out = False    # the first step's inputs wait for the expected nodes
        self.tick()

    def _reset_pacing(self) -> None:
        self._wall0, self._sim0 = time.monotonic(), self.world.time

    def _set_fault(self, wheel: str, kind: str) -> None:
        """Inject now, or at fault_at_s.wheel_<id> of sim time if that is still ahead."""
        at = float(self.params[f'fault_at_s.wheel_{wheel}'])
        if at > self.world.time + 1e-9:
            self._pending_faults[wheel] = (kind, at)
            return
        self._pending_faults.pop(wheel, None)
        self.world.set_fault(wheel, kind)

    def parameters_callback(self, params: list[Parameter]) -> SetParametersResult:
        rebuild = False
        for p in params:
            if p.name.startswith('fault.'):
                wheel = p.name[len('fault.wheel_'):]
                if wheel not in WHEEL_IDS or p.value not in FAULT_KINDS:
                    return SetParametersResult(
                        successful=False,
                        reason=f'{p.name}={p.value!r}: expected fault.wheel_<{"|".join(WHEEL_IDS)}>'
                               f' set to one of {FAULT_KINDS}')
            elif p.name.startswith('fault_at_s.'):
                if (p.name[len('fault_at_s.wheel_'):] not in WHEEL_IDS
                        or not isinstance(p.value, float) or not p.value >= 0.0):
                    return SetParametersResult(
                        successful=False, reason=f'{p.name}: expected fault_at_s.wheel_<id> '
                                                 'set to a sim time >= 0 (s)')
            elif p.name == 'real_time_factor':
                if not (isinstance(p.value, float) and math.isfinite(p.value) and p.value >= 0):
                    return SetParametersResult(successful=False,
                                               reason='real_time_factor must be finite and >= 0')
            elif p.name == 'power.initial_soc':
                if not (isinstance(p.value, float) and 0.0 <= p.value <= 1.0):
                    return SetParametersResult(successful=False,
                                               reason='power.initial_soc must be 0 to 1')
            elif p.name == 'terrain.rock_abundance':
                if not (isinstance(p.value, float) and 0.0 <= p.value <= 0.4):
                    return SetParametersResult(successful=False,
                                               reason='terrain.rock_abundance must be 0 to 0.4')
            if p.name.startswith('terrain.'):
                rebuild = True
        for p in params:        # a time given with its fault in one call applies to it
            self.params[p.name] = p.value
        for p in params:
            if p.name.startswith('fault.'):
                wheel = p.name[len('fault.wheel_'):]
                self._set_fault(wheel, p.value)
                when = self._pending_faults.get(wheel, (None, self.world.time))[1]
                self.get_logger().warning(f'fault on wheel {wheel}: {p.value} at '
                                          f't={when:.3f} s (sim)')
            elif p.name in ('real_time_factor', 'paused'):
                self._reset_pacing()
                if p.name == 'real_time_factor':
                    self._say_reproducible()
            elif p.name == 'power.initial_soc':
                self.world.battery.set_soc(p.value)
                self.get_logger().warning(f'lander battery state of charge set to {p.value:.2f}')
        if rebuild:
            try:
                self.rig.close()
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
        """The hazard pipeline is done with the pair its pair_stamp_ns names, the lander
        camera with the frame its frame_stamp_ns names."""
        for status in msg.status:
            if status.name in ANSWERS:
                channel, key = ANSWERS[status.name]
                for kv in status.values:
                    if kv.key == key and kv.value.lstrip('-').isdigit():
                        self.lockstep.answer(channel, int(kv.value))
                        self.tick()

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
        """Who of the loop is on the graph (a process that left is not waited for); the
        watchdog; and a nudge to step if the loop is waiting on nobody.

        A node counts as present once it both answers and reads on the graph, matched with
        the simulator, at two checks in a row (so that nothing it is sent is lost to a
        match not yet made); a node that left counts as gone at once. A node that comes
        owes answers from the next inputs on."""
        for name, (node, answers, reads) in {**EVERY_STEP, **ON_DEMAND}.items():
            seen = self._on_graph(node, answers, reads)
            if seen and not self._seen_before.get(name, False):
                self._seen_before[name] = True
                continue
            self._seen_before[name] = seen
            self.lockstep.presence(name, seen)
        free = (float(self.params['real_time_factor']) > 0      # only per-step answers drive it
                or not any(c.present for c in self.lockstep.every_step.values()))
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
        the next answer."""
        if self.failure is not None or self.params['paused']:
            return
        start = time.monotonic()
        rtf = float(self.params['real_time_factor'])
        if not self._inputs_out:
            if not self._checked(self.lockstep.startable, time.monotonic()):
                return
            self._publish_sensors()
            self._inputs_out = True
            self._reset_pacing()
            self._say_reproducible()
        while True:
            if rtf > 0 and (self.world.time - self._sim0) / rtf > time.monotonic() - self._wall0:
                return      # ahead of the wall clock: the free-run timer comes back
            now_ns = round(self.world.time * 1e9)
            if not self._checked(self.lockstep.ready, now_ns,
                                 now_ns + round(self.period_s * 1e9), time.monotonic()):
                return
            self._apply_pending_faults()
            self.world.step(self.period_s)
            self._publish_sensors()
            if self.window is not None:
                self.window.sync()
            if time.monotonic() - start > MAX_WALL_PER_TICK_S:
                return      # the free-run timer or the next answer comes back

    def _say_reproducible(self) -> None:
        """Which runs repeat: the loop's answers are judged in sim time, but what a node
        outside the loop sends lands at the step it arrives, and with real-time pacing
        that step is set by the wall clock."""
        loop = sorted(n for n, c in self.lockstep.channels.items() if c.present)
        rtf = float(self.params['real_time_factor'])
        text = (f'lock-step with {", ".join(loop) or "no flight node"}; '
                + (f'paced at {rtf:g}x real time: what nodes outside the loop send (an '
                   'operator, the mission, the relay) lands at a step set by the wall clock, '
                   'so a run that they drive does not repeat' if rtf > 0 else
                   'not paced: a run driven only by the loop repeats step for step'))
        log_outcome(self.get_logger(), rtf == 0, text)

    def _checked(self, ask, *args) -> bool:
        """A lock-step question; past its watchdog the simulation stops, named."""
        try:
            return ask(*args)
        except LockstepStalled as exc:
            self.failure = str(exc)
            self.get_logger().fatal(self.failure)
            raise

    def _apply_pending_faults(self) -> None:
        for wheel, (kind, at) in list(self._pending_faults.items()):
            if self.world.time + 1e-9 >= at:
                del self._pending_faults[wheel]
                self.world.set_fault(wheel, kind)
                self.get_logger().warning(f'fault injected on wheel {wheel}: {kind} at '
                                          f't={self.world.time:.3f} s (sim)')

    # ---- sensors ------------------------------------------------------------------------
    def _publish_sensors(self) -> None:
        w = self.world
        t = w.time
        stamp = ns_to_stamp(round(t * 1e9))
        self.lockstep.inputs(round(t * 1e9))
        self.clock_pub.publish(Clock(clock=stamp))
        readings = w.wheel_readings()
        # velocity: the driver's commutation (Hall) speed, independent of the encoder
        speed = w.motors.hall_speed(readings['hall_count'], self._prev_hall, self.period_s)
        self._prev_hall = readings['hall_count']
        torque = readings['current_a'] * w.motors.p.torque_per_amp
        truth = w.ground_truth()
        odom = Odometry()
        odom.header.stamp = stamp
        odom.header.frame_id = 'odom'
        odom.child_frame_id = 'base_link'
        p = odom.pose.pose.position
        p.x, p.y, p.z = (float(v) for v in truth.position)
        odom.pose.pose.orientation = _quaternion(truth.quaternion)
        lin, ang = odom.twist.twist.linear, odom.twist.twist.angular
        lin.x, lin.y, lin.z = (float(v) for v in truth.linear)
        ang.x, ang.y, ang.z = (float(v) for v in truth.angular)
        self.truth_pub.publish(odom)
        if t + 1e-9 >= self._next_state['joint']:
            self._next_state['joint'] = t + 1.0 / float(self.params['joint_states_rate_hz'])
            for robot, pub in (('rover', self.joint_pub), ('lander', self.lander_joint_pub)):
                names, q, v, e = w.joint_state(robot)
                msg = JointState(name=names, position=q.tolist(), velocity=v.tolist(),
                                 effort=e.tolist())
                msg.header.stamp = stamp
                pub.publish(msg)
        if t + 1e-9 >= self._next_state['imu']:
            self._next_state['imu'] = t + 1.0 / float(self.params['imu.rate_hz'])
            gyro, accel = w.imu()
            imu = Imu()
            imu.header.stamp = stamp
            imu.header.frame_id = 'imu_link'
            # a strapdown IMU gives no orientation: all zeros, covariance[0] -1 (REP 145)
            imu.orientation = Quaternion(x=0.0, y=0.0, z=0.0, w=0.0)
            imu.orientation_covariance[0] = -1.0
            r, a = imu.angular_velocity, imu.linear_acceleration
            r.x, r.y, r.z = map(float, gyro)
            a.x, a.y, a.z = map(float, accel)
            g, acc = w.imu_model.sample_sigma     # the white noise of a sample
            imu.angular_velocity_covariance[0::4] = [g * g] * 3
            imu.linear_acceleration_covariance[0::4] = [acc * acc] * 3
            self.imu_pub.publish(imu)
        if t + 1e-9 >= self._next_state['battery']:
            self._next_state['battery'] = t + 1.0 / float(self.params['power.rate_hz'])
            b = w.battery
            msg = BatteryState(voltage=b.voltage, current=b.current_a, percentage=b.soc,
                               capacity=b.capacity_wh / b.voltage, present=True,
                               power_supply_status=BatteryState.POWER_SUPPLY_STATUS_CHARGING
                               if b.current_a > 0 else BatteryState.POWER_SUPPLY_STATUS_DISCHARGING,
                               power_supply_technology=BatteryState.POWER_SUPPLY_TECHNOLOGY_LION)
            msg.header.stamp = stamp
            msg.header.frame_id = 'lander_battery'
            self.battery_pub.publish(msg)
        self._publish_cameras(t, stamp)
        # Motor readings last: a wheel unit or the controller that has them has everything
        # else of this period too (one writer's order holds to each reader).
        temperature_due = t + 1e-9 >= self._next_state['temperature']
        if temperature_due:
            self._next_state['temperature'] = t + 1.0 / float(
                self.params['motor_temperature_rate_hz'])
        for i, wid in enumerate(WHEEL_IDS):
            if temperature_due:
                temp = Temperature(temperature=float(readings['temperature_c'][i]), variance=0.25)
                temp.header.stamp = stamp
                temp.header.frame_id = f'wheel_{wid}'
                self.temp_pubs[wid].publish(temp)
        for i, wid in enumerate(WHEEL_IDS):
            msg = JointState(name=[f'wheel_{wid}_joint'], position=[float(readings['encoder_rad'][i])],
                             velocity=[float(speed[i])], effort=[float(torque[i])])
            msg.header.stamp = stamp
            self.motor_pubs[wid].publish(msg)

    def _publish_cameras(self, t: float, stamp) -> None:
        for cam, (_, frame, key) in CAMERAS.items():
            rate = float(self.params[f'camera.{key}.rate_hz'])
            image_pub, info_pub = self.image_pubs[cam]
            if cam in self._capture:
                self._capture.discard(cam)
            else:
                if rate <= 0 or t + 1e-9 < self._camera_due[cam]:
                    continue
                self._camera_due[cam] = t + 1.0 / rate
                if (image_pub.get_subscription_count() == 0
                        and info_pub.get_subscription_count() == 0):
                    continue   # nobody looking: skip the render, it is the costly part
            scene = self.rig.render(self.world.data, cam)
            raw = detector_response(scene, self.params['camera.response_rgb'],
                                    float(self.params['camera.noise_dn']), self.rng)
            info_pub.publish(camera_info(self.world.cameras[cam], frame, stamp))
            image_pub.publish(rgb_image(raw, frame, stamp))
            if cam == 'hazcam_right':     # the pair is complete: the pipeline owes a map
                self.lockstep.sent('hazard_camera', round(t * 1e9))
            elif cam == 'tcam':             # the lander camera owes the frame's answer
                self.lockstep.sent('camera', round(t * 1e9))

    def _open_window(self) -> None:
        """MuJoCo's viewer on this world (parameter viewer); without a display, say so and
        run on headless."""
        if getattr(self, 'window', None) is not None:
            self.window.close()
        self.window = None
        if not self.params['viewer']:
            return
        try:
            self.window = Window(self.world.model, self.world.data,
                                 self.world.model.body(ROVER + 'base_link').id)
        except ViewerError as exc:
            self.get_logger().error(str(exc))

    def destroy_node(self) -> None:
        if self.window is not None:
            self.window.close()
        self.rig.close()
        super().destroy_node()


def camera_info(spec, frame: str, stamp) -> CameraInfo:
    k = intrinsics(spec)
    info = CameraInfo(height=spec.height, width=spec.width, distortion_model='plumb_bob')
    info.header.stamp = stamp
    info.header.frame_id = frame
    info.d = [0.0] * 5
    info.k = k.ravel().tolist()
    info.r = np.eye(3).ravel().tolist()
    # stereo: the right camera's P carries Tx = -fx * baseline (ROS CameraInfo convention)
    tx = np.array([[-k[0, 0] * spec.stereo_baseline_m], [0.0], [0.0]])
    info.p = np.hstack([k, tx]).ravel().tolist()
    return info


def _quaternion(wxyz) -> Quaternion:
    return Quaternion(w=float(wxyz[0]), x=float(wxyz[1]), y=float(wxyz[2]), z=float(wxyz[3]))


def main(args=None) -> None:
    rclpy.init(args=args)
    node = SimNode()
    spin_node(node)
