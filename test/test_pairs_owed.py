"""drive/pairs_owed.py: the stereo pairs a control step waits for in simulation (no ROS)."""
from chang_e_rover.drive.pairs_owed import PairsOwed

MS = 1_000_000
LATENCY = 500 * MS      # hazard.map_latency_s


def answering(pairs: PairsOwed, at: int = 0) -> PairsOwed:
    """The pipeline has answered a first pair (with nothing), so it owes the next ones."""
    pairs.taken(at)
    pairs.answered(at, 'none')
    assert pairs.ready(at + LATENCY, True)
    return pairs


def test_a_pipeline_that_has_not_answered_yet_owes_nothing():
    pairs = PairsOwed(LATENCY)
    pairs.taken(1000 * MS)
    assert pairs.ready(1500 * MS, True), 'not known to read the frames before its first answer'


def test_the_due_step_waits_for_the_answer_then_for_every_output_it_names():
    pairs = answering(PairsOwed(LATENCY))
    pairs.taken(1000 * MS)
    assert pairs.ready(1450 * MS, True), 'a step before the pair is due does not wait'
    assert not pairs.ready(1500 * MS, True), 'the due step waits for the answer'
    pairs.answered(1000 * MS, 'visual_odom hazard/map')
    assert not pairs.ready(1500 * MS, True), 'and for both outputs the answer names'
    pairs.output('hazard/map', 1000 * MS)
    pairs.output('visual_odom', 900 * MS)       # an older pair's step does not count
    assert not pairs.ready(1500 * MS, True)
    pairs.output('visual_odom', 1000 * MS)
    assert pairs.ready(1500 * MS, True)


def test_an_answer_of_none_owes_no_output():
    pairs = answering(PairsOwed(LATENCY))
    pairs.taken(1000 * MS)
    pairs.answered(1000 * MS, 'none')
    assert pairs.ready(1500 * MS, True)


def test_a_pair_never_answered_is_replaced_by_a_newer_answer():
    pairs = answering(PairsOwed(LATENCY))
    pairs.taken(1000 * MS)
    pairs.taken(2000 * MS)
    assert not pairs.ready(1500 * MS, True)
    pairs.answered(2000 * MS, 'hazard/map')
    assert pairs.ready(1500 * MS, True), 'the older pair was replaced with nothing'
    assert not pairs.ready(2500 * MS, True), 'the newer one still owes its map'
    pairs.output('hazard/map', 2000 * MS)
    assert pairs.ready(2500 * MS, True)


def test_a_pipeline_gone_owes_nothing_until_it_answers_again():
    pairs = answering(PairsOwed(LATENCY))
    pairs.taken(1000 * MS)
    assert pairs.ready(1500 * MS, False), 'a pipeline off the graph is not waited for'
    pairs.taken(2000 * MS)
    assert pairs.ready(2500 * MS, True), 'one that comes back owes from its first answer on'
    pairs.taken(3000 * MS)
    pairs.answered(3000 * MS, 'none')
    pairs.taken(4000 * MS)
    assert not pairs.ready(4500 * MS, True)


def test_a_rebuilt_world_owes_nothing_of_the_old_one():
    pairs = answering(PairsOwed(LATENCY), at=9000 * MS)
    pairs.taken(10000 * MS)
    pairs.answered(10000 * MS, 'hazard/map')
    pairs.output('hazard/map', 10000 * MS)
    pairs.restart()
    assert pairs.ready(10500 * MS, True), 'the old pair is forgotten'
    pairs.taken(1000 * MS)                     # sim time from the start again
    assert not pairs.ready(1500 * MS, True), 'the new world owes its own pairs'
    pairs.answered(1000 * MS, 'hazard/map')
    assert not pairs.ready(1500 * MS, True), 'the old world map stamp does not count'
    pairs.output('hazard/map', 1000 * MS)
    assert pairs.ready(1500 * MS, True)
