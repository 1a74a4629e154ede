"""What the flight nodes cost a board: CPU and resident memory of `bringup` alone.

The simulator runs in a process of its own (`chang-e-rover node /sim`, real-time
pacing, hazard cameras at 1 Hz, flat ground), as the rover's hardware would be
outside the board; the flight stack runs as it would on the board, `chang-e-rover
bringup --use-sim-time`, all flight nodes in one process. After the graph is up a
probe sends a goal 20 m ahead and the bench samples, over --seconds of a goal drive,
the bringup process's CPU seconds (/proc, all its threads) per second of sim time,
which is the rover's real time on the board (the lock-step holds the simulator
below its real-time pacing when the nodes are slow, so per wall second would flatter
them), and its resident memory. Peer, in the same run and window: the simulator
process's CPU seconds per sim second. Measured twice: the rover's board (`bringup
--vehicle rover`, the nodes the rover's own computer runs) and the whole flight stack,
rover and lander, in one process. Not a test: nothing is asserted. Writes
bench/results/board.json.
  ./dev bench board [--seconds 60]
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from results import write_results

from chang_e_rover import config

PORT_SHIFT = 1250           # the relay's ports, clear of a session on config's own
TICKS = os.sysconf('SC_CLK_TCK')


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process (all its threads) so far."""
    fields = Path(f'/proc/{pid}/stat').read_text().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def rss_mib(pid: int) -> float:
    for line in Path(f'/proc/{pid}/status').read_text().splitlines():
        if line.startswith('VmRSS:'):
            return int(line.split()[1]) / 1024
    return float('nan')


class Probe:
    """A node that sends the goal and keeps the sim time (/clock)."""

    def __init__(self):
        import rclpy
        from rosgraph_msgs.msg import Clock
        rclpy.init()
        self.rclpy = rclpy
        self.node = rclpy.create_node('board_probe')
        self.sim_s = 0.0
        self.node.create_subscription(Clock, '/clock', self._clock, 10)

    def _clock(self, msg) -> None:
        self.sim_s = max(self.sim_s, msg.clock.sec + msg.clock.nanosec * 1e-9)

    def spin_for(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            self.rclpy.spin_once(self.node, timeout_sec=left)

    def close(self) -> None:
        self.node.destroy_node()
        self.rclpy.shutdown()


def wait_for_odometry_and_send_goal(node, timeout_s: float) -> None:
    """Waits for /rover/odom, then sends a goal 20 m ahead."""
    import rclpy
    from geometry_msgs.msg import PoseStamped
    from nav_msgs.msg import Odometry
    seen = []
    node.create_subscription(Odometry, '/rover/odom', seen.append, 10)
    pub = node.create_publisher(PoseStamped, '/rover/goal', 10)
    deadline = time.monotonic() + timeout_s
    while not seen or pub.get_subscription_count() == 0:
        rclpy.spin_once(node, timeout_sec=0.2)
        if time.monotonic() > deadline:
            raise SystemExit('the flight stack did not publish odometry')
    goal = PoseStamped()
    goal.header.frame_id = 'odom'
    goal.pose.position.x = 20.0
    goal.pose.orientation.w = 1.0
    for _ in range(3):
        pub.publish(goal)
        rclpy.spin_once(node, timeout_sec=0.2)


def measure(vehicle: str | None, seconds: float) -> dict:
    """One bringup (of one vehicle's nodes, or all) against its own simulator: CPU s per
    sim s and peak RSS of the flight process, and the simulator's CPU in the window."""
    tmp, before = Path(tempfile.mkdtemp(prefix='chang_e_rover_board_')), dict(os.environ)
    procs, probe = [], None
    try:
        env = {**os.environ, 'ROS_DOMAIN_ID': str(200 + os.getpid() % 30),
               'ROS_AUTOMATIC_DISCOVERY_RANGE': 'LOCALHOST',
               'CHANG_E_ROVER_STATE': str(tmp / 's'),
               'CHANG_E_ROVER_SHARE': str(config.copy_share(tmp / 'share', PORT_SHIFT))}
        os.environ.update(env)
        from chang_e_rover.relay.ground_cli import ensure_key
        ensure_key()
        sim = subprocess.Popen(
            [sys.executable, '-m', 'chang_e_rover.cli', 'node', '/sim', '--ros-args',
             '-p', 'terrain.name:=flat', '-p', 'camera.hazcam.rate_hz:=1.0',
             '-p', 'real_time_factor:=1.0'],
            env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(sim)
        flight = subprocess.Popen([sys.executable, '-m', 'chang_e_rover.cli', 'bringup',
                                   '--use-sim-time'] + (['--vehicle', vehicle] if vehicle else []),
                                  env=env, start_new_session=True,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(flight)
        probe = Probe()
        wait_for_odometry_and_send_goal(probe.node, 120.0)
        probe.spin_for(5.0)         # the goal taken up, the drive under way
        c0f, c0s, w0, s0 = cpu_s(flight.pid), cpu_s(sim.pid), time.monotonic(), probe.sim_s
        peak = 0.0
        while time.monotonic() - w0 < seconds:
            probe.spin_for(1.0)
            peak = max(peak, rss_mib(flight.pid))
        wall, sim_s = time.monotonic() - w0, probe.sim_s - s0
        if sim_s <= 0:
            raise SystemExit(f'no sim time passed in {wall:.0f} s of wall')
        return {'cpu': (cpu_s(flight.pid) - c0f) / sim_s, 'sim_cpu': (cpu_s(sim.pid) - c0s) / sim_s,
                'peak': peak, 'sim_s': sim_s, 'wall': wall}
    finally:
        if probe is not None:
            probe.close()
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGINT)
        for p in procs:
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
        shutil.rmtree(tmp, ignore_errors=True)
        os.environ.clear()
        os.environ.update(before)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument('--seconds', type=float, default=60.0, help='wall seconds measured')
    args = ap.parse_args()
    figures, peers = {}, {}
    for vehicle, what in (('rover', "rover's board (bringup --vehicle rover)"),
                          (None, 'rover and lander, one process (bringup)')):
        m = measure(vehicle, args.seconds)
        print(f"{what}: {m['cpu']:.2f} CPU s per sim s, peak RSS {m['peak']:.0f} MiB over "
              f"{m['sim_s']:.0f} s of sim ({m['wall']:.0f} s of wall) of a goal drive, "
              f"hazcams at 1 Hz; peer, the simulator process: {m['sim_cpu']:.2f}")
        figures[f'{what}: CPU s per sim s'] = round(m['cpu'], 3)
        figures[f'{what}: peak RSS MiB'] = round(m['peak'], 1)
        figures[f'{what}: sim s per wall s'] = round(m['sim_s'] / m['wall'], 3)
        peers[f'{what}: the simulator process, CPU s per sim s'] = round(m['sim_cpu'], 3)
    write_results('board', figures, peers,
                  setup={'seconds': args.seconds, 'hazcam_rate_hz': 1.0,
                         'real_time_factor': 1.0})


if __name__ == '__main__':
    main()
