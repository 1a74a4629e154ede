"""The composed stack on the simulator: velocity commands in, measured motion out."""
import math

from geometry_msgs.msg import Twist
from nav_msgs.msg import Odometry
import pytest

from chang_e_rover import config, graph, runner
from chang_e_rover.ros_common import STATE_QOS

TOP_SPEED = config.load_params('rover.yaml', 'drive_controller')['max_speed_m_s']
MAX_ACCEL = config.load_params('rover.yaml', 'drive_controller')['max_accel_m_s2']


class Stack:
    def __init__(self, ros, **sim_params):
        self.ros = ros
        self.nodes = runner.build_nodes(graph.all_nodes(),
                                        {'sim': {'real_time_factor': 0.0, **sim_params}},
                                        context=ros.context)
        for node in self.nodes:
            ros.add(node)
        self.sim = self.nodes[0]
        self.controller = next(n for n in self.nodes if n.get_name() == 'drive_controller')
        self.probe = ros.node('operator')
        self.cmd = self.probe.create_publisher(Twist, 'rover/cmd_vel', STATE_QOS)
        self.truth: list[tuple[float, float, float, float]] = []   # t, x, y, speed
        self.odom: list[Odometry] = []
        self.probe.create_subscription(Odometry, 'sim/ground_truth/odom', self._truth, STATE_QOS)
        self.probe.create_subscription(Odometry, 'rover/odom', self.odom.append, STATE_QOS)

    def _truth(self, msg):
        t = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9
        v = msg.twist.twist.linear
        self.truth.append((t, msg.pose.pose.position.x, msg.pose.pose.position.y,
                           math.hypot(v.x, v.y)))

    @property
    def time(self) -> float:
        return self.sim.world.time

    def drive(self, v: float, omega: float, seconds: float, every: float = 0.1) -> None:
        """Send the command every `every` s of sim time for `seconds` of sim time."""
        end, next_send = self.time + seconds, self.time
        while self.time < end:
            if self.time >= next_send:
                msg = Twist()
                msg.linear.x, msg.angular.z = v, omega
                self.cmd.publish(msg)
                next_send = self.time + every
            self.ros.executor.spin_once(timeout_sec=0.05)

    def idle(self, seconds: float) -> None:
        end = self.time + seconds
        self.ros.spin_until(lambda: self.time >= end, 120, f'{seconds} s of sim time')


def test_straight_drive_is_clamped_to_top_speed(ros):
    stack = Stack(ros)
    stack.idle(1.0)
    stack.drive(0.2, 0.0, 20.0)          # asks for 3.6 times the top speed
    speeds = [s for _, _, _, s in stack.truth]
    assert max(speeds) <= TOP_SPEED * 1.03
    _, x, y, _ = stack.truth[-1]
    assert x > TOP_SPEED * 18.0 and abs(y) < 0.02
    o = stack.odom[-1].pose.pose.position
    assert math.hypot(o.x - x, o.y - y) < 0.02 * x    # odometry within 2 % of distance


def test_bad_commands_are_refused_and_the_last_safe_one_stands(ros):
    stack = Stack(ros)
    stack.idle(1.0)
    stack.drive(0.03, 0.0, 5.0)
    start = stack.time
    for v, omega in ((math.nan, 0.0), (math.inf, 0.0), (-math.inf, 0.0), (0.03, math.nan)):
        stack.drive(v, omega, 0.3)      # refused: the last safe command stands...
        stack.drive(0.03, 0.0, 0.3)     # ...and good ones keep the watchdog fed
    assert stack.controller.rejected >= 4
    during = [s for t, _, _, s in stack.truth if t > start]
    assert min(during) == pytest.approx(0.03, rel=0.1), 'rover keeps the last safe command'
    stack.drive(math.nan, 0.0, 2.5)     # only garbage: after 1 s it counts as silence
    assert stack.truth[-1][3] < 0.002
    stack.drive(1e9, -1e9, 3.0)
    assert max(s for _, _, _, s in stack.truth) <= TOP_SPEED * 1.03


def test_rover_stops_when_commands_stop(ros):
    stack = Stack(ros)
    stack.idle(1.0)
    stack.drive(TOP_SPEED, 0.0, 4.0)
    last_command = stack.time
    stack.idle(4.0)
    braking = TOP_SPEED / MAX_ACCEL
    stopped = [t for t, _, _, s in stack.truth if t > last_command and s < 0.002]
    assert stopped, 'the rover never stopped'
    assert stopped[0] - last_command <= 1.0 + braking + 0.3
