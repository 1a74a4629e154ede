"""The lander's deployment sequence: core state machine (no ROS) and the whole drive-off on the simulator."""
import math

from diagnostic_msgs.msg import DiagnosticArray
from rclpy.parameter import Parameter
from std_srvs.srv import Trigger
import numpy as np
import pytest

from chang_e_rover import config, graph, runner
from chang_e_rover.lander.sequencer import (
    ACTIVE, CONFIRM, HOLD, Params, Sequencer, STEPS, Telemetry, WAITING, zone_status)
from chang_e_rover.robot_description import WHEEL_IDS

PARAMS = config.load_params('lander.yaml', 'sequencer')


def params(**changes):
    p = dict(PARAMS)
    p.update(changes)
    return Params.from_dict(p)


def healthy(t, **changes):
    tel = Telemetry(battery_soc=0.9, battery_t=t, wheels={w: ('ENABLED', t) for w in WHEEL_IDS},
                    ramp_angle=-1.5708, ramp_t=t, rover_xy=(0.0, 0.0), rover_t=t,
                    zone=(0.9, 0), egress_zone=(0.9, 0))
    for k, v in changes.items():
        setattr(tel, k, v)
    return tel


class Bench:
    """The sequencer against a telemetry model that does what it is told."""

    def __init__(self, p, tel=None):
        self.seq = Sequencer(p, 0.0)
        self.t = 0.0
        self.tel = tel or healthy(0.0)
        self.actions = []

    def run(self, seconds, follow=True):
        end = self.t + seconds
        while self.t < end:
            self.t += 0.5
            for k in ('battery_t', 'ramp_t', 'rover_t'):
                setattr(self.tel, k, self.t)
            self.tel.wheels = {w: (s, self.t) for w, (s, _) in self.tel.wheels.items()}
            for a in self.seq.update(self.tel, self.t):
                self.actions.append((self.t, a))
                if not follow:
                    continue
                if a.kind == 'ramp':
                    self.tel.ramp_angle = 0.52
                elif a.kind == 'release':
                    self.tel.released = True
                elif a.kind == 'goal':
                    self.tel.rover_xy = tuple(a.value)


def test_the_sequence_runs_through_in_order_and_respects_the_timeline():
    b = Bench(params(**{'timeline.release_after_landing_s': 100.0}))
    b.run(50.0)
    assert b.seq.step == 'release' and b.seq.state == WAITING, b.seq.events
    assert 'not before landing + 100 s' in b.seq.reason
    b.run(60.0)
    assert b.seq.complete
    kinds = [a.kind for _, a in b.actions]
    assert kinds == ['ramp', 'release', 'gate', 'goal', 'gate', 'gate', 'goal']
    release_t = next(t for t, a in b.actions if a.kind == 'release')
    assert 100.0 <= release_t <= 101.0
    assert [a.value for _, a in b.actions if a.kind == 'gate'] == [(False,), (True,), (True,)]
    assert list(b.seq.done_t) == list(STEPS)


def test_a_failed_precondition_holds_in_a_safe_state_and_resumes_when_cleared():
    b = Bench(params(**{'timeline.release_after_landing_s': 0.0}))
    b.tel.battery_soc = 0.3
    b.run(10.0)
    assert (b.seq.step, b.seq.state) == ('checkout', HOLD)
    assert b.seq.reason == 'power: battery at 30 %, 50 % needed'
    assert b.actions == []
    b.tel.battery_soc = 0.8
    b.run(3.0)
    assert b.seq.index > 0
    # A wheel fails during the drive-off: hold and stop; back in service: go on.
    b = Bench(params(**{'timeline.release_after_landing_s': 0.0}))
    for _ in range(40):
        b.run(0.5, follow=b.seq.step != 'drive_off')
    assert (b.seq.step, b.seq.state) == ('drive_off', ACTIVE), b.seq.events
    b.tel.rover_xy = (2.0, 0.0)            # on its way down
    b.actions.clear()
    b.run(1.0, follow=False)
    b.tel.wheels['lm'] = ('FAULT', b.t)
    b.run(1.0, follow=False)
    assert b.seq.state == HOLD and b.seq.reason == 'rover health: wheel lm is FAULT'
    assert [a.kind for _, a in b.actions] == ['stop']
    b.tel.wheels['lm'] = ('ENABLED', b.t)
    b.run(1.0, follow=False)
    assert b.seq.state == ACTIVE
    assert [a.kind for _, a in b.actions][1:] == ['gate', 'goal']


