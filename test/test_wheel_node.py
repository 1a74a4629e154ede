"""One wheel unit node (/rover/wheel_lf) in its own context, no simulator: readings in, outputs
asserted (docs/interfaces.md, /rover/wheel_<id>, Diagnostics, Services).

The test stands in for the motor driver and the drive controller. With use_sim_time (as in
the stack on the simulator) it drives the unit in lock-step: each period it sends the
setpoint of the period before, then the winding temperature and the motor reading, all
stamped, and waits for the torque command stamped with that reading; the unit judges
everything on those stamps, so what it answers does not depend on the machine's load.
One test runs the unit as on hardware (wall clock, heartbeat on a timer).
"""
from __future__ import annotations

import math

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
import pytest
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import JointState, Temperature
from std_msgs.msg import Header
from std_srvs.srv import SetBool, Trigger

from chang_e_rover import config, graph
from chang_e_rover.drive.wheel_health import torque_per_amp
from chang_e_rover.ros_common import (CONTROL_QOS, DIAGNOSTICS_QOS, kept, ns_to_stamp,
                                      SETPOINT_QOS, STATE_QOS, stamp_to_ns)
from chang_e_rover.runner import build_nodes

WHEEL = 'lf'
NS = f'rover/wheel_{WHEEL}'
JOINT = f'wheel_{WHEEL}_joint'
P = config.load_params('rover.yaml', 'wheel_unit')
DRIVE = config.load_params('rover.yaml', 'drive_controller')
PERIOD_NS = round(1e9 / DRIVE['control_rate_hz'])     # the driver's reading period
TPA = torque_per_amp()                                  # N m per A (config/hardware.yaml)
# Half the top wheel speed: well over the "near zero" stall and dropout speeds.
SETPOINT = 0.5 * DRIVE['max_speed_m_s'] / 0.25
RUN = 0.5 * SETPOINT            # a wheel turning slower than asked
# Measured torque of a seized wheel: over the stall threshold, under the overcurrent one.
STALL_NM = 0.5 * (P['stall_torque_nm'] + P['overcurrent_a'] * TPA)
HEARTBEAT_NS = round(1e9 / P['diagnostics_rate_hz'])
T0_NS = 10 ** 9                 # the first reading's stamp
KEYS = ('state', 'fault', 'speed_rad_s', 'current_a', 'temperature_c')

assert RUN > max(P['stall_speed_rad_s'], P['dropout_speed_rad_s']), 'config moved: retune'
assert P['stall_torque_nm'] < STALL_NM < P['overcurrent_a'] * TPA, 'config moved: retune'


def steps_for(seconds: float) -> int:
    return math.ceil(seconds * 1e9 / PERIOD_NS)


