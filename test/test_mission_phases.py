"""The mission's phase machine (mission/phases.py), fed plain values: no ROS, no simulator."""
import math

import pytest

from chang_e_rover.mission.phases import (AIM_TIMEOUT_S, PHASES, RESET_RETRY_S, Inputs,
                                          MissionPhases)
from chang_e_rover.mission import plan
from chang_e_rover.mission.plan import Crossing, FaultDrive, PlanClock, SetHeading
from chang_e_rover.navigation.goal_status import GoalState, GoalStatus

DT = 0.1


class FakeMutual:
    """MutualImaging's interface: aims from a pose, settled once the joints are there."""

    def __init__(self, reach: bool = True):
        self.aims = None
        self.shutter_t = None
        self.reach = reach
        self.planned = 0

    def plan(self, x, y, yaw):
        self.planned += 1
        if not self.reach:
            raise ValueError('lander out of reach of the pancam')
        self.aims = {'tcam': (0.1, -0.2), 'pancam': (1.0, 0.0)}
        return self.aims

    def commands(self):
        return {'lander': {'tcam_pan_joint': 0.1}, 'rover': {'pancam_pan_joint': 1.0}}

    def settled(self, joints):
        return joints.get('tcam_pan_joint', (None,))[0] == 0.1


class World:
    """A rover that follows velocity commands and reaches a goal drive_s after it is up."""

    def __init__(self, phases: MissionPhases, drive_s: float = 60.0, sequencer_s: float = 50.0,
                 short_m: float = 0.0):
        self.m, self.inp, self.t = phases, Inputs(), 100.0
        self.inp.truth = (0.0, 0.0, 0.0)
        self.inp.odom_pose = (8.0, -2.0, -0.5)
        self.inp.ready = frozenset({'sequencer', 'panorama', 'capture', 'reset_lm'})
        self.inp.healthy = '6'
        self.drive_s, self.sequencer_s, self.short_m = drive_s, sequencer_s, short_m
        self.cmd = (0.0, 0.0)
        self.goal: tuple[float, float, float] | None = None    # x, y, sent at
        self.log: list = []
        self.visited = [phases.phase]

    def step(self) -> None:
        x, y, yaw = self.inp.odom_pose
        v, w = self.cmd
        yaw += w * DT
        x, y = x + v * DT * math.cos(yaw), y + v * DT * math.sin(yaw)
        self.inp.odom_pose = (x, y, yaw)
        self.inp.truth = (x - 8.0, y + 2.0, 0.0)
        self.inp.distance_m += abs(v) * DT
        if self.goal is not None:
            gx, gy, sent = self.goal
            done = self.t - sent >= self.drive_s
            state = GoalState.ACTIVE if not done else \
                GoalState.REACHED_SHORT if self.short_m else GoalState.REACHED
            self.inp.goal_status = GoalStatus(state, gx, gy, 0, math.dist((x, y), (gx, gy)),
                                              self.short_m if done else 0.0)
            if done:
                self.inp.odom_pose = (gx, gy, yaw)
        if 'deploy_asked' in self.m.results and \
                self.t - self.m.results['deploy_asked'] > self.sequencer_s:
            self.inp.sequencer = {'state': 'COMPLETE', 'steps_done': 'checkout,park'}
        for a in self.m.update(self.inp, self.t):
            self.log.append((self.t, a))
            if a.kind == 'cmd':
                self.cmd = a.value
            elif a.kind == 'goal':
                self.goal = (a.value[0], a.value[1], self.t)
            elif a.kind == 'aim':
                self.inp.joints = {'tcam_pan_joint': (0.1, 0.0)}
            elif a.kind == 'capture':
                self.inp.frames = 2
            elif a.kind == 'request_panorama':
                self.inp.panorama = True
            elif a.kind == 'inject_fault':
                self.log += [(self.t, x) for x in
                             self.m.wheel_status(a.value[0], 'FAULT', a.value[1], self.t, self.t)]
                self.inp.healthy = '5'
            elif a.kind == 'await_downlink':
                self.inp.downlinked = True
            elif a.kind in ('reset_tc', 'reset_wheel'):
                self.m.wheel_status(a.value[0], 'ENABLED', 'none', self.t, self.t)
                self.inp.healthy = '6'
        if self.m.phase != self.visited[-1]:
            self.visited.append(self.m.phase)
        self.t += DT

    def run(self, limit_s: float = 5000.0) -> None:
        end = self.t + limit_s
        while not self.m.finished and self.t < end:
            self.step()
        assert self.m.finished, f'stuck in {self.m.phase}'

    def kinds(self) -> list[str]:
        return [a.kind for _, a in self.log]


