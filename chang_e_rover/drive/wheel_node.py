"""ROS 2 node /rover/wheel_<id>: one independent wheel unit closing its own velocity loop.

Thin shell: it answers every motor reading with a torque command stamped with
that reading's time (the lock-step token), and reports its health on /diagnostics.
"""
from __future__ import annotations

import math

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
import rclpy
from rclpy.node import Node
from sensor_msgs.msg import JointState, Temperature
from std_msgs.msg import Float64
from std_srvs.srv import SetBool, Trigger

from chang_e_rover.drive.wheel_control import VelocityLoop
from chang_e_rover.robot_description import WHEEL_IDS
from chang_e_rover.ros_common import CONTROL_QOS, declare_from_config, STATE_QOS, stamp_to_ns


class WheelNode(Node):
    """Velocity control and health of one wheel motor."""

    def __init__(self, wheel: str, **kwargs):
        if wheel not in WHEEL_IDS:
            raise ValueError(f'unknown wheel {wheel!r}; expected one of {WHEEL_IDS}')
        kwargs.setdefault('namespace', 'rover')
        super().__init__(f'wheel_{wheel}', **kwargs)
        self.wheel = wheel
        p = declare_from_config(self, 'rover.yaml', 'wheel_unit')
        self.loop = VelocityLoop(p['kp_nm_s_per_rad'], p['ki_nm_per_rad'], p['integral_limit_nm'])
        self.setpoint_timeout_ns = int(p['setpoint_timeout_s'] * 1e9)
        self.enabled = True
        self.setpoint = 0.0
        self.setpoint_ns = None
        self.last_state = (math.nan, math.nan, math.nan)   # speed, torque, temperature
        self.command_pub = self.create_publisher(JointState, f'wheel_{wheel}/motor/command',
                                                 CONTROL_QOS)
        self.diag_pub = self.create_publisher(DiagnosticArray, '/diagnostics', STATE_QOS)
        self.create_subscription(JointState, f'wheel_{wheel}/motor/state',
                                 self.motor_state_callback, CONTROL_QOS)
        self.create_subscription(Temperature, f'wheel_{wheel}/motor/temperature',
                                 self.temperature_callback, STATE_QOS)
        self.create_subscription(Float64, f'wheel_{wheel}/setpoint', self.setpoint_callback,
                                 CONTROL_QOS)
        self.create_service(SetBool, f'wheel_{wheel}/enable', self.enable_callback)
        self.create_service(Trigger, f'wheel_{wheel}/reset', self.reset_callback)
        self.create_timer(1.0 / p['diagnostics_rate_hz'], self.publish_diagnostics)

    def setpoint_callback(self, msg: Float64) -> None:
        if not math.isfinite(msg.data):
            self.get_logger().error(f'setpoint {msg.data} is not finite; last setpoint stands')
            return
        self.setpoint = msg.data
        self.setpoint_ns = self.get_clock().now().nanoseconds

    def temperature_callback(self, msg: Temperature) -> None:
        self.last_state = (self.last_state[0], self.last_state[1], msg.temperature)

    def motor_state_callback(self, msg: JointState) -> None:
        speed = msg.velocity[0] if msg.velocity else math.nan
        torque = msg.effort[0] if msg.effort else math.nan
        self.last_state = (speed, torque, self.last_state[2])
        now = stamp_to_ns(msg.header.stamp)
        stale = self.setpoint_ns is None or now - self.setpoint_ns > self.setpoint_timeout_ns
        target = 0.0 if stale else self.setpoint
        if self.enabled:
            command = self.loop.update(target, speed, now * 1e-9)
        else:
            self.loop.reset()
            command = 0.0      # driver off: the wheel free-wheels
        out = JointState(name=[f'wheel_{self.wheel}_joint'], effort=[command])
        out.header.stamp = msg.header.stamp
        self.command_pub.publish(out)

    def enable_callback(self, request: SetBool.Request, response: SetBool.Response):
        self.enabled = bool(request.data)
        self.loop.reset()
        response.success = True
        response.message = f'wheel {self.wheel} {"enabled" if self.enabled else "disabled"}'
        self.publish_diagnostics()
        return response

    def reset_callback(self, request: Trigger.Request, response: Trigger.Response):
        self.loop.reset()
        response.success = True
        response.message = f'wheel {self.wheel}: no latched fault to clear'
        return response

    def publish_diagnostics(self) -> None:
        speed, torque, temperature = self.last_state
        status = DiagnosticStatus(
            level=DiagnosticStatus.OK if self.enabled else DiagnosticStatus.WARN,
            name=f'rover/wheel_{self.wheel}', hardware_id=f'wheel_{self.wheel}',
            message='enabled' if self.enabled else 'disabled by command')
        status.values = [KeyValue(key=k, value=v) for k, v in (
            ('state', 'ENABLED' if self.enabled else 'DISABLED'), ('fault', 'none'),
            ('speed_rad_s', f'{speed:.4f}'), ('torque_nm', f'{torque:.3f}'),
            ('temperature_c', f'{temperature:.1f}'))]
        array = DiagnosticArray(status=[status])
        array.header.stamp = self.get_clock().now().to_msg()
        self.diag_pub.publish(array)


def main(args=None) -> None:
    rclpy.init(args=args)
    argv = rclpy.utilities.remove_ros_args(args)
    wheel = next((a.split('=', 1)[1] for a in argv if a.startswith('--wheel=')), None)
    if wheel is None:
        raise SystemExit('usage: wheel_unit --wheel=<lf|lm|lr|rf|rm|rr> [ROS args]')
    node = WheelNode(wheel)
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, rclpy.executors.ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
