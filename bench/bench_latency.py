"""cmd_vel to wheel-command latency, p50 and p99, beside a bare rclpy echo in the same run.

The flight stack (drive controller and six wheel units, from the graph) turns
rover/cmd_vel into rover/wheel_<id>/setpoint, the wheel units' command, at once
(on hardware the controller steps on a command, not on its next 20 Hz tick);
the peer is a bare rclpy node that republishes each Twist as a stamped
JointState at once (the setpoint's type). Both are measured in one process (one
single-threaded executor with the probe) and across processes (one per node).
Wall clock, no simulator. Writes the percentiles, with the echo's of the same mode
as their peers, to bench/results/latency.json.
  ./dev bench latency [--samples 300]
"""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time

os.environ.setdefault('ROS_DOMAIN_ID', str(170 + os.getpid() % 30))
os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')

import numpy as np  # noqa: E402
import rclpy  # noqa: E402
from geometry_msgs.msg import Twist  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.node import Node  # noqa: E402
from sensor_msgs.msg import JointState  # noqa: E402

from chang_e_rover import graph, runner  # noqa: E402
from chang_e_rover.ros_common import CONTROL_QOS, STATE_QOS  # noqa: E402
from results import write_results  # noqa: E402


class Echo(Node):
    """The peer: republish every Twist's linear.x at once."""

    def __init__(self, **kwargs):
        super().__init__('echo', **kwargs)
        self.pub = self.create_publisher(JointState, 'bench/echo', CONTROL_QOS)
        self.create_subscription(Twist, 'bench/cmd_vel', self.cb, STATE_QOS)

    def cb(self, msg: Twist) -> None:
        out = JointState(name=['echo'], velocity=[msg.linear.x])
        out.header.stamp = self.get_clock().now().to_msg()
        self.pub.publish(out)


def measure(executor, probe: Node, cmd_topic: str, out_topic: str, samples: int) -> np.ndarray:
    """Step the command between two speeds; time from publish to the first changed output."""
    pub = probe.create_publisher(Twist, cmd_topic, STATE_QOS)
    seen: list[tuple[float, float]] = []
    sub = probe.create_subscription(JointState, out_topic,
                                    lambda m: seen.append((time.perf_counter(),
                                                           m.velocity[0] if m.velocity else 0.0)),
                                    CONTROL_QOS)
    deadline = time.monotonic() + 20
    while probe.count_subscribers(cmd_topic) == 0 or not seen:
        pub.publish(Twist())
        executor.spin_once(timeout_sec=0.05)
        if time.monotonic() > deadline:
            raise RuntimeError(f'no output on {out_topic}')
    latencies = []
    speeds = (0.020, 0.025)
    for i in range(samples + 5):
        # settle at the previous speed, then step
        end = time.monotonic() + 0.25
        while time.monotonic() < end:
            executor.spin_once(timeout_sec=0.01)
        before = seen[-1][1]
        msg = Twist()
        msg.linear.x = speeds[i % 2]
        t0 = time.perf_counter()
        pub.publish(msg)
        mark = len(seen)
        end = time.monotonic() + 1.0
        while time.monotonic() < end:
            executor.spin_once(timeout_sec=0.001)
            changed = [t for t, v in seen[mark:] if abs(v - before) > 1e-9]
            if changed:
                if i >= 5:   # warm-up samples left out
                    latencies.append(changed[0] - t0)
                break
    probe.destroy_subscription(sub)
    probe.destroy_publisher(pub)
    return np.array(latencies) * 1e3


def report(label: str, ms: np.ndarray, peer: np.ndarray, figure: dict, peers: dict) -> None:
    """Print a mode's percentiles beside the echo's; add them to figure and peers."""
    p50, p99 = np.percentile(ms, 50), np.percentile(ms, 99)
    q50, q99 = np.percentile(peer, 50), np.percentile(peer, 99)
    print(f'{label:<18}{"drive controller":>18}{p50:>9.2f}{p99:>9.2f}   '
          f'echo {q50:>6.2f} {q99:>6.2f}   ratio p50 {p50 / q50:>6.1f}x  p99 {p99 / q99:>6.1f}x')
    figure.update({f'{label}: p50 ms': round(p50, 2), f'{label}: p99 ms': round(p99, 2)})
    peers.update({f'{label}: echo p50 ms': round(q50, 2), f'{label}: echo p99 ms': round(q99, 2)})


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument('--samples', type=int, default=300)
    args = ap.parse_args()
    print(f'{"mode":<18}{"path":>18}{"p50 ms":>9}{"p99 ms":>9}   peer p50/p99 ms')
    figure, peers = {}, {}
    # one process: controller, echo and probe on one single-threaded executor
    rclpy.init()
    executor = SingleThreadedExecutor()
    probe = Node('latency_probe')
    stack = runner.build_nodes(graph.flight_nodes(), sim_time=False)
    echo = Echo()
    for node in (probe, *stack, echo):
        executor.add_node(node)
    ctl = measure(executor, probe, 'rover/cmd_vel', 'rover/wheel_lm/setpoint', args.samples)
    ech = measure(executor, probe, 'bench/cmd_vel', 'bench/echo', args.samples)
    report('one process', ctl, ech, figure, peers)
    for node in (*stack, echo):
        executor.remove_node(node)
        node.destroy_node()
    # across processes: every flight node and the echo in their own processes
    supervisor = runner.ProcessSupervisor(graph.flight_nodes(), sim_time=False,
                                          log=lambda line: None)
    supervisor.start_all()
    echo_proc = subprocess.Popen([sys.executable, __file__, '--echo-only'],
                                 start_new_session=True)
    try:
        ctl = measure(executor, probe, 'rover/cmd_vel', 'rover/wheel_lm/setpoint', args.samples)
        ech = measure(executor, probe, 'bench/cmd_vel', 'bench/echo', args.samples)
        report('across processes', ctl, ech, figure, peers)
    finally:
        supervisor.stop()
        os.killpg(echo_proc.pid, signal.SIGINT)
        echo_proc.wait(10)
        probe.destroy_node()
        rclpy.try_shutdown()
    write_results('latency', figure, peers, setup={'steps per mode': args.samples})


if __name__ == '__main__':
    if '--echo-only' in sys.argv:
        from chang_e_rover.ros_common import spin_node
        rclpy.init()
        spin_node(Echo())
    else:
        main()
