"""ROS 2 node /lander/sequencer: the rover's deployment from the lander.

Thin shell over lander/sequencer.py. Armed by `lander/sequencer/start` (the
landing time is the node's start); it gathers telemetry (lander/battery, wheel
diagnostics, lander/joint_states, rover/odom, rover/hazard/map) and carries out
the sequencer's actions: the ramp on lander/joint_commands, the hold-down
release (`lander/release_rover`), the rover's hazard gate
(`rover/drive_controller/hazard_gate`), goals on rover/goal and a stop on
rover/cmd_vel. The ground confirms a step with `lander/sequencer/confirm` and
retries one held by its timeout with `lander/sequencer/resume`. State and reason
in diagnostics `lander/sequencer` (1 Hz and on every change).
"""
from __future__ import annotations

import math

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import PoseStamped, Twist
from nav_msgs.msg import OccupancyGrid, Odometry
import numpy as np
import rclpy
from rclpy.node import Node
from sensor_msgs.msg import BatteryState, JointState
from std_srvs.srv import SetBool, Trigger

from chang_e_rover.lander.sequencer import (
    Action, HOLD, Params, Sequencer, Telemetry, zone_status)
from chang_e_rover.ros_common import (
    declare_from_config, LATCHED_QOS, spin_node, STATE_QOS)

RAMP = 'ramp_joint'


