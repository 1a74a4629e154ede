"""One seeded scenario of the flown stack, run as its own process; prints its outcome as JSON.

A goal drive on a rock field with the hazard cameras on and a wheel seizing mid-drive:
the simulator starts paused with the fault scheduled in sim time, the operator (this
script) sends the goal, unpauses, and records until END_S of sim time what the flight
software reported (wheel diagnostics, the controller's isolation, odometry) and where the
rover truly was. Run twice, on an idle and on a loaded machine, the two outcomes must
agree (test_determinism.py).

    python test/scenario_run.py [--processes]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

END_S = 30.0
GOAL = (4.0, 0.5)
FAULT = {'fault.wheel_lm': 'stall', 'fault_at_s.wheel_lm': 15.0}
SIM = {'real_time_factor': 0.0, 'paused': True, 'terrain.name': 'rocks', 'terrain.seed': 3,
       'terrain.rock_abundance': 0.05,
       'lockstep.expect': 'wheel_lf,wheel_lm,wheel_lr,wheel_rf,wheel_rm,wheel_rr,'
                          'drive_controller,hazard_camera', **FAULT}


def stamp_s(stamp) -> float:
    return stamp.sec + stamp.nanosec * 1e-9


class Recorder:
    """The operator's probe: sends the goal, records what the scenario is judged on."""

    def __init__(self, node):
        from diagnostic_msgs.msg import DiagnosticArray
        from geometry_msgs.msg import PoseStamped
        from nav_msgs.msg import Odometry
        from rosgraph_msgs.msg import Clock

        from chang_e_rover.ros_common import STATE_QOS
        self.node = node
        self.now = 0.0
        self.detected: dict[str, float] = {}      # wheel -> first stamp its unit reported a fault
        self.isolated: dict[str, float] = {}      # wheel -> first stamp the controller isolated it
        self.states: dict[str, tuple[float, str, str]] = {}   # wheel -> (stamp, state, fault)
        self.truth = self.odom = None
        self.track: dict[str, tuple[float, float]] = {}   # whole second of sim -> odometry
        self.goal_pub = node.create_publisher(PoseStamped, '/rover/goal', STATE_QOS)
        node.create_subscription(Clock, '/clock', self._clock, 10)
        node.create_subscription(DiagnosticArray, '/diagnostics', self._diagnostics, 100)
        node.create_subscription(Odometry, '/sim/ground_truth/odom',
                                 lambda m: self._pose('truth', m), STATE_QOS)
        node.create_subscription(Odometry, '/rover/odom', lambda m: self._pose('odom', m),
                                 STATE_QOS)

    def _clock(self, msg) -> None:
        self.now = max(self.now, stamp_s(msg.clock))

    def _pose(self, which: str, msg) -> None:
        t, p = stamp_s(msg.header.stamp), msg.pose.pose.position
        if abs(t - END_S) < 1e-6:
            setattr(self, which, (p.x, p.y))
        if which == 'odom' and abs(t - round(t)) < 1e-6 and t <= END_S + 1e-6:
            self.track[str(round(t))] = (p.x, p.y)

    def _diagnostics(self, msg) -> None:
        t = stamp_s(msg.header.stamp)
        if t > END_S + 1e-6:
            return
        for status in msg.status:
            values = {kv.key: kv.value for kv in status.values}
            if status.name.startswith('rover/wheel_'):
                wheel = status.name[len('rover/wheel_'):]
                if values.get('fault', 'none') != 'none':
                    self.detected.setdefault(wheel, t)
                if t >= self.states.get(wheel, (-1.0,))[0]:
                    self.states[wheel] = (t, values.get('state'), values.get('fault'))
            elif status.name == 'rover/drive_controller':
                for wheel in values.get('isolated_wheels', '').split():
                    self.isolated.setdefault(wheel, t)

    def send_goal(self) -> None:
        from geometry_msgs.msg import PoseStamped
        msg = PoseStamped()
        msg.header.frame_id = 'odom'
        msg.pose.position.x, msg.pose.position.y = GOAL
        self.goal_pub.publish(msg)

    def done(self) -> bool:
        return self.truth is not None and self.odom is not None and self.now >= END_S + 1.0

    def outcome(self) -> dict:
        return {'detected': self.detected, 'isolated': self.isolated,
                'states': {w: list(v[1:]) for w, v in sorted(self.states.items())},
                'truth': self.truth, 'odom': self.odom, 'track': self.track}


