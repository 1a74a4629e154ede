"""ROS 2 node /sim: the simulated rover and lander behind the topics real drivers would use.

Thin shell around sim.world.World. Sensors go out stamped with sim time; the
six wheel motor drivers take torque commands stamped with the reading they
answer, and the simulator steps in lock-step with every driver that has a
publisher, so results do not depend on machine speed.
"""
from __future__ import annotations

import math
import time

from geometry_msgs.msg import Quaternion
from nav_msgs.msg import Odometry
import numpy as np
import rclpy
from rclpy.node import Node
from rclpy.parameter import Parameter
from rcl_interfaces.msg import SetParametersResult
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import BatteryState, CameraInfo, Image, Imu, JointState, Temperature
from std_srvs.srv import Trigger

from chang_e_rover.robot_description import WHEEL_IDS
from chang_e_rover.ros_common import (CONTROL_QOS, declare_from_config, ns_to_stamp,
                                      SENSOR_QOS, spin_node, STATE_QOS, stamp_to_ns)
from chang_e_rover.sim.camera import CameraRig, detector_response, intrinsics
from chang_e_rover.sim.motor import FAULT_KINDS
from chang_e_rover.sim.world import CAMERAS, SimError, World

CAMERA_TOPICS = {'hazcam_left': 'rover/hazcam/left', 'hazcam_right': 'rover/hazcam/right',
                 'pancam': 'rover/pancam', 'tcam': 'lander/tcam'}
DYNAMIC = ('fault', 'real_time_factor', 'terrain.seed', 'terrain.rock_abundance', 'terrain.name',
           'power.initial_soc')
