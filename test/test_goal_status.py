"""A goal's status as data (navigation/goal_status.py): it round-trips; bad input is refused."""
import math

import pytest

from chang_e_rover.navigation.goal_status import (GoalState, GoalStatus, GoalStatusError,
                                                  LEVELS, state_of)

STATUSES = [
    GoalStatus(GoalState.NONE),
    GoalStatus(GoalState.ACTIVE, 5.0, -0.25, 1_700_000_000_123_456_789, 4.321),
    GoalStatus(GoalState.HELD, 0.1 + 0.2, 1e-9, 7, 2.0 / 3.0,
               reason='no headway in 60 s (1.23 m from the goal): backing off'),
    GoalStatus(GoalState.REACHED, -3.3, 7.7, 0, 0.0999999),
    GoalStatus(GoalState.REACHED_SHORT, 12.5, 3.0, 42, 0.18343, 0.18343),
    GoalStatus(GoalState.FAILED, 1.0, 2.0, -5, 2.2, reason="goal in frame 'map' refused"),
]


@pytest.mark.parametrize('status', STATUSES, ids=lambda s: s.state.value)
def test_values_round_trip_exactly(status):
    values = status.to_values()
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in values)
    assert len({k for k, _ in values}) == len(values), 'each key once'
    assert GoalStatus.from_values(values) == status
    assert GoalStatus.from_values(dict(values)) == status
    assert GoalStatus.from_values(reversed(values)) == status, 'order does not matter'


def test_numbers_come_back_bit_for_bit():
    for x in (0.1, 1 / 3, math.pi * 1e6, 5e-324, -0.0, 123456.789012345):
        back = GoalStatus.from_values(GoalStatus(GoalState.ACTIVE, x, -x, 1, abs(x)).to_values())
        assert back.x_m.hex() == float(x).hex() and back.distance_m.hex() == abs(x).hex()


def test_every_state_has_a_level_and_the_wire_names_are_the_documented_ones():
    assert set(LEVELS) == set(GoalState)
    assert {s.value for s in GoalState} == {'NONE', 'ACTIVE', 'HELD', 'REACHED',
                                             'REACHED_SHORT', 'FAILED'}
    assert [s for s in GoalState if s.under_way] == [GoalState.ACTIVE, GoalState.HELD]
    assert [s for s in GoalState if s.arrived] == [GoalState.REACHED, GoalState.REACHED_SHORT]


@pytest.mark.parametrize('state', ['reached', 'DONE', '', ' ACTIVE', '(5.00, 0.00) reached'])
def test_an_unknown_state_is_refused_by_name(state):
    values = dict(STATUSES[1].to_values(), state=state)
    with pytest.raises(GoalStatusError, match='unknown goal state') as err:
        GoalStatus.from_values(values)
    assert 'REACHED_SHORT' in str(err.value), 'the message lists the states expected'
    assert isinstance(err.value, ValueError)


@pytest.mark.parametrize('key, value', [('x_m', 'five'), ('y_m', 'nan'), ('distance_m', 'inf'),
                                        ('short_by_m', '-0.1'), ('distance_m', '-1.0'),
                                        ('stamp_ns', '1.5'), ('stamp_ns', 'x')])
def test_a_bad_number_is_refused_naming_its_key(key, value):
    values = dict(STATUSES[1].to_values(), **{key: value})
    with pytest.raises(GoalStatusError, match=key):
        GoalStatus.from_values(values)


def test_a_missing_key_is_refused_and_extra_keys_are_ignored():
    values = dict(STATUSES[2].to_values())
    del values['reason']
    with pytest.raises(GoalStatusError, match='without reason'):
        GoalStatus.from_values(values)
    extra = dict(STATUSES[2].to_values(), note='for people')
    assert GoalStatus.from_values(extra) == STATUSES[2]


def test_reasons_and_shortfalls_belong_to_their_states():
    with pytest.raises(GoalStatusError, match='say why'):
        GoalStatus(GoalState.FAILED, 1.0, 2.0)
    with pytest.raises(GoalStatusError, match='say why'):
        GoalStatus(GoalState.REACHED, 1.0, 2.0, reason='because')
    with pytest.raises(GoalStatusError, match='only REACHED_SHORT'):
        GoalStatus(GoalState.REACHED, 1.0, 2.0, short_by_m=0.1)
    with pytest.raises(GoalStatusError, match='not a GoalState'):
        GoalStatus('ACTIVE', 1.0, 2.0)
    with pytest.raises(GoalStatusError, match='x_m'):
        GoalStatus(GoalState.ACTIVE, math.nan, 2.0)


def test_a_status_is_matched_to_its_goal_by_point_and_stamp():
    s = STATUSES[1]             # ACTIVE (5.0, -0.25), stamp 1_700_000_000_123_456_789
    assert s.is_for(5.0, -0.25) and s.is_for(5.0005, -0.25)
    assert not s.is_for(5.01, -0.25)
    assert s.is_for(5.0, -0.25, s.stamp_ns) and not s.is_for(5.0, -0.25, s.stamp_ns + 1)
    assert not GoalStatus(GoalState.NONE).is_for(0.0, 0.0)
    assert state_of(s, 5.0, -0.25) is GoalState.ACTIVE
    assert state_of(s, 4.0, -0.25) is GoalState.NONE and state_of(None, 5.0, -0.25) is \
        GoalState.NONE


def test_the_same_report_but_for_the_distance_is_not_a_change():
    a = STATUSES[1]
    assert a.same_report(GoalStatus(GoalState.ACTIVE, 5.0, -0.25, a.stamp_ns, 1.0))
    assert not a.same_report(None)
    assert not a.same_report(GoalStatus(GoalState.HELD, 5.0, -0.25, a.stamp_ns, 1.0,
                                        reason='backing off'))
    assert not a.same_report(GoalStatus(GoalState.ACTIVE, 5.0, -0.25, a.stamp_ns + 1, 1.0))
