"""drive/setpoints.py: which setpoint a wheel unit answers a reading with in sim (no ROS)."""
from chang_e_rover.drive.setpoints import SetpointInbox

MS = 1_000_000


def test_a_reading_takes_the_setpoints_stamped_before_it_whatever_the_arrival_order():
    box = SetpointInbox()
    assert not box.waits(0, controller_present=True), 'the first reading has none to wait for'
    assert box.answer(0) == []
    box.heard(0, 0.1)
    box.heard(50 * MS, 0.2)         # the controller's step on reading 50 ms came first
    assert not box.waits(50 * MS, controller_present=True)
    assert box.answer(50 * MS) == [(0, 0.1)], "this period's setpoint waits for the next"
    assert box.answer(100 * MS) == [(50 * MS, 0.2)]


def test_a_reading_waits_for_the_setpoint_of_the_one_before_while_the_controller_is_there():
    box = SetpointInbox()
    box.answer(0)
    assert box.waits(50 * MS, controller_present=True)
    assert not box.waits(50 * MS, controller_present=False), 'no controller: nothing comes'
    box.heard(0, None)              # isolated: the step is answered, with no demand
    assert not box.waits(50 * MS, controller_present=True)
    assert box.answer(50 * MS) == []


def test_sim_time_starting_again_forgets_the_old_world():
    box = SetpointInbox()
    box.answer(5000 * MS)
    box.heard(5000 * MS, 0.3)
    assert not box.waits(0, controller_present=True)
    assert box.answer(0) == []
