"""The simulator node's pure parts (sim/loop.py, stepping.py, schedule.py, parameters.py),
alone: plain pytest, no ROS, no MuJoCo world."""
import pytest

from chang_e_rover.robot_description import WHEEL_IDS
from chang_e_rover.sim import loop
from chang_e_rover.sim.lockstep import Lockstep, LockstepStalled
from chang_e_rover.sim.parameters import rebuilds_world, refusal
from chang_e_rover.sim.schedule import RateSchedule, WheelFaults
from chang_e_rover.sim.stepping import Stepping


def lockstep(expect=(), watchdog_s=10.0) -> Lockstep:
    return loop.make_lockstep({'lockstep.expect': ','.join(expect),
                               'lockstep.watchdog_s': watchdog_s})


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_a_node_counts_as_present_at_the_second_sighting_and_gone_at_once():
    ls = lockstep()
    presence = loop.Presence(ls)
    on_graph = set()
    check = lambda: presence.check(lambda node, answers, reads: answers in on_graph)
    on_graph.add('rover/wheel_lf/motor/command')
    check()
    assert not ls.channels['wheel_lf'].present, 'a first sighting waits for the next check'
    check()
    assert ls.channels['wheel_lf'].present
    on_graph.clear()
    check()
    assert not ls.channels['wheel_lf'].present


def test_answers_are_read_from_their_status_and_key_only():
    values = [('pair_stamp_ns', '1500000000'), ('other', '7'), ('pair_stamp_ns', 'n/a')]
    assert loop.answers_in('rover/hazard_camera', values) == [('hazard_camera', 1_500_000_000)]
    assert loop.answers_in('lander/camera', [('frame_stamp_ns', '-1')]) == [('camera', -1)]
    assert loop.answers_in('rover/wheel_lf', values) == []


def test_only_an_unpaced_run_is_said_to_repeat():
    ls = lockstep()
    ok, text = loop.reproducibility(ls, 0.0)
    assert ok and text.startswith('lock-step with no flight node; not paced')
    ls.presence('drive_controller', True)
    ok, text = loop.reproducibility(ls, 2.0)
    assert not ok and text.startswith('lock-step with drive_controller; paced at 2x real time')


def test_pacing_holds_a_step_until_the_wall_clock_catches_up():
    clock = Clock()
    stepping = Stepping(lockstep(), 0.05, 0.0, clock)
    assert stepping.startable()
    stepping.start(0.0)
    assert stepping.may_step(0.0, 1.0)
    assert not stepping.may_step(0.05, 1.0), 'ahead of the wall clock at 1x'
    clock.now += 0.06
    assert stepping.may_step(0.05, 1.0)
    assert stepping.may_step(10.0, 0.0), 'not paced'
    assert stepping.free_running(1.0) and stepping.free_running(0.0), 'nobody drives it'


def test_stepping_waits_for_the_loop_and_its_watchdog_names_the_silent_node():
    clock = Clock()
    ls = lockstep(expect=['wheel_lf'], watchdog_s=3.0)
    stepping = Stepping(ls, 0.05, 0.0, clock)
    assert not stepping.startable()
    ls.presence('wheel_lf', True)
    assert stepping.startable()
    stepping.start(0.0)
    ls.inputs(0)
    assert not stepping.free_running(0.0), 'a wheel unit drives it'
    assert not stepping.may_step(0.0, 0.0)
    ls.answer('wheel_lf', 0)
    assert stepping.may_step(0.0, 0.0)
    assert not stepping.may_step(0.05, 0.0)
    clock.now += 4.0
    with pytest.raises(LockstepStalled, match='wheel_lf'):
        stepping.may_step(0.05, 0.0)


def test_a_rate_is_due_a_period_after_it_last_went_out():
    rates = RateSchedule()
    times = [i * 0.05 for i in range(41)]
    assert [t for t in times if rates.due('imu', t, 5.0)] == pytest.approx(
        [0.0, 0.2, 0.4, 0.6, 0.8, 1.0, 1.2, 1.4, 1.6, 1.8, 2.0])


class World:
    def __init__(self):
        self.time, self.faults = 0.0, {}

    def set_fault(self, wheel, kind):
        self.faults[wheel] = (kind, self.time)


def test_a_fault_waits_for_its_time_and_one_for_now_replaces_it():
    world = World()
    params = {**{f'fault.wheel_{w}': 'none' for w in WHEEL_IDS},
              **{f'fault_at_s.wheel_{w}': 0.0 for w in WHEEL_IDS}, 'fault_at_s.wheel_lm': 1.0,
              'fault.wheel_lm': 'stall'}
    faults = WheelFaults(world, params)
    assert world.faults['lf'] == ('none', 0.0) and 'lm' not in world.faults
    world.time = 0.95
    assert faults.inject_due() == []
    world.time = 1.0
    assert faults.inject_due() == [('lm', 'stall')] and world.faults['lm'] == ('stall', 1.0)
    params['fault_at_s.wheel_rr'] = 5.0
    assert faults.set('rr', 'open_circuit') == 5.0 and 'rr' in faults.pending
    params['fault_at_s.wheel_rr'] = 0.0
    assert faults.set('rr', 'none') == 1.0 and faults.pending == {}


def test_parameter_changes_are_refused_with_the_reason():
    assert refusal('fault.wheel_lf', 'stall') is None
    assert 'expected fault.wheel_<lf|' in refusal('fault.wheel_xx', 'stall')
    assert 'expected' in refusal('fault.wheel_lf', 'gremlins')
    assert refusal('fault_at_s.wheel_lf', 2.0) is None
    assert 'sim time >= 0' in refusal('fault_at_s.wheel_lf', -1.0)
    assert refusal('real_time_factor', float('inf')) is not None
    assert refusal('power.initial_soc', 1.5) == 'power.initial_soc must be 0 to 1'
    assert '0 to 0.4' in refusal('terrain.rock_abundance', 0.5)
    assert refusal('paused', True) is None
    assert rebuilds_world('terrain.seed') and not rebuilds_world('real_time_factor')


def test_the_inputs_a_step_waits_for_must_go_out_every_control_period():
    """The drive controller's step waits for the IMU sample and the joint states of its
    period, a wheel unit's answer for the motor temperature: a simulator sending one at
    another rate is refused at start, named."""
    from chang_e_rover import config
    p = config.load_params('sim.yaml', 'sim')
    loop.check_period_inputs(p)
    for key in ('imu.rate_hz', 'joint_states_rate_hz', 'motor_temperature_rate_hz'):
        with pytest.raises(ValueError, match=key.replace('.', r'\.') + '=10'):
            loop.check_period_inputs({**p, key: 10.0})