class Bench:
    """The unit under test, and the driver and controller it talks to."""

    def __init__(self, ros, sim_time: bool = True):
        self.ros = ros
        [self.unit] = build_nodes([graph.find(f'/{NS}')], sim_time=sim_time,
                                  context=ros.context)
        ros.add(self.unit)
        self.probe = probe = ros.node('wheel_bench')
        self.setpoint_pub = probe.create_publisher(JointState, f'{NS}/setpoint', SETPOINT_QOS)
        # As the simulator's drivers: kept for a reader that matches late (the unit's, in
        # simulation, asks for that; on hardware it reads any writer).
        self.temperature_pub = probe.create_publisher(Temperature, f'{NS}/motor/temperature',
                                                      kept(STATE_QOS))
        self.state_pub = probe.create_publisher(JointState, f'{NS}/motor/state',
                                                kept(CONTROL_QOS))
        self.clock_pub = probe.create_publisher(Clock, '/clock', 10)
        self.commands: dict[int, list[float]] = {}     # reading stamp ns -> effort sent
        self.reports: list[tuple[int, DiagnosticStatus]] = []   # (array stamp ns, status)
        self.statuses: dict[int, tuple[str, str]] = {}  # wheel_<id>/status: stamp -> state, fault
        self.sent_nm: dict[int, float] = {}             # reading stamp ns -> torque measured
        subs = [probe.create_subscription(JointState, f'{NS}/motor/command', self._command,
                                          CONTROL_QOS),
                probe.create_subscription(DiagnosticArray, '/diagnostics', self._diagnostics,
                                          DIAGNOSTICS_QOS),
                probe.create_subscription(DiagnosticArray, f'{NS}/status', self._status,
                                          CONTROL_QOS)]
        self.enable_client = probe.create_client(SetBool, f'{NS}/enable')
        self.reset_client = probe.create_client(Trigger, f'{NS}/reset')
        pubs = (self.setpoint_pub, self.temperature_pub, self.state_pub)
        ros.spin_until(lambda: all(p.get_subscription_count() > 0 for p in pubs)
                       and all(s.get_publisher_count() > 0 for s in subs)
                       and self.enable_client.service_is_ready()
                       and self.reset_client.service_is_ready(), 15, 'the unit on the graph')
        self.t_ns = T0_NS
        self.encoder = 0.0
        self.last_nm = 0.0
        if sim_time:    # the first reading: no period before it, so no setpoint to wait for
            assert self._reading(0.0, None, 20.0) == 0.0

    def _command(self, msg: JointState) -> None:
        assert list(msg.name) == [JOINT]
        self.commands[stamp_to_ns(msg.header.stamp)] = list(msg.effort)

    def _status(self, msg: DiagnosticArray) -> None:
        [status] = msg.status
        assert status.name == NS
        values = {kv.key: kv.value for kv in status.values}
        self.statuses[stamp_to_ns(msg.header.stamp)] = (values['state'], values['fault'])

    def _diagnostics(self, msg: DiagnosticArray) -> None:
        for status in msg.status:
            if status.name == NS:
                self.reports.append((stamp_to_ns(msg.header.stamp), status))

    def step(self, setpoint=(SETPOINT,), speed: float = RUN, torque: float | None = None,
             celsius: float = 20.0) -> float:
        """One period: the setpoint (velocity list) answering the reading before, then the
        temperature and the next reading (Hall and encoder speed, rad/s; measured torque, N m,
        by default what the unit asked for last); return the unit's command answering it."""
        self.setpoint_pub.publish(JointState(header=Header(stamp=ns_to_stamp(self.t_ns)),
                                             name=[JOINT], velocity=list(setpoint)))
        self.t_ns += PERIOD_NS
        return self._reading(speed, torque, celsius)

    def _reading(self, speed: float, torque: float | None, celsius: float) -> float:
        t, stamp = self.t_ns, ns_to_stamp(self.t_ns)
        self.clock_pub.publish(Clock(clock=stamp))
        self.temperature_pub.publish(Temperature(header=Header(stamp=stamp), temperature=celsius))
        if t > T0_NS:
            self.encoder += speed * PERIOD_NS * 1e-9
        measured = self.last_nm if torque is None else torque
        self.sent_nm[t] = measured
        self.state_pub.publish(JointState(header=Header(stamp=stamp), name=[JOINT],
                                          position=[self.encoder], velocity=[speed],
                                          effort=[measured]))
        self.ros.spin_until(lambda: t in self.commands, 10, f'the command answering t={t}')
        [effort] = self.commands[t]
        assert math.isfinite(effort)
        self.last_nm = effort
        return effort

    def run(self, seconds: float, **kwargs) -> list[float]:
        return [self.step(**kwargs) for _ in range(steps_for(seconds))]

    def call(self, client, request):
        future = client.call_async(request)
        self.ros.spin_until(future.done, 10, f'an answer from {client.srv_name}')
        return future.result()

    def enable(self, on: bool):
        return self.call(self.enable_client, SetBool.Request(data=on))

    def reset(self):
        return self.call(self.reset_client, Trigger.Request())

    def values(self, index: int = -1) -> dict[str, str]:
        return {kv.key: kv.value for kv in self.reports[index][1].values}

    def wait_state(self, state: str, fault: str = 'none') -> DiagnosticStatus:
        """Spin until the unit's newest report says state and fault (it reports at once)."""
        self.ros.spin_until(lambda: self.reports and self.values()['state'] == state
                            and self.values()['fault'] == fault, 5, f'{state} {fault} reported')
        return self.reports[-1][1]