def test_a_full_mission_runs_every_phase_in_order_and_finishes_once():
    m = MissionPhases(FaultDrive(), Crossing(), ground=True, mutual=FakeMutual())
    w = World(m)
    w.inp.link_up = True
    w.run()
    assert tuple(w.visited) == PHASES
    kinds = w.kinds()
    assert kinds.count('finish') == 1 and kinds[-1] == 'finish'
    assert kinds.count('start_sequencer') == 1 and kinds.count('request_panorama') == 1
    order = [k for k in kinds if k in ('start_sequencer', 'capture', 'request_panorama',
                                       'restart_meter', 'goal', 'inject_fault', 'clear_fault',
                                       'reset_tc', 'await_downlink', 'finish')]
    assert order == ['start_sequencer', 'capture', 'request_panorama', 'restart_meter', 'goal',
                     'inject_fault', 'clear_fault', 'reset_tc', 'goal', 'await_downlink',
                     'finish']
    r = m.results
    assert r['deployed'] and r['reached'] and r['crossing_reached']
    assert r['detected'][:2] == ('lm', 'stall')
    assert r['recovered'][1] == '6' and r['resets_sent'] == 1
    # the traverse lasts its plan; the heading was reached before it
    assert abs(math.remainder(r['heading'][0] - SetHeading().heading_rad, math.tau)) <= \
        SetHeading().tolerance_rad
    assert update_after_finish(m, w) == []


def update_after_finish(m, w):
    return m.update(w.inp, w.t + 1.0)


def test_nothing_happens_before_the_first_ground_truth():
    m = MissionPhases()
    assert m.update(Inputs(ready=frozenset({'panorama'})), 1.0) == []
    assert m.start_t is None and m.phase == 'panorama'


def test_without_deployment_ground_or_crossing_it_goes_from_the_panorama_to_the_end():
    m = MissionPhases(FaultDrive(inject_after_s=5.0))
    w = World(m)
    w.run()
    assert w.visited == ['panorama', 'heading', 'traverse', 'fault_drive', 'done']
    goal = next(a for _, a in w.log if a.kind == 'goal')
    # 5 m straight ahead along the heading the traverse ended on
    assert goal.value[2] == 'fault_drive'
    assert m.results['goal_odom'] == (goal.value[0], goal.value[1])
    traverse_s = [t for t, a in w.log if a.kind == 'goal'][0] - \
        [t for t, a in w.log if a.kind == 'restart_meter'][0]
    assert traverse_s == pytest.approx(PlanClock().total_s, abs=2 * DT)


def test_the_fault_is_injected_after_the_controller_takes_the_goal_up():
    fd = FaultDrive(inject_after_s=12.0)
    m = MissionPhases(fd)
    w = World(m, drive_s=40.0)
    w.run()
    active = m.results['goal_active']
    assert m.results['injected'] - active == pytest.approx(fd.inject_after_s, abs=DT + 1e-9)
    assert m.results['detected'] == (fd.wheel, fd.fault, m.results['injected'])


def test_a_goal_leg_ends_on_its_own_goal_reached_and_keeps_how_short():
    m = MissionPhases(FaultDrive(inject_after_s=5.0, timeout_s=300.0))
    m.phase, m.start_t, m.phase_t = 'fault_drive', 0.0, 0.0
    m.results['goal_odom'] = (5.0, 1.0)
    inp = Inputs(truth=(0.0, 0.0, 0.0), odom_pose=(0.0, 1.0, 0.0), healthy='6')
    for t, status in enumerate([
            GoalStatus(GoalState.REACHED, 4.0, 1.0, 0, 0.05),          # another goal
            GoalStatus(GoalState.HELD, 5.0, 1.0, 0, 3.0, reason='backing off'),
            GoalStatus(GoalState.FAILED, 5.0, 1.0, 0, 3.0, reason='cancelled')], 1):
        inp.goal_status = status
        m.update(inp, float(t))
        assert m.phase == 'fault_drive', status
    assert m.results['goal_active'] == 2.0, 'HELD is under way: the goal was taken up'
    inp.goal_status = GoalStatus(GoalState.REACHED_SHORT, 5.0, 1.0, 0, 0.18, 0.18)
    m.update(inp, 4.0)
    assert m.phase == 'done' and m.results['reached'] and m.results['short'] == 0.18