def test_a_timeout_holds_until_the_ground_resumes():
    b = Bench(params(**{'timeline.release_after_landing_s': 0.0, 'timeout_s.deploy_ramp': 10.0}))
    b.run(20.0, follow=False)        # the ramp never moves
    assert (b.seq.step, b.seq.state) == ('deploy_ramp', HOLD)
    assert b.seq.reason.startswith('timeout after 10 s: ramp at -1.5708 rad')
    b.tel.ramp_angle = 0.52
    b.run(5.0)
    assert b.seq.state == HOLD, 'a timeout must wait for the ground'
    ok, why = b.seq.resume(b.t)
    assert ok, why
    b.run(2.0)
    assert b.seq.index > STEPS.index('deploy_ramp')
    assert b.seq.resume(b.t)[0] is False


def test_the_ground_confirms_where_config_asks_it():
    b = Bench(params(auto_confirm=False, **{'timeline.release_after_landing_s': 0.0}))
    b.run(5.0)
    assert (b.seq.step, b.seq.state) == ('deploy_ramp', CONFIRM)
    assert not any(a.kind == 'ramp' for _, a in b.actions)
    assert b.seq.confirm(b.t)[0]
    b.run(1.0)
    assert any(a.kind == 'ramp' for _, a in b.actions)
    assert b.seq.confirm(b.t)[0] is False      # nothing awaits now


def test_a_hazard_beyond_the_ramp_holds_the_deployment():
    b = Bench(params(**{'timeline.release_after_landing_s': 0.0}))
    b.tel.zone = (0.9, 3)
    b.run(5.0)
    assert (b.seq.step, b.seq.state) == ('deploy_ramp', HOLD)
    assert b.seq.reason == 'ground beyond the ramp: 3 untraversable cells'
    assert not any(a.kind == 'ramp' for _, a in b.actions)


def test_the_drive_off_ends_on_the_line_across_the_ramp_not_at_a_point():
    b = Bench(params(**{'timeline.release_after_landing_s': 0.0}))
    for _ in range(40):
        b.run(0.5, follow=b.seq.step != 'drive_off')
    assert (b.seq.step, b.seq.state) == ('drive_off', ACTIVE), b.seq.events
    end, tolerance = PARAMS['egress_distance_m'], PARAMS['arrive_tolerance_m']
    b.tel.rover_xy = (end - tolerance - 0.05, 0.0)      # still short of it, on the axis
    b.run(2.0, follow=False)
    assert b.seq.step == 'drive_off'
    b.tel.rover_xy = (end - tolerance + 0.05, 0.35)     # slid 0.35 m aside on the ramp
    b.run(1.0, follow=False)
    assert b.seq.step == 'park', b.seq.events


def test_zone_status_counts_observed_and_untraversable_cells():
    cost = np.full((40, 80), -1, dtype=np.int16)       # 0.1 m cells, origin (-2, -2)
    cost[:, 60:] = 0                                    # x >= 4.0 observed
    cost[20, 65] = 100                                  # (4.55, 0.05)
    seen, bad = zone_status(cost, (-2.0, -2.0), 0.1, 3.5, 1.5, 0.5)
    assert seen == pytest.approx(1.0 / 1.5, abs=0.05) and bad == 1
    with pytest.raises(ValueError):
        zone_status(cost, (-2.0, -2.0), 0.1, 30.0, 1.0, 0.5)


def test_bad_configuration_is_refused():
    with pytest.raises(ValueError, match='unknown steps'):
        params(confirm_steps=['deploy', 'release'])
    with pytest.raises(ValueError, match='timeout'):
        params(**{'timeout_s.park': math.inf})
    with pytest.raises(ValueError, match='park_xy'):
        params(park_xy=[1.0])


