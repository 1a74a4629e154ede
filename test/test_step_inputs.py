"""drive/step_inputs.py: what a control step waits for in simulation, and when a reset goes."""
from chang_e_rover.drive.step_inputs import ResetsOwed, StepInputs

WHEELS = ('lf', 'lm', 'lr', 'rf', 'rm', 'rr')
STREAMS = ('imu', 'joint_states')
P = 50_000_000      # a control period, ns


def everyone(name: str) -> bool:
    return True


def period(inputs: StepInputs, stamp_ns: int, streams=STREAMS, wheels=WHEELS) -> None:
    for s in streams:
        inputs.heard(s, stamp_ns)
    for w in wheels:
        inputs.reading(w, stamp_ns)


def test_a_step_waits_for_all_six_readings_and_the_samples_of_its_period():
    inputs = StepInputs(WHEELS, STREAMS)
    period(inputs, P, streams=(), wheels=WHEELS[:5])
    assert inputs.next_step(everyone) is None            # five readings of six
    inputs.reading('rr', P)
    assert inputs.next_step(everyone) is None            # no IMU sample, no joint states
    inputs.heard('imu', P)
    assert inputs.next_step(everyone) is None
    inputs.heard('joint_states', P)
    assert inputs.next_step(everyone) == P


def test_a_sample_whose_writer_left_the_graph_is_not_waited_for():
    inputs = StepInputs(WHEELS, STREAMS)
    period(inputs, P, streams=('joint_states',))
    assert inputs.next_step(everyone) is None
    assert inputs.next_step(lambda name: name != 'imu') == P


def test_the_oldest_full_period_steps_first_and_its_readings_are_then_done_with():
    inputs = StepInputs(WHEELS, STREAMS)
    period(inputs, 2 * P, wheels=WHEELS[:3])      # the next period, partly in
    period(inputs, P)
    period(inputs, 3 * P)
    assert inputs.next_step(everyone) == P
    inputs.step(P)
    for w in WHEELS:
        inputs.answer(w, P)
    assert inputs.next_step(everyone) == 3 * P     # 2 P is not full
    inputs.step(3 * P)                             # and is dropped with it
    for w in WHEELS:
        inputs.answer(w, 3 * P)
    for w in WHEELS[3:]:
        inputs.reading(w, 2 * P)
    assert inputs.next_step(everyone) is None


def test_a_step_waits_for_every_unit_on_the_graph_to_answer_the_step_before():
    inputs = StepInputs(WHEELS, STREAMS)
    period(inputs, P)
    inputs.step(P)
    period(inputs, 2 * P)
    for w in WHEELS[:5]:
        inputs.answer(w, P)
    assert inputs.next_step(everyone) is None      # rr has not answered
    assert inputs.next_step(lambda name: name != 'rr') == 2 * P     # rr's unit is gone
    inputs.answer('rr', 0)                         # an older answer does not count
    assert inputs.next_step(everyone) is None
    inputs.answer('rr', P)
    assert inputs.next_step(everyone) == 2 * P
    inputs.answer('rr', 0)                         # nor does it undo a newer one
    assert inputs.next_step(everyone) == 2 * P


def test_a_reading_older_than_the_last_step_says_sim_time_started_again():
    inputs = StepInputs(WHEELS, STREAMS)
    assert not inputs.reading('lf', P)
    period(inputs, P)
    inputs.step(P)
    assert not inputs.reading('lf', 2 * P)
    assert inputs.reading('lf', P // 2)


def test_a_reset_goes_once_its_unit_answered_the_step_and_the_odometry_waits_for_it():
    resets = ResetsOwed()
    answered = dict.fromkeys(WHEELS, P)
    resets.ask('lf', 2 * P)
    resets.ask('rm', 2 * P)
    assert resets.to_send(answered) == []
    assert resets.hold_odometry()
    answered['lf'] = 2 * P
    assert resets.to_send(answered) == ['lf']
    assert resets.to_send(answered) == []          # sent once
    answered['rm'] = 3 * P
    assert resets.to_send(answered) == ['rm']
    assert not resets.answered()                   # one of two answered
    assert resets.answered()                       # the last: the held odometry goes
    assert not resets.hold_odometry()
    assert not resets.answered()                   # nothing held, nothing to publish


def test_a_reset_whose_unit_left_is_dropped_and_counts_as_answered():
    resets = ResetsOwed()
    resets.ask('lf', P)
    resets.ask('rr', P)
    assert resets.hold_odometry()
    assert resets.drop_gone(lambda w: w != 'rr') == [('rr', P)]
    assert resets.drop_gone(lambda w: w != 'rr') == []
    assert not resets.answered()                   # lf's is still open
    assert resets.to_send(dict.fromkeys(WHEELS, P)) == ['lf']
    assert resets.answered()


def test_odometry_is_not_held_without_a_reset_open():
    resets = ResetsOwed()
    assert not resets.hold_odometry()
    resets.ask('lf', P)
    assert resets.to_send(dict.fromkeys(WHEELS, P)) == ['lf']
    assert resets.answered() is False              # answered before any step held it
    assert not resets.hold_odometry()