def test_a_fault_before_the_injection_or_on_another_wheel_is_not_the_detection():
    m = MissionPhases(FaultDrive(wheel='lm'))
    m.phase, m.results['injected'] = 'fault_drive', 10.0
    says = m.wheel_status('rf', 'FAULT', 'stall', 11.0, 11.0)
    assert 'detected' not in m.results
    assert [a.value[0] for a in says] == ['[mission] wheel rf reports FAULT stall: isolated']
    m.wheel_status('lm', 'FAULT', 'stall', 10.8, 11.0)
    m.wheel_status('lm', 'FAULT', 'stall', 12.0, 12.0)       # still latched: not a new one
    assert m.results['detected'] == ('lm', 'stall', 10.8)


def test_a_wheel_fault_during_the_deployment_is_reset_until_it_clears():
    m = MissionPhases(mutual=FakeMutual())
    inp = Inputs(truth=(0.0, 0.0, 0.0), ready=frozenset({'sequencer', 'reset_rf'}))
    m.update(inp, 0.0)
    says = m.wheel_status('rf', 'FAULT', 'overcurrent', 1.0, 1.0)
    assert 'the ground will reset it' in says[0].value[0]
    resets = [t for t in (1.5, 3.0, 3.1, 7.9, 8.0) if any(
        a.kind == 'reset_wheel' for a in m.update(inp, t))]
    assert resets == [3.0, 8.0]         # 2 s after the fault, again RESET_RETRY_S later
    assert 8.0 - 3.0 == RESET_RETRY_S
    m.wheel_status('rf', 'ENABLED', 'none', 8.5, 8.5)
    assert not any(a.kind == 'reset_wheel' for a in m.update(inp, 20.0))
    assert m.deploy_resets == ['rf', 'rf']


def test_the_deployment_times_out_and_the_mission_goes_on():
    m = MissionPhases(mutual=FakeMutual(), deploy_timeout_s=100.0)
    inp = Inputs(truth=(0.0, 0.0, 0.0), ready=frozenset({'sequencer'}),
                 sequencer={'state': 'HOLD', 'step': 'survey'})
    m.update(inp, 0.0)
    m.update(inp, 100.0)
    assert m.phase == 'deploy'
    m.update(inp, 100.2)
    assert m.phase == 'mutual' and m.results['deployed'] is False


def test_mutual_imaging_turns_once_when_the_lander_is_out_of_reach_then_gives_up():
    mutual = FakeMutual(reach=False)
    m = MissionPhases(mutual=mutual)
    m.phase = 'mutual'
    inp = Inputs(truth=(0.0, 0.0, 0.0), odom_pose=(8.0, -2.0, 0.0))
    m.start_t = m.phase_t = 0.0
    says = [a for a in m.update(inp, 0.0) if a.kind == 'say']
    assert 'turning the rover 0.30 rad' in says[0].value[0]
    cmds = [a.value for t in (1.0, 2.9, 3.1, 4.9) for a in m.update(inp, t)]
    assert cmds == [(0.0, 0.1), (0.0, 0.1), (0.0, 0.0), (0.0, 0.0)]
    m.update(inp, 5.1)
    assert m.phase == 'panorama' and mutual.planned == 2
    assert m.results['mutual'].startswith('not possible: lander out of reach')


def test_mutual_imaging_gives_up_on_cameras_that_do_not_settle():
    m = MissionPhases(mutual=FakeMutual())
    m.phase, m.start_t, m.phase_t = 'mutual', 0.0, 0.0
    inp = Inputs(truth=(0.0, 0.0, 0.0), odom_pose=(8.0, -2.0, 0.0), ready=frozenset({'capture'}))
    assert [a.kind for a in m.update(inp, 0.0)] == ['aim']
    m.update(inp, AIM_TIMEOUT_S)
    assert m.phase == 'mutual'
    m.update(inp, AIM_TIMEOUT_S + 0.1)
    assert m.phase == 'panorama'
    assert m.results['mutual'] == f'cameras did not settle in {AIM_TIMEOUT_S:.0f} s'