def test_the_unit_drives_towards_its_setpoint_and_reports_its_health(ros):
    bench = Bench(ros)
    forward = bench.run(1.0)                   # asked +SETPOINT, turning slower than that
    error = SETPOINT - RUN       # the PI law: kp x error + the integral over one period
    assert forward[0] == pytest.approx((P['kp_nm_s_per_rad'] + P['ki_nm_per_rad'] * PERIOD_NS
                                        * 1e-9) * error)
    assert all(b > a > 0 for a, b in zip(forward, forward[1:])), 'pushes harder while slow'
    backward = bench.run(1.0, setpoint=(-SETPOINT,), speed=-RUN)
    assert all(c < 0 for c in backward[1:]), 'asked to reverse, pushes backwards'
    assert all(b < a for a, b in zip(backward[1:], backward[2:]))

    reports = bench.reports
    assert reports and all(s.level == DiagnosticStatus.OK for _, s in reports)
    values = {kv.key: kv.value for kv in reports[-1][1].values}
    assert set(KEYS) <= set(values)
    assert (values['state'], values['fault']) == ('ENABLED', 'none')
    assert float(values['speed_rad_s']) == pytest.approx(-RUN, abs=1e-4)      # the encoder's
    assert float(values['temperature_c']) == pytest.approx(20.0)
    # the current of the reading the report was sent with, not its torque
    t_last = reports[-1][0]
    assert float(values['current_a']) == pytest.approx(bench.sent_nm[t_last] / TPA, abs=2e-3)
    # the heartbeat: stamped with the readings, at diagnostics_rate_hz of their time
    stamps = [t for t, _ in reports]
    assert stamps[0] == T0_NS
    gaps = [b - a for a, b in zip(stamps, stamps[1:])]
    assert gaps and max(gaps) <= HEARTBEAT_NS + PERIOD_NS
    assert len(stamps) >= 2.0 * P['diagnostics_rate_hz']


def test_a_stall_latches_fault_stops_the_motor_and_only_a_free_wheel_stays_back_after_reset(ros):
    bench = Bench(ros)
    bench.run(0.5)
    t0 = bench.t_ns + PERIOD_NS                # the first reading of a seized wheel
    stalled = {}
    while not bench.reports or bench.values()['state'] != 'FAULT':
        assert bench.t_ns - t0 < 2e9, 'no stall latched in 2 s'
        t = bench.t_ns + PERIOD_NS
        stalled[t] = bench.step(speed=0.0, torque=STALL_NM)
    status = bench.wait_state('FAULT', 'stall')
    assert status.level == DiagnosticStatus.ERROR and 'stall' in status.message
    latched = min(t for t, s in bench.reports if s.level == DiagnosticStatus.ERROR)
    debounce_ns = P['stall_debounce_s'] * 1e9
    assert t0 + debounce_ns - 1 <= latched <= t0 + debounce_ns + PERIOD_NS
    assert all(c > 0 for t, c in stalled.items() if t < latched), 'pushed until it latched'
    assert stalled[latched] == 0.0
    # the controller's view: a status with every answered reading, stamped with it (sent
    # before the command), the fault in the status of the reading that latched it
    assert set(bench.commands) <= set(bench.statuses)
    assert bench.statuses[latched] == ('FAULT', 'stall')
    assert bench.statuses[latched - PERIOD_NS] == ('ENABLED', 'none')
    assert bench.run(0.5, speed=0.0, torque=0.0) == [0.0] * steps_for(0.5), 'isolated'
    # latched: enable is refused, with a reason
    answer = bench.enable(True)
    assert not answer.success and 'stall' in answer.message and 'reset' in answer.message
    # a stall cannot be checked with the motor off: reset puts it back on probation, and a
    # wheel still seized stalls again at its first reading, without the debounce
    assert bench.reset().success
    bench.wait_state('ENABLED')
    assert bench.step(speed=0.0, torque=STALL_NM) == 0.0
    bench.wait_state('FAULT', 'stall')
    # free again: reset, back in service, and it stays there through its probation
    bench.run(0.2, speed=RUN, torque=0.0)
    answer = bench.reset()
    assert answer.success and 'probation' in answer.message
    bench.wait_state('ENABLED')
    after = bench.run(P['probation_s'] + 0.5)
    assert all(c > 0 for c in after)
    assert bench.values()['state'] == 'ENABLED'