def test_the_rover_drives_off_the_lander_onto_the_surface(ros):
    """The whole stack on the simulator, the rover on the deck: deploy, release, drive off, park."""
    overrides = {'sim': {'real_time_factor': 0.0, 'rover_start': 'deck'},
                 'sequencer': {'timeline.release_after_landing_s': 40.0,
                               'park_xy': [7.0, -1.0]}}
    nodes = runner.build_nodes(graph.all_nodes(), overrides, context=ros.context)
    for node in nodes:
        ros.add(node)
    sim = nodes[0]
    seq_node = next(n for n in nodes if n.get_name() == 'sequencer')
    probe = ros.node('probe')
    statuses = []
    probe.create_subscription(DiagnosticArray, '/diagnostics', lambda m: statuses.extend(
        s for s in m.status if s.name == 'lander/sequencer'), 50)
    start = probe.create_client(Trigger, '/lander/sequencer/start')
    ros.spin_until(lambda: start.service_is_ready() and sim.world.time > 2.0, 60, 'the stack')
    # Low power at first: the sequence holds; charged, it goes on.
    sim.set_parameters([Parameter('power.initial_soc', value=0.3)])
    ros.spin_until(lambda: (seq_node.tel.battery_soc or 1.0) < 0.31, 30, 'the low battery reported')
    future = start.call_async(Trigger.Request())
    ros.spin_until(future.done, 30, 'start')
    assert future.result().success, future.result().message
    ros.spin_until(lambda: seq_node.seq.state == HOLD, 60, 'a hold on power')
    assert seq_node.seq.reason.startswith('power: battery at 30 %')
    assert sim.world.held_down and sim.world.joint_state('lander')[1][0] < -1.5
    sim.set_parameters([Parameter('power.initial_soc', value=0.9)])
    # The ground's part: a wheel that latches a fault holds the sequence (the rover
    # stops); once its telemetry shows it clear the ground resets it and the sequence
    # goes on by itself. (A stall where the ramp meets the ground was seen once in a
    # few runs; in the flight software's own harness the drive-off never stalls.)
    resets = {w: probe.create_client(Trigger, f'/rover/wheel_{w}/reset') for w in WHEEL_IDS}
    reset_log = []

    def ground_watch():
        s = seq_node.seq
        if s.complete or (s.state == HOLD and s.hold_by_timeout):
            return True
        if s.state == HOLD and s.reason.startswith('rover health: wheel ') and \
                s.reason.endswith('is FAULT') and len(reset_log) < 6:
            wheel = s.reason.split()[3]
            if not reset_log or sim.world.time - reset_log[-1][0] > 5.0:
                reset_log.append((sim.world.time, wheel))
                resets[wheel].call_async(Trigger.Request())
        return False

    ros.spin_until(ground_watch, 1200, 'the sequence to complete')
    print('wheel resets by the ground:', reset_log)
    seq = seq_node.seq
    events = [f'{e.t:.1f} {e.text}' for e in seq.events]
    print('\n'.join(events))
    assert seq.complete, events
    assert seq.done_t['release'] >= seq.landing_t + 40.0
    truth = sim.world.ground_truth().position
    park = seq.p.park_xy
    print('parked at', truth, 'ramp', sim.world.joint_state('lander')[1][0])
    # odometry counts the 30 deg ramp 0.3 to 0.5 m short (the rover slips on it)
    assert math.hypot(truth[0] - park[0], truth[1] - park[1]) < 0.8
    assert abs(truth[2] - 0.55) < 0.1, f'not on the ground: {truth}'   # base_link 0.55 m up
    assert not sim.world.held_down
    assert any(s.values and dict((kv.key, kv.value) for kv in s.values).get('state') == 'HOLD'
               for s in statuses)


def test_ground_services_answer_with_reasons(ros):
    """start, confirm and resume over ROS, the sequencer alone (no simulator)."""
    from chang_e_rover.lander.sequencer_node import SequencerNode
    ros.add(SequencerNode(context=ros.context, namespace='lander'))
    probe = ros.node('ground')
    clients = {c: probe.create_client(Trigger, f'/lander/sequencer/{c}')
               for c in ('start', 'confirm', 'resume')}

    def call(name):
        future = clients[name].call_async(Trigger.Request())
        ros.spin_until(future.done, 30, name)
        return future.result()

    ros.spin_until(lambda: all(c.service_is_ready() for c in clients.values()), 30, 'services')
    assert call('confirm').message == 'the sequence has not started'
    assert call('start').success
    assert not call('start').success
    answer = call('confirm')
    assert not answer.success and 'no step awaits confirmation' in answer.message
    answer = call('resume')
    assert not answer.success and answer.message.startswith('nothing to resume')
