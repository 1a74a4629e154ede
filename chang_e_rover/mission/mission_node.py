"""ROS 2 node /mission: the operator of the simulated mission, driving the scripted traverse."""
from __future__ import annotations

import math
import time

from geometry_msgs.msg import Twist
from nav_msgs.msg import Odometry
from rclpy.node import Node
from rclpy.parameter import Parameter

from chang_e_rover.mission.plan import PathMeter, PlanClock
from chang_e_rover.ros_common import STATE_QOS


class MissionNode(Node):
    """Publishes rover/cmd_vel leg by leg (sim time) and reports progress."""

    def __init__(self, report=print, **kwargs):
        kwargs['parameter_overrides'] = [Parameter('use_sim_time', value=True)]
        super().__init__('mission', **kwargs)
        self.report = report
        self.plan = PlanClock()
        self.meter = PathMeter()
        self.truth = None
        self.odom = None
        self.start_t: float | None = None
        self.wall_start = time.monotonic()
        self.finished = False
        self._last_report = -math.inf
        self.cmd_pub = self.create_publisher(Twist, 'rover/cmd_vel', STATE_QOS)
        self.create_subscription(Odometry, 'sim/ground_truth/odom', self.truth_callback, STATE_QOS)
        self.create_subscription(Odometry, 'rover/odom', self.odom_callback, STATE_QOS)
        self.create_timer(0.1, self.timer_callback)

    def truth_callback(self, msg: Odometry) -> None:
        p = msg.pose.pose.position
        self.truth = (p.x, p.y, p.z)
        self.meter.add(*self.truth)

    def odom_callback(self, msg: Odometry) -> None:
        self.odom = (msg.pose.pose.position.x, msg.pose.pose.position.y)

    def timer_callback(self) -> None:
        now = self.get_clock().now().nanoseconds * 1e-9
        if self.truth is None or self.finished:
            return
        if self.start_t is None:
            self.start_t = now
        elapsed = now - self.start_t
        leg = self.plan.leg_at(elapsed)
        if leg is None:
            self.finished = True
            self.cmd_pub.publish(Twist())
            self.summary(elapsed)
            return
        cmd = Twist()
        cmd.linear.x, cmd.angular.z = leg.v_m_s, leg.omega_rad_s
        self.cmd_pub.publish(cmd)
        if elapsed - self._last_report >= 10.0:
            self._last_report = elapsed
            x, y, _ = self.truth
            odom = '' if self.odom is None else f'  odom ({self.odom[0]:6.2f}, {self.odom[1]:6.2f})'
            self.report(f'[mission] t={elapsed:6.1f} s  {leg.label:<13} true ({x:6.2f}, {y:6.2f})'
                        f'{odom}  {100 * elapsed / self.plan.total_s:3.0f} %')

    def summary(self, sim_s: float) -> None:
        wall = time.monotonic() - self.wall_start
        x, y, _ = self.truth
        lines = ['', '=== mission summary ===',
                 f'distance driven (ground truth): {self.meter.length:.2f} m',
                 f'final position: ({x:.2f}, {y:.2f}) m']
        if self.odom is not None:
            err = math.hypot(self.odom[0] - x, self.odom[1] - y)
            lines.append(f'odometry error: {err:.3f} m '
                         f'({100 * err / max(self.meter.length, 1e-9):.1f} % of distance)')
        lines += [f'sim time: {sim_s:.1f} s, wall time: {wall:.1f} s, '
                  f'real-time factor: {sim_s / wall:.1f}']
        self.report('\n'.join(lines))