def test_the_panorama_waits_for_the_link_and_goes_on_without_the_image_on_timeout():
    m = MissionPhases(ground=True, panorama_timeout_s=50.0)
    inp = Inputs(truth=(0.0, 0.0, 0.0), ready=frozenset({'panorama'}))
    assert m.update(inp, 0.0) == []             # the service is there, but not the link
    inp.link_up = True
    assert [a.kind for a in m.update(inp, 1.0)] == ['request_panorama']
    m.update(inp, 51.0)
    assert m.phase == 'panorama'
    says = [a.value[0] for a in m.update(inp, 51.2)]
    assert m.phase == 'heading' and m.results['panorama_s'] == pytest.approx(50.2)
    assert says == ['[mission] no panorama after 50 s; going on without it']


def test_the_ground_resets_the_wheel_again_only_once_the_last_reset_failed():
    cr = Crossing(reset_timeout_s=30.0)
    m = MissionPhases(crossing=cr, ground=True)
    m.phase, m.start_t, m.phase_t = 'recover', 0.0, 0.0
    inp = Inputs(truth=(0.0, 0.0, 0.0), odom_pose=(9.0, 7.5, 0.0), healthy='5')
    sent = []
    for t10 in range(0, 300):
        t = t10 / 10
        inp.reset_tc = (None if not sent else 'pending' if t < 8.0 else
                        'failed' if t < 12.0 else 'completed')
        sent += [t for a in m.update(inp, t) if a.kind == 'reset_tc']
    assert sent == [1.0, 8.0]           # after 1 s; then not while pending, at once when refused
    assert m.results['resets_sent'] == 2 and m.phase == 'recover'
    m.update(inp, 30.1)                 # not back in service: the crossing goes anyway
    assert m.phase == 'crossing' and m.results['recovered'] == (None, '5')


def test_the_crossing_goal_goes_outward_from_the_lander():
    cr = Crossing()
    m = MissionPhases(crossing=cr)
    m.phase, m.start_t, m.phase_t = 'recover', 0.0, 0.0
    m.wheels['lm'] = ('ENABLED', 'none')
    inp = Inputs(truth=(1.0, 2.0, 0.0), odom_pose=(9.0, 7.5, 0.3), healthy='6')
    goal = [a for a in m.update(inp, 2.0) if a.kind == 'goal'][0]
    gx, gy, leg = goal.value
    assert leg == 'crossing' and m.results['recovered'] == (2.0, '6')
    assert math.atan2(gy, gx) == pytest.approx(math.atan2(7.5, 9.0))
    assert math.dist((9.0, 7.5), (gx, gy)) == pytest.approx(cr.distance_m)
    assert m.results['crossing_goal_true'] == pytest.approx((1.0 + gx - 9.0, 2.0 + gy - 7.5))


def test_the_downlink_wait_ends_on_sim_time():
    m = MissionPhases(ground=True, downlink_wait_s=60.0)
    m.phase, m.start_t, m.phase_t = 'downlink', 0.0, 1000.0
    m._downlink_t = 1000.0
    inp = Inputs(truth=(0.0, 0.0, 0.0))
    assert m.update(inp, 1060.0) == [] and not m.finished
    assert [a.kind for a in m.update(inp, 1060.1)] == ['finish'] and m.finished


@pytest.mark.parametrize('name', ['deploy_timeout_s', 'panorama_timeout_s', 'downlink_wait_s'])
@pytest.mark.parametrize('value', [0.0, -1.0, math.nan, math.inf])
def test_bad_timeouts_are_refused(name, value):
    with pytest.raises(ValueError, match=name):
        MissionPhases(**{name: value})


def test_progress_lines_carry_an_estimate_of_what_is_left():
    m = MissionPhases(FaultDrive(inject_after_s=5.0))
    assert m.phase == 'panorama'
    whole = m.remaining_s(0.0)
    assert whole == pytest.approx(sum(plan.USUAL_S[p] for p in
                                      ('panorama', 'heading', 'fault_drive')) + m.plan.total_s)
    assert m.remaining_s(0.5) == pytest.approx(whole - 0.5 * plan.USUAL_S['panorama'])
    w = World(m)
    w.run()
    progress = [a for _, a in w.log if a.kind == 'progress']
    assert len(progress) >= 5 and all(a.value[0].startswith('[mission] t=') for a in progress)
    left = [a.value[1] for a in progress]
    assert left[0] > left[-1] >= 0.0 and left[0] <= whole, left
