"""sim/lockstep.py: who the simulator waits for, and its watchdog (no ROS)."""
import pytest

from chang_e_rover.sim.lockstep import Lockstep, LockstepStalled, waited_from, waited_values

MS = 1_000_000


def loop(**kwargs):
    ls = Lockstep(['wheel_lf', 'drive_controller'], ['hazard_camera'], latency_ns=500 * MS,
                  watchdog_s=60.0, **kwargs)
    return ls


def test_every_step_channels_on_the_graph_must_answer_the_current_step():
    ls = loop()
    ls.inputs(0)
    assert ls.ready(0, 50 * MS, 0.0), 'nobody on the graph: nothing to wait for'
    ls.presence('wheel_lf', True)
    ls.presence('drive_controller', True)
    assert ls.ready(0, 50 * MS, 0.0), 'a node that comes owes answers from the next inputs'
    ls.inputs(50 * MS)
    assert ls.waiting_for(50 * MS, 100 * MS) == ['wheel_lf', 'drive_controller']
    ls.answer('wheel_lf', 50 * MS)
    assert ls.waiting_for(50 * MS, 100 * MS) == ['drive_controller']
    ls.answer('drive_controller', 50 * MS)
    assert ls.ready(50 * MS, 100 * MS, 1.0)


def test_a_pair_is_waited_for_a_period_before_its_map_is_due():
    """Due at 1.5 s: answered before the readings of 1.45 s go out, so the map reaches
    the controller a whole period before the step that takes it into use."""
    ls = loop()
    ls.presence('hazard_camera', True)
    ls.sent('hazard_camera', 1000 * MS)
    assert ls.ready(1000 * MS, 1050 * MS, 0.0)
    assert ls.ready(1350 * MS, 1400 * MS, 0.0)
    assert ls.waiting_for(1400 * MS, 1450 * MS) == ['hazard_camera'], 'due at 1.5 s'
    ls.answer('hazard_camera', 1000 * MS)
    assert ls.ready(1400 * MS, 1450 * MS, 0.0)


def test_a_node_that_left_is_not_waited_for_and_owes_nothing():
    ls = loop()
    ls.presence('hazard_camera', True)
    ls.presence('wheel_lf', True)
    ls.sent('hazard_camera', 1000 * MS)
    ls.presence('hazard_camera', False)
    ls.presence('wheel_lf', False)
    assert ls.ready(2000 * MS, 2050 * MS, 0.0)


def test_the_watchdog_names_the_silent_node_and_never_steps_on():
    ls = loop()
    ls.presence('wheel_lf', True)
    ls.inputs(50 * MS)
    assert not ls.ready(50 * MS, 100 * MS, 100.0)
    assert not ls.ready(50 * MS, 100 * MS, 159.0)
    with pytest.raises(LockstepStalled, match='wheel_lf: no answer for t=0.050 s'):
        ls.ready(50 * MS, 100 * MS, 161.0)


def test_expected_nodes_are_waited_for_before_the_first_step():
    ls = loop(expect_at_start=['wheel_lf', 'hazard_camera'])
    assert not ls.ready(0, 50 * MS, 0.0)
    assert ls.waiting == (['hazard_camera', 'wheel_lf'], 0.0)
    ls.presence('wheel_lf', True)
    assert not ls.startable(0.5)
    ls.presence('hazard_camera', True)
    assert ls.startable(1.0)
    ls.inputs(0)
    assert ls.waiting_for(0, 50 * MS) == ['wheel_lf'], 'on the graph before the first inputs'
    ls.answer('wheel_lf', 0)
    assert ls.ready(0, 50 * MS, 1.0)
    with pytest.raises(ValueError, match='unknown'):
        loop(expect_at_start=['wheel_xx'])
    with pytest.raises(LockstepStalled, match='not on the graph at start'):
        ls2 = loop(expect_at_start=['drive_controller'])
        ls2.ready(0, 50 * MS, 0.0)
        ls2.ready(0, 50 * MS, 61.0)


def test_a_rebuilt_world_is_answered_from_its_first_step_by_every_node_on_the_graph():
    ls = loop()
    ls.inputs(0)
    ls.presence('wheel_lf', True)
    ls.inputs(50 * MS)
    ls.answer('wheel_lf', 50 * MS)
    ls.restart()
    assert ls.waiting_for(0, 50 * MS) == ['wheel_lf']


def test_the_wall_time_waited_goes_to_the_node_that_answered_last():
    """Where a slow simulation's time goes: each wait, counted from its start to the step
    it let go, is booked to the node(s) whose answer ended it; waits before the first
    step and steps taken at once count nothing."""
    ls = loop(expect_at_start=['wheel_lf'])
    assert not ls.startable(0.0)
    ls.presence('wheel_lf', True)
    ls.presence('drive_controller', True)
    assert ls.startable(5.0), 'the wait for the start is not a step waited for'
    ls.inputs(0)
    ls.answer('wheel_lf', 0)
    ls.answer('drive_controller', 0)
    assert ls.ready(0, 50 * MS, 5.0)
    ls.inputs(50 * MS)
    assert not ls.ready(50 * MS, 100 * MS, 6.0)
    ls.answer('wheel_lf', 50 * MS)
    assert not ls.ready(50 * MS, 100 * MS, 6.5)
    ls.answer('drive_controller', 50 * MS)
    assert ls.ready(50 * MS, 100 * MS, 7.0)
    assert ls.waited_s == {'wheel_lf': 0.0, 'drive_controller': 1.0, 'hazard_camera': 0.0}
    ls.inputs(100 * MS)
    assert not ls.ready(100 * MS, 150 * MS, 8.0)
    ls.answer('wheel_lf', 100 * MS)
    ls.answer('drive_controller', 100 * MS)
    assert ls.ready(100 * MS, 150 * MS, 8.4), 'both answered at once: the wait is split'
    assert ls.waited_s == pytest.approx({'wheel_lf': 0.2, 'drive_controller': 1.2,
                                         'hazard_camera': 0.0})
    # /sim/lockstep's keys, as docs/interfaces.md gives them, and back to the figures
    values = waited_values(ls.waited_s)
    assert [k for k, _ in values] == [
        'waited_s.drive_controller', 'waited_s.hazard_camera', 'waited_s.wheel_lf']
    assert waited_from(values + [('sim_s', '8.000')]) == pytest.approx(ls.waited_s, abs=1e-3)
