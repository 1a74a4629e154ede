"""ROS 2 node /rover/wheel_<id>: one independent wheel unit.

Thin shell over drive.wheel_health.WheelUnit: it answers every motor reading
with a torque demand stamped with that reading's time (the lock-step token),
judges its own health, and reports it on /diagnostics (5 Hz, and at once on any
change) and to the drive controller on wheel_<id>/status (the same report, with
every reading answered, before the command; on hardware with the heartbeat too).

On hardware the 5 Hz heartbeat is a timer and a setpoint counts from its
arrival. In simulation (use_sim_time) everything is judged on stamps, so a run
gives the same answer however the processes are scheduled: a reading is
answered with the setpoints drive/setpoints.py lets into effect, and the
heartbeat goes with the reading whose stamp makes it due. A reading waits for
the driver's temperature stamped with it (the simulator sends one every period)
as well as for the setpoint: DDS keeps each topic's order, not the order across
topics. Every report is stamped with the sensor input that caused it; the
controller waits for the unit's status of a reading before its next step and
takes it then (docs/simulator.md, Time), so a change made between readings (a
reset, an enable) reaches the controller with the next reading's status.
"""
from __future__ import annotations

import math
import time

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
import rclpy
from rclpy.clock import Clock, ClockType
from rclpy.node import Node
from sensor_msgs.msg import JointState, Temperature
from std_srvs.srv import SetBool, Trigger

from chang_e_rover.drive.setpoints import SetpointInbox
from chang_e_rover.drive.wheel_health import DISABLED, ENABLED, make_wheel_unit
from chang_e_rover.robot_description import WHEEL_IDS
from chang_e_rover.ros_common import (CONTROL_QOS, declare_from_config, kept, log_outcome,
                                      loop_input_qos, ns_to_stamp, SETPOINT_QOS, spin_node,
                                      STATE_QOS, stamp_to_ns)

LEVEL = {ENABLED: DiagnosticStatus.OK, DISABLED: DiagnosticStatus.WARN}
# A reading held for the controller's setpoint (sim) is answered without it only once the
# controller has left the graph (checked every HELD_CHECK_S): the setpoints are kept for a
# late-matching reader (SETPOINT_QOS), so one sent before this unit's subscription matched
# still comes. A controller alive but silent is the simulator's watchdog's to name; held
# HELD_WARN_S of wall time, the unit says what it waits for and goes on waiting.
HELD_CHECK_S = 0.25
HELD_WARN_S = 10.0