def test_an_overheated_winding_latches_and_reset_is_refused_until_it_has_cooled(ros):
    bench = Bench(ros)
    bench.run(0.3)
    hot = P['overtemperature_c'] + 5.0
    bench.step(celsius=hot)                    # no debounce: one reading latches
    status = bench.wait_state('FAULT', 'overtemperature')
    assert status.level == DiagnosticStatus.ERROR
    assert float(bench.values()['temperature_c']) == pytest.approx(hot)
    assert bench.step(celsius=hot) == 0.0
    answer = bench.reset()
    assert not answer.success and 'overtemperature' in answer.message
    assert 'C' in answer.message
    # under the limit but within the hysteresis: still refused
    bench.run(0.2, celsius=P['overtemperature_c'] - 0.5 * P['temperature_hysteresis_c'])
    assert not bench.reset().success
    assert bench.values()['state'] == 'FAULT'
    bench.run(0.2, celsius=P['overtemperature_c'] - P['temperature_hysteresis_c'] - 5.0)
    assert bench.reset().success
    bench.wait_state('ENABLED')
    assert bench.step() > 0.0


def test_enable_false_takes_the_wheel_out_of_service_and_true_brings_it_back(ros):
    bench = Bench(ros)
    assert all(c > 0 for c in bench.run(0.3))
    answer = bench.enable(False)
    assert answer.success
    status = bench.wait_state('DISABLED')
    assert status.level == DiagnosticStatus.WARN
    assert bench.run(0.5) == [0.0] * steps_for(0.5), 'disabled: no torque, whatever the setpoint'
    assert bench.values()['state'] == 'DISABLED'
    assert bench.enable(True).success
    status = bench.wait_state('ENABLED')
    assert status.level == DiagnosticStatus.OK
    assert all(c > 0 for c in bench.run(0.3))


def test_in_sim_a_reading_waits_for_the_setpoint_before_it_and_its_temperature(ros):
    """Lock-step decides nothing on the wall clock: with the controller on the graph, a
    reading is answered only once the setpoint of the reading before is in, and a setpoint
    sent before the unit's subscription matched still comes (the writer keeps it); with the
    driver on the graph, only once the temperature stamped with it is in too (DDS keeps
    each topic's order, not the order across topics)."""
    early = ros.node('early_controller')
    early_pub = early.create_publisher(JointState, f'{NS}/setpoint', SETPOINT_QOS)
    early_pub.publish(JointState(header=Header(stamp=ns_to_stamp(T0_NS)), name=[JOINT],
                                 velocity=[SETPOINT]))
    bench = Bench(ros)          # built after the setpoint of its first reading went out
    bench.t_ns += PERIOD_NS
    assert bench._reading(RUN, None, 20.0) == pytest.approx(
        (P['kp_nm_s_per_rad'] + P['ki_nm_per_rad'] * PERIOD_NS * 1e-9) * (SETPOINT - RUN))

    # the next reading comes, its controller's setpoint and its temperature do not: held,
    # past any short wait
    t = bench.t_ns + PERIOD_NS
    bench.t_ns = t
    stamp = ns_to_stamp(t)
    bench.clock_pub.publish(Clock(clock=stamp))
    bench.state_pub.publish(JointState(header=Header(stamp=stamp), name=[JOINT],
                                       position=[bench.encoder], velocity=[RUN], effort=[0.0]))
    ros.spin_for(3.0)
    assert t not in bench.commands, 'answered without the setpoint it waits for'
    bench.setpoint_pub.publish(JointState(header=Header(stamp=ns_to_stamp(t - PERIOD_NS)),
                                          name=[JOINT], velocity=[-SETPOINT]))
    ros.spin_for(1.0)
    assert t not in bench.commands, 'answered without the temperature of its stamp'
    bench.temperature_pub.publish(Temperature(header=Header(stamp=stamp), temperature=20.0))
    ros.spin_until(lambda: t in bench.commands, 10, 'the held reading answered')
    assert bench.commands[t][0] < 0, 'answered with the setpoint it waited for'