MAX_WALL_PER_TICK_S = 0.005


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
        self.imu_pub = self.create_publisher(Imu, 'rover/imu', SENSOR_QOS)
        self.truth_pub = self.create_publisher(Odometry, 'sim/ground_truth/odom', STATE_QOS)
        self.motor_pubs = {w: self.create_publisher(JointState, f'rover/wheel_{w}/motor/state',
                                                    CONTROL_QOS) for w in WHEEL_IDS}
        self.temp_pubs = {w: self.create_publisher(Temperature,
                                                   f'rover/wheel_{w}/motor/temperature',
                                                   STATE_QOS) for w in WHEEL_IDS}
        self.image_pubs = {c: (self.create_publisher(Image, f'{t}/image_raw', SENSOR_QOS),
                               self.create_publisher(CameraInfo, f'{t}/camera_info', SENSOR_QOS))
                           for c, t in CAMERA_TOPICS.items()}
        self.motor_topics = {w: f'rover/wheel_{w}/motor/command' for w in WHEEL_IDS}
        for w in WHEEL_IDS:
            self.create_subscription(JointState, self.motor_topics[w],
                                     lambda msg, w=w: self.motor_command_callback(w, msg),
                                     CONTROL_QOS)
        for robot in ('rover', 'lander'):
            self.create_subscription(JointState, f'{robot}/joint_commands',
                                     lambda msg, r=robot: self.joint_command_callback(r, msg),
                                     STATE_QOS)
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
        self._build_world()
        self.lockstep_misses = 0
        self.timer = self.create_timer(0.001, self.tick)

    # ---- world lifecycle ----------------------------------------------------------------
    def _build_world(self) -> None:
        self.world = World(self.params)
        self.rig = CameraRig(self.world.model, self.world.cameras)
        self.rng = np.random.default_rng(int(self.params['terrain.seed']) + 1)
        self.period_s = float(self.params['physics.control_period_s'])
        for w in WHEEL_IDS:
            self.world.set_fault(w, self.params[f'fault.wheel_{w}'])
        self._answered = {w: -1 for w in WHEEL_IDS}
        self._not_waited_for: set[str] = set()   # missed a deadline; back once it answers
        self._prev_hall = self.world.wheel_readings()['hall_count']
        self._camera_due = {c: 0.0 for c in CAMERAS}
        self._next_state = {'joint': 0.0, 'imu': 0.0, 'temperature': 0.0, 'battery': 0.0}
        self._reset_pacing()
        self._publish_sensors()

    def _reset_pacing(self) -> None:
        self._wall0, self._sim0 = time.monotonic(), self.world.time
        self._waiting_since = time.monotonic()

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
        for p in params:
            self.params[p.name] = p.value
            if p.name.startswith('fault.'):
                wheel = p.name[len('fault.wheel_'):]
                self.world.set_fault(wheel, p.value)
                self.get_logger().warning(f'fault injected on wheel {wheel}: {p.value}')
            elif p.name == 'real_time_factor':
                self._reset_pacing()
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
        self._answered[wheel] = max(self._answered[wheel], stamp_to_ns(msg.header.stamp))
        self._not_waited_for.discard(wheel)
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
    def _lockstep_ready(self) -> bool:
        now_ns = round(self.world.time * 1e9)
        waiting = [w for w in WHEEL_IDS if self._answered[w] < now_ns
                   and w not in self._not_waited_for
                   and self.count_publishers(self.motor_topics[w]) > 0]
        if not waiting:
            return True
        if time.monotonic() - self._waiting_since > float(self.params['physics.lockstep_timeout_s']):
            # A driver that missed its deadline (a dead process that discovery has not
            # noticed yet) is not waited for again until it answers.
            self.lockstep_misses += 1
            self._not_waited_for.update(waiting)
            self.get_logger().warning(f'lock-step: no command from {waiting} for '
                                      f't={self.world.time:.3f} s; stepping on without them',
                                      throttle_duration_sec=5.0)
            return True
        return False

    def tick(self) -> None:
        start = time.monotonic()
        rtf = float(self.params['real_time_factor'])
        while time.monotonic() - start < MAX_WALL_PER_TICK_S:
            if rtf > 0 and (self.world.time - self._sim0) > (time.monotonic() - self._wall0) * rtf:
                return
            if not self._lockstep_ready():
                return
            self.world.step(self.period_s)
            self._waiting_since = time.monotonic()
            self._publish_sensors()

    # ---- sensors ------------------------------------------------------------------------
    def _publish_sensors(self) -> None:
        w = self.world
        t = w.time
        stamp = ns_to_stamp(round(t * 1e9))
        self.clock_pub.publish(Clock(clock=stamp))
        readings = w.wheel_readings()
        # velocity: the driver's commutation (Hall) speed, independent of the encoder
        speed = w.motors.hall_speed(readings['hall_count'], self._prev_hall, self.period_s)
        self._prev_hall = readings['hall_count']
        torque = readings['current_a'] * w.motors.p.torque_per_amp
        temperature_due = t + 1e-9 >= self._next_state['temperature']
        if temperature_due:
            self._next_state['temperature'] = t + 1.0 / float(
                self.params['motor_temperature_rate_hz'])
        for i, wid in enumerate(WHEEL_IDS):
            msg = JointState(name=[f'wheel_{wid}_joint'], position=[float(readings['encoder_rad'][i])],
                             velocity=[float(speed[i])], effort=[float(torque[i])])
            msg.header.stamp = stamp
            self.motor_pubs[wid].publish(msg)
            if temperature_due:
                temp = Temperature(temperature=float(readings['temperature_c'][i]), variance=0.25)
                temp.header.stamp = stamp
                temp.header.frame_id = f'wheel_{wid}'
                self.temp_pubs[wid].publish(temp)
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
            quat, gyro, accel = w.imu()
            imu = Imu()
            imu.header.stamp = stamp
            imu.header.frame_id = 'imu_link'
            imu.orientation = _quaternion(quat)
            imu.angular_velocity.x, imu.angular_velocity.y, imu.angular_velocity.z = map(float, gyro)
            a = imu.linear_acceleration
            a.x, a.y, a.z = map(float, accel)
            g, acc = self.params['imu.gyro_noise_rad_s'], self.params['imu.accel_noise_m_s2']
            imu.angular_velocity_covariance[0::4] = [g * g] * 3
            imu.linear_acceleration_covariance[0::4] = [acc * acc] * 3
            imu.orientation_covariance[0::4] = [1e-6] * 3
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
            spec = self.world.cameras[cam]
            msg = Image(height=spec.height, width=spec.width, encoding='rgb8', is_bigendian=0,
                        step=spec.width * 3, data=raw.tobytes())
            msg.header.stamp = stamp
            msg.header.frame_id = frame
            image_pub.publish(msg)
            info_pub.publish(camera_info(spec, frame, stamp))

    def destroy_node(self) -> None:
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