class WheelNode(Node):
    """Velocity control, fault detection and isolation of one wheel motor."""

    def __init__(self, wheel: str, **kwargs):
        if wheel not in WHEEL_IDS:
            raise ValueError(f'unknown wheel {wheel!r}; expected one of {WHEEL_IDS}')
        kwargs.setdefault('namespace', 'rover')
        super().__init__(f'wheel_{wheel}', **kwargs)
        self.wheel = wheel
        p = declare_from_config(self, 'rover.yaml', 'wheel_unit')
        self.unit = make_wheel_unit(p)
        self.temperature_c = math.nan
        self.command_pub = self.create_publisher(JointState, f'wheel_{wheel}/motor/command',
                                                 CONTROL_QOS)
        self.diag_pub = self.create_publisher(DiagnosticArray, '/diagnostics', STATE_QOS)
        # The unit's status for the controller, with every reading it answers (and on
        # hardware with its heartbeat): one topic the controller can wait on by stamp.
        self.status_pub = self.create_publisher(DiagnosticArray, f'wheel_{wheel}/status',
                                                kept(CONTROL_QOS))
        self.sim = bool(self.get_parameter('use_sim_time').value)
        # In sim the unit waits for the controller's setpoints, so it takes the ones sent
        # before it matched; on hardware it reads them as any publisher sends them.
        self.setpoint_sub = self.create_subscription(
            JointState, f'wheel_{wheel}/setpoint', self.setpoint_callback,
            SETPOINT_QOS if self.sim else CONTROL_QOS)
        self.temperature_sub = self.create_subscription(
            Temperature, f'wheel_{wheel}/motor/temperature', self.temperature_callback,
            loop_input_qos(STATE_QOS, self.sim))
        self._temperature_ns = -1   # sim: the newest temperature's stamp
        self.create_subscription(JointState, f'wheel_{wheel}/motor/state',
                                 self.motor_state_callback,
                                 loop_input_qos(CONTROL_QOS, self.sim))
        self.create_service(SetBool, f'wheel_{wheel}/enable', self.enable_callback)
        self.create_service(Trigger, f'wheel_{wheel}/reset', self.reset_callback)
        self.heartbeat_ns = round(1e9 / p['diagnostics_rate_hz'])
        self._input_ns: int | None = None     # stamp of the newest sensor input (sim)
        self._next_beat_ns = 0
        self._setpoints = SetpointInbox()   # sim
        self._held: JointState | None = None    # sim: a reading waiting for its setpoint
        self._held_since = 0.0      # wall time (monotonic) the reading was held
        if self.sim:
            self.create_timer(HELD_CHECK_S, self._check_held,
                              clock=Clock(clock_type=ClockType.STEADY_TIME))
        else:
            self.create_timer(1.0 / p['diagnostics_rate_hz'], lambda: self.publish_diagnostics())

    def _now(self) -> float:
        """The clock on hardware; in sim, the stamp of the newest sensor input."""
        if self.sim and self._input_ns is not None:
            return self._input_ns * 1e-9
        return self.get_clock().now().nanoseconds * 1e-9

    def setpoint_callback(self, msg: JointState) -> None:
        value = msg.velocity[0] if len(msg.velocity) == 1 else None
        if len(msg.velocity) > 1 or (value is not None and not math.isfinite(value)):
            self.get_logger().error(f'setpoint {list(msg.velocity)} refused: one finite '
                                    'speed expected; the last setpoint stands',
                                    throttle_duration_sec=1.0)
            value = None
        if not self.sim:
            if value is not None:
                self.unit.set_setpoint(self._now(), value)
            return
        self._setpoints.heard(stamp_to_ns(msg.header.stamp), value)
        if self._held is not None and not self._waits(self._held):
            self._answer(self._held)

    def _waits(self, reading: JointState) -> bool:
        """Sim: a reading waits for the controller's setpoint of the one before, and for
        the driver's temperature stamped with it (another topic, which DDS may deliver
        after the reading) while the driver is on the graph."""
        stamp_ns = stamp_to_ns(reading.header.stamp)
        return (self._setpoints.waits(stamp_ns, self.setpoint_sub.get_publisher_count() > 0)
                or (self._temperature_ns < stamp_ns
                    and self.temperature_sub.get_publisher_count() > 0))

    def _check_held(self) -> None:
        if self._held is None:
            return
        t = stamp_to_ns(self._held.header.stamp) * 1e-9
        if self.setpoint_sub.get_publisher_count() == 0:
            self.get_logger().warning(f'no drive controller on the graph: the reading of '
                                      f't={t:.3f} s is answered without the setpoint of the '
                                      'one before')
            self._answer(self._held)
        elif time.monotonic() - self._held_since > HELD_WARN_S:
            self.get_logger().warning(f'the reading of t={t:.3f} s waits for the drive '
                                      "controller's setpoint of the one before or the "
                                      "driver's temperature of its own",
                                      throttle_duration_sec=HELD_WARN_S)

    def temperature_callback(self, msg: Temperature) -> None:
        self._input_ns = max(self._input_ns or 0, stamp_to_ns(msg.header.stamp))
        self.temperature_c = msg.temperature
        self.unit.temperature(stamp_to_ns(msg.header.stamp) * 1e-9, msg.temperature)
        self._report_change()
        if self.sim:
            self._temperature_ns = stamp_to_ns(msg.header.stamp)
            if self._held is not None and not self._waits(self._held):
                self._answer(self._held)

    def motor_state_callback(self, msg: JointState) -> None:
        if self.sim and self._waits(msg):
            self._held, self._held_since = msg, time.monotonic()
            return
        self._answer(msg)

    def _answer(self, msg: JointState) -> None:
        self._held = None
        stamp_ns = stamp_to_ns(msg.header.stamp)
        if self.sim:
            if self._input_ns is not None and stamp_ns < self._input_ns:
                self._input_ns = None       # sim time started again (a rebuilt world)
            for at_ns, value in self._setpoints.answer(stamp_ns):
                self.unit.set_setpoint(at_ns * 1e-9, value)
        self._input_ns = max(self._input_ns or 0, stamp_ns)
        pick = lambda values: values[0] if len(values) == 1 else math.nan
        demand = self.unit.reading(stamp_ns * 1e-9, pick(msg.position),
                                   pick(msg.velocity), pick(msg.effort))
        report = self._report(msg.header.stamp)    # the unit as this reading leaves it
        if not self._report_change(report) and self.sim and stamp_ns >= self._next_beat_ns:
            self.publish_diagnostics(report)
        self.status_pub.publish(report)
        out = JointState(name=[f'wheel_{self.wheel}_joint'], effort=[demand])
        out.header.stamp = msg.header.stamp
        self.command_pub.publish(out)

    def _report_change(self, report: DiagnosticArray | None = None) -> bool:
        if not self.unit.changed:
            return False
        self.unit.changed = False
        if self.unit.fault != 'none':
            self.get_logger().error(f'FAULT {self.unit.fault}: wheel isolated, free-wheeling')
        self.publish_diagnostics(report)
        return True

    def enable_callback(self, request: SetBool.Request, response: SetBool.Response):
        response.success, response.message = self.unit.enable(bool(request.data))
        self._report_change()
        return response

    def reset_callback(self, request: Trigger.Request, response: Trigger.Response):
        response.success, response.message = self.unit.reset(self._now())
        log_outcome(self.get_logger(), response.success, response.message)
        self._report_change()
        return response

    def publish_diagnostics(self, report: DiagnosticArray | None = None) -> None:
        """The report on /diagnostics (the one given, made at a reading): stamped with the
        newest input in sim (and the next heartbeat due a period of it on), with the clock
        on hardware, where the heartbeat also goes to the controller."""
        at_input = self.sim and self._input_ns is not None
        if report is None:
            report = self._report(ns_to_stamp(self._input_ns) if at_input
                                  else self.get_clock().now().to_msg())
            if not self.sim:
                self.status_pub.publish(report)
        if at_input:
            self._next_beat_ns = self._input_ns + self.heartbeat_ns
        self.diag_pub.publish(report)

    def _report(self, stamp) -> DiagnosticArray:
        u = self.unit
        last = u.monitor.last
        current = last.current_a if last else math.nan
        status = DiagnosticStatus(
            level=LEVEL.get(u.state, DiagnosticStatus.ERROR), name=f'rover/wheel_{self.wheel}',
            hardware_id=f'wheel_{self.wheel}',
            message=u.state.lower() if u.fault == 'none' else f'fault: {u.fault}, isolated')
        status.values = [KeyValue(key=k, value=v) for k, v in (
            ('state', u.state), ('fault', u.fault), ('speed_rad_s', f'{u.speed:.4f}'),
            ('current_a', f'{current:.3f}'), ('temperature_c', f'{self.temperature_c:.1f}'),
            ('setpoint_rad_s', f'{u.setpoint:.4f}'))]
        array = DiagnosticArray(status=[status])
        array.header.stamp = stamp
        return array


def main(args=None) -> None:
    rclpy.init(args=args)
    argv = rclpy.utilities.remove_ros_args(args)
    wheel = next((a.split('=', 1)[1] for a in argv if a.startswith('--wheel=')), None)
    if wheel is None:
        raise SystemExit('usage: wheel_unit --wheel=<lf|lm|lr|rf|rm|rr> [ROS args]')
    node = WheelNode(wheel)
    spin_node(node)