def test_a_non_finite_or_ambiguous_setpoint_is_refused_and_the_last_one_stands(ros):
    bench = Bench(ros)
    last = bench.run(0.5)[-1]
    for bad in ((math.nan,), (math.inf,), (-math.inf,), (-SETPOINT, SETPOINT)):
        command = bench.step(setpoint=bad)
        # still pushing towards SETPOINT (a zero target would drop it by kp x SETPOINT)
        assert command > last, f'setpoint {bad} changed the command'
        last = command
    assert bench.values()['state'] == 'ENABLED'
    # a good one is taken at once (the test can tell a zero target from the last one)
    assert bench.step(setpoint=(0.0,)) < last - 0.5 * P['kp_nm_s_per_rad'] * SETPOINT


def test_on_hardware_the_heartbeat_is_a_timer_and_a_stale_setpoint_means_stop(ros):
    """use_sim_time false: reports on a wall timer without any reading, and a setpoint
    counts from its arrival, for setpoint_timeout_s."""
    bench = Bench(ros, sim_time=False)
    ros.spin_until(lambda: len(bench.reports) >= 4, 5, 'heartbeats without readings')
    stamps = [t for t, _ in bench.reports]
    assert max(b - a for a, b in zip(stamps, stamps[1:])) <= 1e9, 'ICD: 1 Hz or faster'
    assert bench.values()['state'] == 'ENABLED'
    clock = bench.probe.get_clock()
    last = [None, 0.0]      # stamp ns, encoder rad

    def reading(speed: float) -> float:
        """A reading now of a wheel turning at speed since the last (rad/s)."""
        t = clock.now().nanoseconds
        if last[0] is not None:
            last[1] += speed * (t - last[0]) * 1e-9
        last[0] = t
        bench.state_pub.publish(JointState(header=Header(stamp=ns_to_stamp(t)), name=[JOINT],
                                           position=[last[1]], velocity=[speed],
                                           effort=[bench.last_nm]))
        ros.spin_until(lambda: t in bench.commands, 5, 'an answer to the reading')
        bench.last_nm = bench.commands[t][0]
        return bench.last_nm

    assert reading(0.0) == 0.0, 'no setpoint yet: held at zero speed'
    bench.setpoint_pub.publish(JointState(name=[JOINT], velocity=[SETPOINT]))
    ros.spin_until(lambda: bench.unit.unit.setpoint == SETPOINT, 5, 'the setpoint taken')
    assert reading(0.0) > 0.0, 'a fresh setpoint: pushes towards it'
    ros.spin_for(P['setpoint_timeout_s'] + 0.1)
    # turning at the old setpoint, which has gone stale: the loop now brakes it to zero
    assert reading(SETPOINT) < 0.0, 'no setpoint for setpoint_timeout_s: hold at zero speed'
