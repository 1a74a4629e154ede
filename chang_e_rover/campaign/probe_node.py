"""One campaign run: the flown stack in this process, and the operator's probe node.

Run as its own process (`python -m chang_e_rover.campaign.probe_node SPEC_JSON`) with
its own DDS domain, state folder and relay ports (campaign.py sets them). The whole
graph starts with the simulator paused and the run's faults scheduled in sim time
(`fault.wheel_<id>` with `fault_at_s.wheel_<id>`); once every node of the lock-step loop
is on the graph, the probe sends the goal and unpauses. The run ends when the drive
controller's goal status (rover/goal_status) says the goal was reached or failed, or
at the cap in sim time. The flight software decides everything from its own map and
estimates; ground truth (sim/ground_truth/odom) is read only to score the run. The
result is one line `RESULT {json}` on stdout. A run whose parent is gone (the campaign's
worker stopped or killed) ends at once instead of running on to its cap unheard, and
removes its temporary folder, which the parent can no longer.
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path
import shutil
import sys
import time

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from geometry_msgs.msg import PoseStamped
from nav_msgs.msg import Odometry
from rclpy.node import Node
from rclpy.parameter import Parameter
from rosgraph_msgs.msg import Clock

from chang_e_rover import config, graph, runner
from chang_e_rover.campaign.plan import (avoided_height, open_goal, PARENT_ENV,
                                         RUN_DIR_PREFIX, RunSpec)
from chang_e_rover.navigation.goal_status import GoalState, GoalStatus, GoalStatusError
from chang_e_rover.ros_common import LATCHED_QOS, STATE_QOS, stamp_to_ns

WALL_LIMIT_FACTOR = 10.0     # wall seconds per sim second of the cap before a run is abandoned


class Orphaned(RuntimeError):
    """The process that started this run is gone."""


def sim_overrides(spec: RunSpec) -> dict:
    sim = {'real_time_factor': 0.0, 'paused': True, 'terrain.name': 'rocks',
           'terrain.seed': spec.seed, 'terrain.rock_abundance': spec.rock_abundance,
           'lockstep.expect': ','.join(graph.lockstep_nodes())}
    for f in spec.faults:
        sim[f'fault.wheel_{f.wheel}'] = f.kind
        sim[f'fault_at_s.wheel_{f.wheel}'] = float(f.at_s)
    return sim


class Probe(Node):
    """Sends the goal; records what the flight software reported and where the rover was."""

    def __init__(self, spec: RunSpec, goal: tuple[float, float]):
        super().__init__('campaign_probe')
        self.spec, self.goal = spec, goal
        self.now = 0.0
        self.detected: dict[str, float] = {}
        self.isolated: dict[str, float] = {}
        self.status: GoalStatus | None = None
        self.truth: tuple[float, float] | None = None
        self.odom: tuple[float, float] | None = None
        self.travelled = 0.0
        self.goal_stamp_ns: int | None = None
        self.goal_pub = self.create_publisher(PoseStamped, '/rover/goal', STATE_QOS)
        self.create_subscription(Clock, '/clock', self.on_clock, 10)
        self.create_subscription(DiagnosticArray, '/diagnostics', self.on_diagnostics, 100)
        self.create_subscription(DiagnosticStatus, '/rover/goal_status', self.on_goal_status,
                                 LATCHED_QOS)
        self.create_subscription(Odometry, '/sim/ground_truth/odom', self.on_truth, STATE_QOS)
        self.create_subscription(Odometry, '/rover/odom', self.on_odom, STATE_QOS)

    def on_clock(self, msg: Clock) -> None:
        self.now = max(self.now, stamp_to_ns(msg.clock) * 1e-9)

    def on_truth(self, msg: Odometry) -> None:
        p = msg.pose.pose.position
        if self.truth is not None:
            self.travelled += math.hypot(p.x - self.truth[0], p.y - self.truth[1])
        self.truth = (p.x, p.y)

    def on_odom(self, msg: Odometry) -> None:
        p = msg.pose.pose.position
        self.odom = (p.x, p.y)

    def on_diagnostics(self, msg: DiagnosticArray) -> None:
        t = stamp_to_ns(msg.header.stamp) * 1e-9
        for status in msg.status:
            values = {kv.key: kv.value for kv in status.values}
            if status.name.startswith('rover/wheel_'):
                if values.get('fault', 'none') != 'none':
                    self.detected.setdefault(status.name[len('rover/wheel_'):], t)
            elif status.name == 'rover/drive_controller':
                for wheel in values.get('isolated_wheels', '').split():
                    self.isolated.setdefault(wheel, t)

    def on_goal_status(self, msg: DiagnosticStatus) -> None:
        try:
            status = GoalStatus.from_values((kv.key, kv.value) for kv in msg.values)
        except GoalStatusError as exc:
            self.get_logger().error(f'goal status not read: {exc}')
            return
        if self.goal_stamp_ns is not None and status.is_for(*self.goal, self.goal_stamp_ns):
            self.status = status

    def send_goal(self) -> None:
        msg = PoseStamped()
        msg.header.frame_id = 'odom'
        msg.header.stamp.sec = int(self.now)      # names this goal in its status
        msg.header.stamp.nanosec = int(round((self.now - int(self.now)) * 1e9)) % 1_000_000_000
        msg.pose.position.x, msg.pose.position.y = self.goal
        msg.pose.orientation.w = 1.0
        self.goal_stamp_ns = stamp_to_ns(msg.header.stamp)
        self.goal_pub.publish(msg)

    @property
    def ended(self) -> bool:
        return self.status is not None and (self.status.state.arrived or
                                            self.status.state is GoalState.FAILED)

    def result(self, wall_s: float) -> dict:
        gx, gy = self.goal
        tx, ty = self.truth or (math.nan, math.nan)
        error = math.hypot(tx - gx, ty - gy)
        drift = (math.hypot(self.odom[0] - tx, self.odom[1] - ty)
                 if self.odom and self.truth else math.nan)
        state = self.status.state.value if self.status else 'NONE'
        reached = bool(self.status and self.status.state.arrived)
        injected = [f for f in self.spec.faults if f.at_s <= self.now]
        if reached:
            cause = ''
        elif self.status is not None and self.status.state is GoalState.FAILED:
            cause = f'failed: {self.status.reason}'
        else:
            cause = f'cap of {self.spec.cap_s:.0f} s reached ({state})'
        return {'reached': reached, 'state': state, 'cause': cause,
                'goal_x_m': gx, 'goal_y_m': gy, 'arrival_error_m': error,
                'drift_m': drift, 'travelled_m': self.travelled,
                'drift_percent': 100 * drift / self.travelled if self.travelled > 0 else math.nan,
                'sim_s': self.now, 'wall_s': wall_s,
                'faults': [f'{f.wheel}:{f.kind}@{f.at_s:g}' for f in self.spec.faults],
                'detection_s': {f.wheel: (round(self.detected[f.wheel] - f.at_s, 3)
                                          if f.wheel in self.detected else None)
                                for f in injected},
                'spurious': sorted(w for w in self.detected
                                   if w not in {f.wheel for f in self.spec.faults})}


def run(spec: RunSpec) -> dict:
    """Run spec in this process; return its result (see Probe.result)."""
    from chang_e_rover.relay.ground_cli import ensure_key
    ensure_key()        # the relay's telecommand key, in this run's own state folder
    probe: list[Probe] = []
    stage: dict = {}
    start = time.monotonic()
    wall_limit = spec.cap_s * WALL_LIMIT_FACTOR
    # The process that started the run (campaign.run_isolated names itself: a parent
    # that exits at once would be gone before this line).
    parent = int(os.environ.get(PARENT_ENV) or os.getppid())

    def make(nodes):
        sim = next(n for n in nodes if n.get_name() == 'sim')
        terrain = sim.world.terrain
        stage['sim'] = sim
        tall_m = avoided_height(
            float(config.load_params('rover.yaml', 'hazard_camera')['max_step_m']),
            float(config.load_params('rover.yaml', 'drive_controller')['arcs.veto_cost']))
        probe.append(Probe(spec, open_goal(spec.goal_m, terrain.rocks, terrain.craters,
                                           tall_m)))
        return probe[0]

    def keep_going() -> bool:
        p, sim = probe[0], stage['sim']
        if os.getppid() != parent:
            raise Orphaned(f'the process that started this run ({parent}) is gone; '
                           f'stopped at t={p.now:.1f} s')
        if time.monotonic() - start > wall_limit:
            raise RuntimeError(f'run past {wall_limit:.0f} s of wall time at t={p.now:.1f} s')
        if 'started' not in stage and p.goal_pub.get_subscription_count() > 0 and all(
                c.present for c in sim.lockstep.channels.values()):
            p.send_goal()
            stage['started'] = True
            sim.set_parameters([Parameter('paused', value=False)])
        return not (p.ended or p.now >= spec.cap_s)

    runner.spin_in_process(graph.all_nodes(), {'sim': sim_overrides(spec)},
                           keep_going=keep_going, extra_nodes=(make,))
    return probe[0].result(time.monotonic() - start)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    spec = RunSpec.from_dict(json.loads(argv[0]))
    try:
        result = run(spec)
    except Orphaned:
        # The nodes are down; the run's folder (campaign.run_isolated's, holding its state
        # and share) would outlive a parent killed before it could remove it.
        state = os.environ.get('CHANG_E_ROVER_STATE')
        folder = Path(state).parent if state else None
        if folder is not None and folder.name.startswith(RUN_DIR_PREFIX):
            shutil.rmtree(folder, ignore_errors=True)
        raise
    print('RESULT ' + json.dumps(result), flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
