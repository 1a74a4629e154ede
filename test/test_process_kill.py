"""A wheel unit's process killed under the full stack, one process per node: node_lost, rover goes on."""
import math
from pathlib import Path
import signal
import time

from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import Twist
from nav_msgs.msg import Odometry
from rosgraph_msgs.msg import Clock

from chang_e_rover import graph
from chang_e_rover.ros_common import STATE_QOS
from chang_e_rover.runner import ProcessSupervisor
from chang_e_rover.supervisor import RestartPolicy

ROOT = Path(__file__).resolve().parent.parent


def test_killed_wheel_process_is_node_lost_within_a_second_and_the_rover_goes_on(ros, monkeypatch):
    monkeypatch.setenv('PYTHONPATH', str(ROOT))
    sup = ProcessSupervisor(graph.all_nodes(), {'sim': {'real_time_factor': 1.0}},
                            policy=RestartPolicy(max_restarts=0), log=lambda line: None)
    probe = ros.node('operator')
    cmd = probe.create_publisher(Twist, 'rover/cmd_vel', STATE_QOS)
    clock, speed, lost_at = [0.0], [0.0], []

    def on_clock(msg):
        clock[0] = msg.clock.sec + msg.clock.nanosec * 1e-9

    def on_truth(msg):
        speed[0] = math.hypot(msg.twist.twist.linear.x, msg.twist.twist.linear.y)

    def on_diag(msg):
        for s in msg.status:
            values = {kv.key: kv.value for kv in s.values}
            if s.name == 'rover/drive_controller' and 'rf' in values.get('isolated_wheels', ''):
                if not lost_at and 'node_lost' in s.message:
                    lost_at.append(msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9)

    probe.create_subscription(Clock, '/clock', on_clock, 10)
    probe.create_subscription(Odometry, 'sim/ground_truth/odom', on_truth, STATE_QOS)
    probe.create_subscription(DiagnosticArray, '/diagnostics', on_diag, STATE_QOS)
    forward = Twist()
    forward.linear.x = 0.04

    def drive_until(predicate, timeout, what):
        deadline = time.monotonic() + timeout
        while not predicate():
            assert time.monotonic() < deadline, f'timed out waiting for {what}'
            cmd.publish(forward)
            ros.spin_for(0.2)
            sup.poll()

    try:
        sup.start_all()
        drive_until(lambda: speed[0] > 0.03, 120, 'the rover to drive')
        victim = sup.procs['/rover/wheel_rf']
        killed_at = clock[0]
        victim.send_signal(signal.SIGKILL)
        drive_until(lambda: lost_at, 90, 'node_lost in the controller diagnostics')
        assert lost_at[0] - killed_at <= 1.0 + 0.05   # +1 control period of clock granularity
        resumed = clock[0]
        drive_until(lambda: clock[0] > resumed + 5.0, 120, '5 s of sim time after the loss')
        assert speed[0] > 0.02, 'the other five wheels carry on'
        assert '/rover/wheel_rf' in sup.given_up and '/rover/wheel_rf' not in sup.procs
    finally:
        procs = list(sup.procs.values())
        sup.stop()
    assert all(p.returncode is not None for p in procs)