class SequencerNode(Node):
    def __init__(self, **kwargs):
        kwargs.setdefault('namespace', 'lander')
        super().__init__('sequencer', **kwargs)
        p = self.p = declare_from_config(self, 'lander.yaml', 'sequencer')
        self.params = Params.from_dict(p)
        self.landing_t = self.now()
        self.seq: Sequencer | None = None
        self.tel = Telemetry()
        self._reported = 0
        self._last_key = None
        self.create_subscription(BatteryState, 'battery', self.battery_callback, STATE_QOS)
        self.create_subscription(DiagnosticArray, '/diagnostics', self.diagnostics_callback,
                                 STATE_QOS)
        self.create_subscription(JointState, 'joint_states', self.joint_callback, STATE_QOS)
        self.create_subscription(Odometry, '/rover/odom', self.odom_callback, STATE_QOS)
        self.create_subscription(OccupancyGrid, '/rover/hazard/map', self.map_callback,
                                 LATCHED_QOS)
        self.ramp_pub = self.create_publisher(JointState, 'joint_commands', STATE_QOS)
        self.goal_pub = self.create_publisher(PoseStamped, '/rover/goal', STATE_QOS)
        self.cmd_pub = self.create_publisher(Twist, '/rover/cmd_vel', STATE_QOS)
        self.diag_pub = self.create_publisher(DiagnosticArray, '/diagnostics', STATE_QOS)
        self.release_client = self.create_client(Trigger, 'release_rover')
        self.gate_client = self.create_client(SetBool, '/rover/drive_controller/hazard_gate')
        self.create_service(Trigger, 'sequencer/start', self.start_callback)
        self.create_service(Trigger, 'sequencer/confirm',
                            lambda req, res: self.ground_callback('confirm', res))
        self.create_service(Trigger, 'sequencer/resume',
                            lambda req, res: self.ground_callback('resume', res))
        self.create_timer(p['period_s'], self.step)
        self.create_timer(1.0, self.publish_diagnostics)

    def now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    # ---- telemetry -----------------------------------------------------------------------
    def battery_callback(self, msg: BatteryState) -> None:
        if math.isfinite(msg.percentage):
            self.tel.battery_soc, self.tel.battery_t = float(msg.percentage), self.now()

    def diagnostics_callback(self, msg: DiagnosticArray) -> None:
        for status in msg.status:
            if status.name.startswith('rover/wheel_'):
                values = {kv.key: kv.value for kv in status.values}
                if 'state' in values:
                    self.tel.wheels[status.name[len('rover/wheel_'):]] = (values['state'],
                                                                          self.now())

    def joint_callback(self, msg: JointState) -> None:
        if RAMP in msg.name:
            i = msg.name.index(RAMP)
            if i < len(msg.position) and math.isfinite(msg.position[i]):
                self.tel.ramp_angle = float(msg.position[i])
                self.tel.ramp_speed = float(msg.velocity[i]) if i < len(msg.velocity) else 0.0
                self.tel.ramp_t = self.now()

    def odom_callback(self, msg: Odometry) -> None:
        pos = msg.pose.pose.position
        if math.isfinite(pos.x) and math.isfinite(pos.y):
            self.tel.rover_xy, self.tel.rover_t = (pos.x, pos.y), self.now()

    def map_callback(self, msg: OccupancyGrid) -> None:
        if self.seq is not None and self.seq.complete:
            return      # parked: the zone beyond the ramp no longer matters (nor is in view)
        info = msg.info
        cost = np.asarray(msg.data, dtype=np.int16).reshape(info.height, info.width)
        origin, sp = (info.origin.position.x, info.origin.position.y), self.params
        try:
            self.tel.zone = zone_status(cost, origin, info.resolution, sp.zone_start_m,
                                        sp.zone_length_m, sp.zone_half_width_m)
            self.tel.egress_zone = zone_status(cost, origin, info.resolution, sp.zone_start_m,
                                               sp.zone_length_m, sp.egress_half_width_m)
        except ValueError as exc:
            # Before the sequence is started (a drive-only session, the rover far from
            # the lander) the zone is of no concern: no error every 10 s.
            if self.seq is not None:
                self.get_logger().error(f'hazard map: {exc}', throttle_duration_sec=10.0)

    # ---- ground ------------------------------------------------------------------------
    def start_callback(self, request, response: Trigger.Response) -> Trigger.Response:
        if self.seq is not None:
            response.success = False
            response.message = f'the sequence is already running (step {self.seq.step})'
            return response
        self.seq = Sequencer(self.params, self.landing_t)
        response.success = True
        response.message = (f'deployment sequence started, landing at t={self.landing_t:.1f} s, '
                            f'release not before t={self.landing_t + self.params.release_after_landing_s:.1f} s')
        self.get_logger().info(response.message)
        self.step()
        return response

    def ground_callback(self, command: str, response: Trigger.Response) -> Trigger.Response:
        """The ground's confirm or resume, passed to the sequencer."""
        if self.seq is None:
            response.success, response.message = False, 'the sequence has not started'
        else:
            response.success, response.message = getattr(self.seq, command)(self.now())
        return response

    # ---- stepping ----------------------------------------------------------------------
    def step(self) -> None:
        if self.seq is None:
            return
        for action in self.seq.update(self.tel, self.now()):
            self.execute(action)
        events = self.seq.events[self._reported:]
        self._reported = len(self.seq.events)
        for e in events:
            if 'hold' in e.text:
                self.get_logger().warning(f't={e.t:.1f} s {e.text}')
            else:
                self.get_logger().info(f't={e.t:.1f} s {e.text}')
        key = (self.seq.step, self.seq.state, self.seq.reason)
        if key != self._last_key:
            self._last_key = key
            self.publish_diagnostics()

    def execute(self, action: Action) -> None:
        if action.kind == 'ramp':
            self.ramp_pub.publish(JointState(name=[RAMP], position=[float(action.value[0])]))
        elif action.kind == 'release':
            if not self.release_client.service_is_ready():
                self.get_logger().error('release: the hold-down service is not there')
                return
            future = self.release_client.call_async(Trigger.Request())
            future.add_done_callback(self._released)
        elif action.kind == 'gate':
            future = self.gate_client.call_async(SetBool.Request(data=bool(action.value[0])))
            future.add_done_callback(lambda f, on=action.value[0]: self._gate_done(f, on))
        elif action.kind == 'goal':
            msg = PoseStamped()
            msg.header.frame_id = 'odom'
            msg.header.stamp = self.get_clock().now().to_msg()
            msg.pose.position.x, msg.pose.position.y = (float(v) for v in action.value)
            msg.pose.orientation.w = 1.0
            self.goal_pub.publish(msg)
        elif action.kind == 'stop':
            self.cmd_pub.publish(Twist())

    def _released(self, future) -> None:
        result = future.result()
        if result is not None and result.success:
            self.tel.released = True
        self.get_logger().info(f'release: {result.message if result else "no answer"}')

    def _gate_done(self, future, on: bool) -> None:
        result = future.result()
        if result is None or not result.success:
            self.get_logger().error(f'hazard gate {"on" if on else "off"}: not acknowledged')

    def publish_diagnostics(self) -> None:
        status = DiagnosticStatus(name='lander/sequencer', hardware_id='lander')
        if self.seq is None:
            status.level, status.message = DiagnosticStatus.OK, 'not started'
            values = {'step': 'none', 'state': 'IDLE'}
        else:
            s = self.seq
            status.level = (DiagnosticStatus.WARN if s.state == HOLD else DiagnosticStatus.OK)
            status.message = ('complete: the rover is on the surface' if s.complete else
                              f'{s.step}: {s.state}' + (f' ({s.reason})' if s.reason else ''))
            t = self.now()
            values = {'step': s.step, 'state': 'COMPLETE' if s.complete else s.state,
                      'reason': s.reason, 'step_elapsed_s': f'{t - s.step_t:.1f}',
                      'since_landing_s': f'{t - s.landing_t:.1f}',
                      'steps_done': ','.join(s.done_t),
                      'awaiting_resume': str(s.state == HOLD and s.hold_by_timeout).lower()}
        tel = self.tel
        values.update({
            'battery_soc': 'unknown' if tel.battery_soc is None else f'{tel.battery_soc:.3f}',
            'ramp_rad': 'unknown' if tel.ramp_angle is None else f'{tel.ramp_angle:.3f}',
            'released': str(tel.released).lower(),
            'zone_observed': 'unknown' if tel.zone is None else f'{tel.zone[0]:.2f}',
            'zone_hazard_cells': 'unknown' if tel.zone is None else str(tel.zone[1]),
            'egress_zone_observed': 'unknown' if tel.egress_zone is None
            else f'{tel.egress_zone[0]:.2f}',
            'egress_zone_hazard_cells': 'unknown' if tel.egress_zone is None
            else str(tel.egress_zone[1])})
        status.values = [KeyValue(key=k, value=str(v)) for k, v in values.items()]
        msg = DiagnosticArray(status=[status])
        msg.header.stamp = self.get_clock().now().to_msg()
        self.diag_pub.publish(msg)


def main(args=None) -> None:
    rclpy.init(args=args)
    spin_node(SequencerNode())
