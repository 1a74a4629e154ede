"""ROS 2 node /rover/drive_controller: rover/cmd_vel to six wheel setpoints and four corners.

Thin shell over drive.governor (limits), drive.kinematics (geometry from the
URDF) and drive.odometry.
"""
from __future__ import annotations

import math

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import Twist
from nav_msgs.msg import Odometry
import rclpy
from rclpy.node import Node
from sensor_msgs.msg import Imu, JointState
from std_msgs.msg import Float64

from chang_e_rover import config
from chang_e_rover.drive.governor import CommandRejected, Governor, Limits
from chang_e_rover.drive.kinematics import forward, inverse
from chang_e_rover.drive.odometry import Odometry2D
from chang_e_rover.robot_description import load_urdf, rover_geometry, STEERED_IDS, WHEEL_IDS
from chang_e_rover.ros_common import CONTROL_QOS, declare_from_config, SENSOR_QOS, STATE_QOS


class DriveControllerNode(Node):
    """Turns body velocity commands into wheel and steering commands; publishes odometry."""

    def __init__(self, **kwargs):
        kwargs.setdefault('namespace', 'rover')
        super().__init__('drive_controller', **kwargs)
        p = declare_from_config(self, 'rover.yaml', 'drive_controller')
        self.geometry = rover_geometry(load_urdf(config.urdf_path('rover.urdf')))
        self.governor = Governor(Limits(p['max_speed_m_s'], p['max_accel_m_s2'],
                                        p['max_yaw_rate_rad_s'], p['max_yaw_accel_rad_s2'],
                                        p['cmd_timeout_s']))
        self.max_speed = p['max_speed_m_s']
        self.settle = p['steer_settle_rad']
        self.period = 1.0 / p['control_rate_hz']
        self.odometry = Odometry2D()
        self.steer = {w: 0.0 for w in STEERED_IDS}
        self.wheel_speed = {w: math.nan for w in WHEEL_IDS}
        self.yaw_rate: float | None = None
        self.rejected = 0
        self.setpoint_pubs = {w: self.create_publisher(Float64, f'wheel_{w}/setpoint', CONTROL_QOS)
                              for w in WHEEL_IDS}
        self.steer_pub = self.create_publisher(JointState, 'joint_commands', STATE_QOS)
        self.odom_pub = self.create_publisher(Odometry, 'odom', STATE_QOS)
        self.diag_pub = self.create_publisher(DiagnosticArray, '/diagnostics', STATE_QOS)
        self.create_subscription(Twist, 'cmd_vel', self.cmd_vel_callback, STATE_QOS)
        self.create_subscription(JointState, 'joint_states', self.joint_states_callback, STATE_QOS)
        self.create_subscription(Imu, 'imu', self.imu_callback, SENSOR_QOS)
        for w in WHEEL_IDS:
            self.create_subscription(JointState, f'wheel_{w}/motor/state',
                                     lambda msg, w=w: self.motor_state_callback(w, msg),
                                     CONTROL_QOS)
        self._last_t: float | None = None
        self.create_timer(self.period, self.control_callback)
        self.create_timer(1.0, self.publish_diagnostics)

    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def cmd_vel_callback(self, msg: Twist) -> None:
        try:
            self.governor.command(msg.linear.x, msg.angular.z, self._now())
        except CommandRejected as exc:
            self.rejected += 1
            self.get_logger().error(f'{exc}; refused, the last safe command stands',
                                    throttle_duration_sec=1.0)

    def joint_states_callback(self, msg: JointState) -> None:
        for name, q in zip(msg.name, msg.position):
            if name.startswith('steer_') and name[6:8] in self.steer:
                self.steer[name[6:8]] = q

    def imu_callback(self, msg: Imu) -> None:
        if math.isfinite(msg.angular_velocity.z):
            self.yaw_rate = msg.angular_velocity.z

    def motor_state_callback(self, wheel: str, msg: JointState) -> None:
        self.wheel_speed[wheel] = msg.velocity[0] if msg.velocity else math.nan

    def control_callback(self) -> None:
        t = self._now()
        dt = self.period if self._last_t is None else max(0.0, t - self._last_t)
        self._last_t = t
        v, omega = self.governor.update(t, dt)
        command = inverse(self.geometry, v, omega, self.max_speed)
        steer_error = max(abs(command.steer_rad[w] - self.steer[w]) for w in STEERED_IDS)
        hold = steer_error > self.settle      # let the corners settle before rolling
        for w in WHEEL_IDS:
            self.setpoint_pubs[w].publish(Float64(data=0.0 if hold else command.speed_rad_s[w]))
        steer_msg = JointState(name=[f'steer_{w}_joint' for w in STEERED_IDS],
                               position=[command.steer_rad[w] for w in STEERED_IDS])
        steer_msg.header.stamp = self.get_clock().now().to_msg()
        self.steer_pub.publish(steer_msg)
        self._update_odometry(dt)

    def _update_odometry(self, dt: float) -> None:
        usable = {w: s for w, s in self.wheel_speed.items() if math.isfinite(s)}
        if len(usable) < 2 or dt <= 0:
            return
        v, omega = forward(self.geometry, usable, self.steer)
        self.odometry.update(v, self.yaw_rate if self.yaw_rate is not None else omega, dt)
        msg = Odometry()
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.header.frame_id = 'odom'
        msg.child_frame_id = 'base_link'
        msg.pose.pose.position.x, msg.pose.pose.position.y = self.odometry.x, self.odometry.y
        msg.pose.pose.orientation.z = math.sin(self.odometry.yaw / 2)
        msg.pose.pose.orientation.w = math.cos(self.odometry.yaw / 2)
        msg.twist.twist.linear.x, msg.twist.twist.angular.z = v, omega
        self.odom_pub.publish(msg)

    def publish_diagnostics(self) -> None:
        status = DiagnosticStatus(level=DiagnosticStatus.OK, name='rover/drive_controller',
                                  hardware_id='drive_controller', message='driving')
        status.values = [KeyValue(key=k, value=v) for k, v in (
            ('mode', 'ackermann_point_turn'), ('healthy_wheels', str(len(WHEEL_IDS))),
            ('speed_limit_m_s', f'{self.max_speed:.4f}'),
            ('rejected_commands', str(self.rejected)))]
        array = DiagnosticArray(status=[status])
        array.header.stamp = self.get_clock().now().to_msg()
        self.diag_pub.publish(array)


def main(args=None) -> None:
    rclpy.init(args=args)
    node = DriveControllerNode()
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, rclpy.executors.ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
