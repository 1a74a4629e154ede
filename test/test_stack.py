"""The composed stack on the simulator: velocity commands in, measured motion out."""
import math

from geometry_msgs.msg import Twist
from nav_msgs.msg import Odometry
import pytest

from chang_e_rover import config, graph, runner
from chang_e_rover.robot_description import WHEEL_IDS
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

    def ready(self) -> None:
        """Wait, as an operator does, until the drive has aligned on its gyro (it holds the
        rover still until then: attitude.align_s of rest)."""
        self.idle(1.0)
        self.ros.spin_until(lambda: not self.controller.core.aligning, 120, 'gyro alignment')


def test_straight_drive_is_clamped_to_top_speed(ros):
    stack = Stack(ros)
    stack.ready()
    stack.drive(0.2, 0.0, 20.0)          # asks for 3.6 times the top speed
    speeds = [s for _, _, _, s in stack.truth]
    assert max(speeds) <= TOP_SPEED * 1.03
    _, x, y, _ = stack.truth[-1]
    assert x > TOP_SPEED * 18.0 and abs(y) < 0.02
    o = stack.odom[-1].pose.pose.position
    assert math.hypot(o.x - x, o.y - y) < 0.02 * x    # odometry within 2 % of distance


def test_the_simulator_says_what_its_steps_waited_for(ros):
    """/sim/lockstep, once a sim second: the wall time since the first step, and the part
    of it the steps waited, by the node of the loop that answered last."""
    from diagnostic_msgs.msg import DiagnosticStatus
    from chang_e_rover.sim.lockstep import waited_from
    stack = Stack(ros)
    got: list[dict[str, str]] = []
    stack.probe.create_subscription(
        DiagnosticStatus, 'sim/lockstep', lambda m: got.append({v.key: v.value for v in m.values}),
        STATE_QOS)
    stack.ready()
    stack.drive(0.05, 0.0, 5.0)
    last = got[-1]
    waited = waited_from(last.items())
    assert set(waited) == {f'wheel_{w}' for w in WHEEL_IDS} | {
        'drive_controller', 'hazard_camera', 'camera'}
    assert float(last['sim_s']) >= 5.0
    assert 0.0 < sum(waited.values()) <= float(last['wall_s'])
    assert waited['camera'] == 0.0, 'no terrain camera frame was taken: nothing owed'


def test_bad_commands_are_refused_and_the_last_safe_one_stands(ros):
    stack = Stack(ros)
    stack.ready()
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
    stack.ready()
    stack.drive(TOP_SPEED, 0.0, 4.0)
    last_command = stack.time
    stack.idle(4.0)
    braking = TOP_SPEED / MAX_ACCEL
    stopped = [t for t, _, _, s in stack.truth if t > last_command and s < 0.002]
    assert stopped, 'the rover never stopped'
    assert stopped[0] - last_command <= 1.0 + braking + 0.3


def test_a_goal_drive_reports_active_then_reached_on_goal_status(ros):
    from diagnostic_msgs.msg import DiagnosticStatus
    from geometry_msgs.msg import PoseStamped

    from chang_e_rover.navigation.goal_status import GoalState, GoalStatus
    from chang_e_rover.ros_common import LATCHED_QOS, ns_to_stamp
    stack = Stack(ros)
    heard: list[tuple[int, GoalStatus]] = []      # level, status
    stack.probe.create_subscription(DiagnosticStatus, 'rover/goal_status', lambda m: heard.append(
        (ord(m.level), GoalStatus.from_values((kv.key, kv.value) for kv in m.values))),
        LATCHED_QOS)
    goal_pub = stack.probe.create_publisher(PoseStamped, 'rover/goal', STATE_QOS)
    stack.idle(1.0)
    assert heard and heard[-1][1] == GoalStatus(GoalState.NONE), 'latched: no goal yet'
    stamp_ns = 12_000_000_345               # any stamp: the status echoes it

    def send(x: float, frame: str = 'odom') -> None:
        goal = PoseStamped()
        goal.header.frame_id, goal.header.stamp = frame, ns_to_stamp(stamp_ns)
        goal.pose.position.x, goal.pose.orientation.w = x, 1.0
        goal_pub.publish(goal)

    send(0.5, frame='map')
    ros.spin_until(lambda: heard[-1][1].state is GoalState.FAILED, 30, 'the refusal')
    assert heard[-1][1].is_for(0.5, 0.0, stamp_ns) and 'map' in heard[-1][1].reason
    assert heard[-1][0] == ord(DiagnosticStatus.ERROR)
    send(0.5)
    end = stack.time + 60.0
    ros.spin_until(lambda: heard[-1][1].state is GoalState.REACHED or stack.time > end, 240,
                   'the goal reached')
    stack.idle(3.0)
    ours = [(level, s) for level, s in heard if s.is_for(0.5, 0.0, stamp_ns)
            and s.state is not GoalState.FAILED]
    states = [s.state for _, s in ours]
    assert states[0] is GoalState.ACTIVE and states[-1] is GoalState.REACHED, states
    assert states.count(GoalState.REACHED) == 1, 'once, at the change; no 1 Hz after it'
    assert set(states[:-1]) <= {GoalState.ACTIVE, GoalState.HELD}
    active = [s.distance_m for _, s in ours if s.state is GoalState.ACTIVE]
    assert len(active) >= 3 and active[-1] < active[0], '1 Hz while active, nearer each time'
    level, reached = ours[-1]
    assert level == ord(DiagnosticStatus.OK) and reached.short_by_m == 0.0
    assert reached.distance_m <= config.load_params('rover.yaml', 'drive_controller')[
        'goal_tolerance_m']
    _, x, y, _ = stack.truth[-1]
    assert math.hypot(x - 0.5, y) < 0.25