def one_process(deadline: float) -> dict:
    import rclpy
    from rclpy.node import Node
    from rclpy.parameter import Parameter

    from chang_e_rover import graph, runner
    rec, stage = [], {}

    def make(nodes):
        node = Node('operator')
        rec.append(Recorder(node))
        stage['sim'] = next(n for n in nodes if n.get_name() == 'sim')
        return node

    def keep_going() -> bool:
        if time.monotonic() > deadline:
            raise SystemExit('scenario: past its wall-clock deadline')
        r, sim = rec[0], stage['sim']
        if 'started' not in stage and r.goal_pub.get_subscription_count() > 0 and all(
                c.present for c in sim.lockstep.channels.values()):
            r.send_goal()
            stage['started'] = True
            sim.set_parameters([Parameter('paused', value=False)])
        if r.now >= END_S + 1.0 and not sim.params['paused']:
            sim.set_parameters([Parameter('paused', value=True)])
        return not r.done()

    runner.spin_in_process(graph.all_nodes(), {'sim': SIM}, keep_going=keep_going,
                           extra_nodes=(make,))
    del rclpy
    return rec[0].outcome()


def processes(deadline: float) -> dict:
    import rclpy
    from rcl_interfaces.srv import SetParameters
    from rclpy.duration import Duration
    from rclpy.node import Node
    from rclpy.parameter import Parameter

    from chang_e_rover import graph, runner
    sup = runner.ProcessSupervisor(graph.all_nodes(), {'sim': SIM}, log=lambda m: None)
    sup.start_all()
    rclpy.init()
    node = Node('operator')
    executor = runner.make_executor()
    executor.add_node(node)
    rec = Recorder(node)
    client = node.create_client(SetParameters, '/sim/set_parameters')

    def set_paused(value: bool) -> None:
        future = client.call_async(SetParameters.Request(
            parameters=[Parameter('paused', value=value).to_parameter_msg()]))
        while not future.done():
            executor.spin_once(timeout_sec=0.05)

    try:
        expected = {'sim', 'drive_controller', 'hazard_camera'} | {
            f'wheel_{w}' for w in ('lf', 'lm', 'lr', 'rf', 'rm', 'rr')}
        while not (expected <= set(node.get_node_names()) and client.service_is_ready()
                   and rec.goal_pub.get_subscription_count() > 0):
            executor.spin_once(timeout_sec=0.1)
            if time.monotonic() > deadline:
                raise SystemExit('scenario: the graph did not come up')
        rec.send_goal()
        # The goal crosses processes: unpaused before the controller holds it, the first
        # readings could reach the controller ahead of it, and the goal would land at a
        # step set by the machine's load. Acknowledged, it is in the controller's reader
        # before any reading of the run exists.
        if not rec.goal_pub.wait_for_all_acked(Duration(seconds=30)):
            raise SystemExit('scenario: the goal was not acknowledged by the controller')
        set_paused(False)
        while not rec.done():
            executor.spin_once(timeout_sec=0.1)
            sup.poll()
            if rec.now >= END_S + 1.0:
                set_paused(True)
            if time.monotonic() > deadline:
                raise SystemExit('scenario: past its wall-clock deadline')
        return rec.outcome()
    finally:
        sup.stop()
        node.destroy_node()
        rclpy.try_shutdown()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument('--processes', action='store_true')
    ap.add_argument('--timeout', type=float, default=600.0, help='wall seconds')
    args = ap.parse_args()
    os.environ.setdefault('MUJOCO_GL', 'egl')
    deadline = time.monotonic() + args.timeout
    start = time.monotonic()
    out = (processes if args.processes else one_process)(deadline)
    out['wall_s'] = time.monotonic() - start
    print('OUTCOME ' + json.dumps(out), flush=True)


if __name__ == '__main__':
    sys.exit(main())
