"""The flown stack in lock-step with the simulator: real-time factor of a goal drive.

The whole graph (simulator, six wheel units, drive controller, hazard pipeline, relay,
science, lander nodes) over DDS, a 20 m goal on flat ground, as fast as lock-step allows,
in one process and with one process per node, with and without the hazard cameras (1 Hz).
The peer, measured in the same run: the simulator's own World.step at the control period
with no ROS at all (what lock-step could reach if the flight software cost nothing).
Also the CPU seconds of the processes per sim second. Not a test: nothing is asserted.
Writes bench/results/stack.json.
  ./dev bench stack [--seconds 30] [--executor events|single]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

from results import write_results

os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
os.environ.setdefault('MUJOCO_GL', 'egl')

GOAL_X = 20.0


def physics_only(seconds: float) -> float:
    """Sim seconds per wall second of World.step at the control period, wheels driven."""
    from chang_e_rover.sim.world import World
    world = World(overrides={'terrain.name': 'flat'})
    period = float(world.params['physics.control_period_s'])
    for w in ('lf', 'lm', 'lr', 'rf', 'rm', 'rr'):
        world.set_wheel_torque(w, 2.0)
    start = time.perf_counter()
    end = world.time + seconds
    while world.time < end:
        world.step(period)
    return seconds / (time.perf_counter() - start)


def one_run(processes: bool, cameras: bool, seconds: float) -> dict:
    """Run the stack in a child process (its own DDS domain); return its figures."""
    env = {**os.environ, 'ROS_DOMAIN_ID': str(120 + (os.getpid() + processes * 7 + cameras) % 40)}
    cmd = [sys.executable, __file__, '--child', '--seconds', str(seconds)]
    cmd += ['--processes'] if processes else []
    cmd += ['--cameras'] if cameras else []
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=seconds * 10 + 120)
    line = [x for x in out.stdout.splitlines() if x.startswith('FIGURES ')]
    if not line:
        raise SystemExit(f'stack run failed:\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}')
    return json.loads(line[-1][len('FIGURES '):])


def child(args) -> None:
    import resource

    import rclpy
    from geometry_msgs.msg import PoseStamped
    from rclpy.node import Node
    from rosgraph_msgs.msg import Clock

    from chang_e_rover import graph, runner
    sim = {'real_time_factor': 0.0, 'terrain.name': 'flat',
           'camera.hazcam.rate_hz': 1.0 if args.cameras else 0.0,
           'lockstep.expect': ','.join(graph.lockstep_nodes())}
    state = {'t': 0.0, 'first': None}

    def probe(node: Node):
        pub = node.create_publisher(PoseStamped, '/rover/goal', 10)

        def clock(msg):
            state['t'] = msg.clock.sec + msg.clock.nanosec * 1e-9
            if state['first'] is None and state['t'] > 1.0:
                state['first'] = (time.monotonic(), state['t'], cpu())
                goal = PoseStamped()
                goal.header.frame_id = 'odom'
                goal.pose.position.x = GOAL_X
                pub.publish(goal)
        node.create_subscription(Clock, '/clock', clock, 10)

    def cpu() -> float:
        own = resource.getrusage(resource.RUSAGE_SELF)
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime

    def done() -> bool:
        return state['first'] is not None and time.monotonic() - state['first'][0] > args.seconds

    if args.processes:
        sup = runner.ProcessSupervisor(graph.all_nodes(), {'sim': sim}, log=lambda m: None)
        sup.start_all()
        rclpy.init()
        node = Node('bench_probe')
        probe(node)
        executor = runner.make_executor()
        executor.add_node(node)
        try:
            while not done():
                executor.spin_once(timeout_sec=0.1)
            wall0, sim0, _ = state['first']
            wall, simt = time.monotonic() - wall0, state['t'] - sim0
        finally:
            sup.stop()
        cpu_s = None     # the children's CPU is counted only once they are reaped: below
    else:
        def make(nodes):
            node = Node('bench_probe')
            probe(node)
            return node
        runner.spin_in_process(graph.all_nodes(), {'sim': sim}, keep_going=lambda: not done(),
                               extra_nodes=(make,))
        wall0, sim0, cpu0 = state['first']
        wall, simt = time.monotonic() - wall0, state['t'] - sim0
        cpu_s = cpu() - cpu0
    figures = {'rtf': simt / wall, 'sim_s': simt, 'wall_s': wall}
    if cpu_s is not None:
        figures['cpu_s_per_sim_s'] = cpu_s / simt
    print('FIGURES ' + json.dumps(figures), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument('--seconds', type=float, default=30.0, help='wall seconds per run')
    ap.add_argument('--child', action='store_true', help=argparse.SUPPRESS)
    ap.add_argument('--processes', action='store_true', help=argparse.SUPPRESS)
    ap.add_argument('--cameras', action='store_true', help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args)
        return
    peer = physics_only(min(args.seconds, 20.0) * 5)
    executor = os.environ.get('CHANG_E_ROVER_EXECUTOR', 'events')
    print(f'executor {executor}; peer: World.step alone, no ROS, {peer:.1f}x real time')
    print(f'{"stack":<34}{"real-time factor":>18}{"share of peer":>15}{"CPU s / sim s":>15}')
    figure = {}
    for processes in (False, True):
        for cameras in (False, True):
            label = (f'{"processes" if processes else "one process"}, '
                     f'{"hazcams 1 Hz" if cameras else "no cameras"}')
            f = one_run(processes, cameras, args.seconds)
            figure[f'{label}: real-time factor'] = round(f['rtf'], 2)
            if 'cpu_s_per_sim_s' in f:
                figure[f'{label}: CPU s per sim s'] = round(f['cpu_s_per_sim_s'], 2)
            cpu = f'{f["cpu_s_per_sim_s"]:.2f}' if 'cpu_s_per_sim_s' in f else '-'
            print(f'{label:<34}{f["rtf"]:>17.2f}x{100 * f["rtf"] / peer:>14.0f}%{cpu:>15}',
                  flush=True)
    write_results('stack', figure, {'World.step alone, no ROS: real-time factor': round(peer, 2)},
                  setup={'executor': executor, 'wall seconds per run': args.seconds})


if __name__ == '__main__':
    main()
