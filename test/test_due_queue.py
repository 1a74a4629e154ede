"""drive/due_queue.py: what the controller hears at which step (no ROS)."""
from chang_e_rover.drive.due_queue import DueQueue


def test_actions_run_at_the_first_step_at_or_after_their_due_time_in_due_order():
    q, ran = DueQueue(), []
    q.hold(0.525, lambda: ran.append('map'))
    q.hold(0.075, lambda: ran.append('diag b'))
    q.hold(0.075, lambda: ran.append('diag a'))
    q.hold(0.10 + 1e-10, lambda: ran.append('rounded'))   # a stamp sum a hair past the step
    for action in q.due(0.05):
        action()
    assert ran == [] and len(q) == 4, 'nothing is due before its time'
    for action in q.due(0.10):
        action()
    assert ran == ['diag b', 'diag a', 'rounded'], 'due order; held order on a tie'
    for action in q.due(0.5):
        action()
    assert len(q) == 1
    for action in q.due(0.55):
        action()
    assert ran[-1] == 'map' and len(q) == 0
