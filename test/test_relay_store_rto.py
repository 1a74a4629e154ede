"""The relay's repeat timer: RFC 6298 estimator, Karn's rule, what the store repeats and when.

Plain pytest on the pure core, no sockets and no clock: time is the `now` the
tests pass in.
"""
from __future__ import annotations

import math

from hypothesis import given, settings, strategies as st
import pytest

from chang_e_rover import config
from chang_e_rover.relay import packets
from chang_e_rover.relay.packets import AckRange, Product
from chang_e_rover.relay.store import RoundTripEstimator, Store

RELAY = config.load_params('relay.yaml', 'relay')
APID = 0x40


# ---- the estimator -----------------------------------------------------------------------
def test_first_sample_then_smoothing_as_rfc_6298_computes():
    est = RoundTripEstimator(15.0, 1.0, 60.0)
    assert est.rto_s == 15.0 and est.srtt_s is None
    est.sample(10.0)                    # SRTT = R, RTTVAR = R/2, RTO = SRTT + 4 RTTVAR
    assert (est.srtt_s, est.rttvar_s, est.rto_s) == (10.0, 5.0, 30.0)
    est.sample(12.0)                    # RTTVAR = 3/4 5 + 1/4 |10 - 12|; SRTT = 7/8 10 + 1/8 12
    assert est.rttvar_s == pytest.approx(4.25) and est.srtt_s == pytest.approx(10.25)
    assert est.rto_s == pytest.approx(10.25 + 4 * 4.25)


def test_timer_is_kept_within_its_bounds():
    est = RoundTripEstimator(15.0, 4.0, 20.0)
    est.sample(0.5)
    assert est.rto_s == 4.0
    est.sample(100.0)
    assert est.rto_s == 20.0


def test_timeouts_back_off_up_to_the_bound_and_a_sample_ends_it():
    est = RoundTripEstimator(10.0, 1.0, 60.0)
    seen = []
    for _ in range(5):
        est.timed_out()
        seen.append(est.rto_s)
    assert seen == [20.0, 40.0, 60.0, 60.0, 60.0] and est.timeouts == 5
    est.sample(2.0)
    assert est.rto_s == 2.0 + 4 * 1.0


@pytest.mark.parametrize('args', [(0.0, 1.0, 60.0), (15.0, -1.0, 60.0), (15.0, 1.0, 0.0),
                                  (15.0, 20.0, 10.0), (0.5, 1.0, 60.0), (90.0, 1.0, 60.0),
                                  (math.nan, 1.0, 60.0), (15.0, 1.0, math.inf),
                                  (True, 1.0, 60.0)])
def test_bad_timer_settings_are_refused(args):
    with pytest.raises(ValueError, match='retransmission timeout'):
        RoundTripEstimator(*args)


@pytest.mark.parametrize('bad', [-0.1, math.nan, math.inf, '3'])
def test_bad_samples_are_refused_and_change_nothing(bad):
    est = RoundTripEstimator(15.0, 1.0, 60.0)
    est.sample(10.0)
    with pytest.raises(ValueError, match='round trip'):
        est.sample(bad)
    assert (est.srtt_s, est.rttvar_s, est.rto_s, est.samples) == (10.0, 5.0, 30.0, 1)


samples = st.lists(st.floats(0.0, 1e4, allow_nan=False), min_size=1, max_size=60)


@settings(max_examples=200, deadline=None)
@given(samples, st.floats(0.1, 10.0), st.floats(1.0, 100.0), st.integers(0, 8))
def test_timer_stays_in_bounds_and_srtt_within_the_samples(rtts, low, span, timeouts):
    est = RoundTripEstimator(low, low, low + span)
    for r in rtts:
        est.sample(r)
        assert low <= est.rto_s <= low + span
        assert min(rtts) <= est.srtt_s <= max(rtts) and est.rttvar_s >= 0
    before = est.rto_s
    for _ in range(timeouts):
        est.timed_out()
        assert before <= est.rto_s <= low + span
    assert est.rto_s == min(low + span, before * 2 ** timeouts)


@settings(max_examples=100, deadline=None)
@given(st.floats(0.5, 100.0), st.floats(0.0, 50.0))
def test_a_steady_round_trip_is_learnt_from_any_start(rtt, first):
    est = RoundTripEstimator(1.0, 0.1, 1e4)
    est.sample(first)
    for _ in range(200):
        est.sample(rtt)
    assert est.srtt_s == pytest.approx(rtt, rel=1e-6, abs=1e-6)
    assert est.rto_s == pytest.approx(max(0.1, rtt), rel=1e-3, abs=1e-3)


# ---- the store ---------------------------------------------------------------------------
def make_store(tmp_path, **kw) -> Store:
    args = dict(rto_s=RELAY['retransmit_timeout_s'], nak_holdoff_s=RELAY['nak_holdoff_s'],
                rto_min_s=RELAY['retransmit_timeout_min_s'],
                rto_max_s=RELAY['retransmit_timeout_max_s'])
    args.update(kw)
    return Store(tmp_path / 'relay.sqlite', 'NORMAL', **args)


def put(store: Store, count: int, tag: int = 0) -> None:
    """Enqueue count one-packet products."""
    for i in range(count):
        store.enqueue(APID, 3, Product('/t', 'x/msg/Y', bytes([tag, i])), 0, 1024)


def send(store: Store, now: float) -> int | None:
    raw = store.next_packet(now)
    return None if raw is None else packets.decode_tm(raw).seq


def test_bad_store_settings_are_refused_before_anything_is_created(tmp_path):
    for kw in ({'rto_min_s': 0.0}, {'rto_max_s': -5.0}, {'nak_holdoff_s': 0.0},
               {'rto_s': 100.0, 'rto_max_s': 60.0}):
        with pytest.raises(ValueError):
            make_store(tmp_path, **kw)
    assert not (tmp_path / 'relay.sqlite').exists()


def test_config_bounds_hold_its_initial_timer():
    assert (0 < RELAY['retransmit_timeout_min_s'] <= RELAY['retransmit_timeout_s']
            <= RELAY['retransmit_timeout_max_s'])


def test_the_oldest_packet_sent_once_gives_the_sample_and_repeats_give_none(tmp_path):
    s = make_store(tmp_path, rto_s=5.0, rto_min_s=1.0)
    put(s, 4)
    assert [send(s, t) for t in (0.0, 1.0, 2.0)] == [1, 2, 3]
    assert send(s, 6.0) == 4                # fresh data before the timed-out 1
    assert send(s, 6.5) == 1 and s.repeats_timeout == 1     # 6.5 s unacknowledged: again
    # Karn: 1 was sent twice, so the sample is the age of 2, the oldest sent once.
    s.apply_ack([AckRange(APID, 4, 3)], now=9.0)
    assert s.rtt.samples == 1 and s.rtt.srtt_s == 8.0
    s.apply_ack([AckRange(APID, 5, 4)], now=9.5)
    assert s.rtt.samples == 2 and s.rtt.srtt_s == pytest.approx(7 / 8 * 8.0 + 1 / 8 * 3.5)
    assert s.stats()[0] == 0
    s.close()


def test_an_ack_without_a_time_is_timed_by_the_latest_send(tmp_path):
    s = make_store(tmp_path, rto_s=30.0)
    put(s, 2)
    send(s, 100.0)
    assert send(s, 100.5) == 2 and send(s, 110.0) is None
    s.apply_ack([AckRange(APID, 2, 1)])
    assert s.rtt.srtt_s == 10.0
    s.close()


def test_new_data_goes_before_timed_out_repeats(tmp_path):
    s = make_store(tmp_path, rto_s=4.0, rto_min_s=1.0)
    put(s, 3)
    assert [send(s, 0.0) for _ in range(3)] == [1, 2, 3]
    assert send(s, 3.9) is None
    put(s, 2, tag=1)
    assert [send(s, 5.0), send(s, 5.0)] == [4, 5], 'new data first'
    assert send(s, 5.0) == 1, 'then the oldest timed-out packet'
    # The timer backed off to 8 s: 2 and 3 (sent at 0.0) are not repeated before 8.0.
    assert s.rtt.rto_s == 8.0 and send(s, 7.9) is None and send(s, 8.0) == 2
    s.close()


def test_a_report_made_before_the_last_copy_arrived_is_set_aside(tmp_path):
    s = make_store(tmp_path, rto_s=30.0, nak_holdoff_s=8.0)
    put(s, 6)
    for i in range(6):
        send(s, 0.1 * i)
    # At 5.0 the ground reports 1 and 2 missing: the copies are 5 s old, younger than
    # the hold-off, so the report may predate their arrival.
    s.apply_ack([AckRange(APID, 1, 3, ((0, 2),))], now=5.0)
    assert s.naks_too_young == 2 and send(s, 5.0) is None
    # At 9.0 it says so again (copies 9 s old): repeated at once, ahead of new data.
    put(s, 1, tag=1)
    s.apply_ack([AckRange(APID, 1, 4, ((0, 2),))], now=9.0)
    assert [send(s, 9.0), send(s, 9.0), send(s, 9.0)] == [1, 2, 7]
    assert s.repeats_nak == 2
    # A report of 1 arriving 3 s after its repeat is about the copy before: set aside.
    s.apply_ack([AckRange(APID, 1, 6, ((0, 1),))], now=12.0)
    assert s.naks_too_young == 3 and send(s, 12.0) is None
    s.close()


def test_the_hold_off_follows_the_smoothed_round_trip(tmp_path):
    s = make_store(tmp_path, rto_s=30.0, nak_holdoff_s=8.0)
    put(s, 3)
    for i in range(3):
        send(s, float(i))
    s.apply_ack([AckRange(APID, 2, 1)], now=12.0)        # sample 12 s
    assert s.nak_holdoff() == 12.0
    s.apply_ack([AckRange(APID, 2, 2, ((0, 1),))], now=12.5)     # 2 is 11.5 s old
    assert s.naks_too_young == 1 and send(s, 12.5) is None
    s.close()


def simulate(tmp_path, products: int, period_s: float, lose_acks: frozenset = frozenset(),
             ack_bytes: int = 60, **store_args) -> tuple[Store, int, int]:
    """The relay's store over a lossless 555 kbit/s / 125 bit/s link with 1.7 s light time.

    One panorama-sized product (100 packets) every period_s; the ground acknowledges
    what it holds at most every 2 s, each ack occupying the uplink for its bits at
    125 bit/s; the acks numbered in lose_acks are lost. Return the store (made with
    store_args over the configured ones), the packets sent and the copies the ground
    received beyond the first.
    """
    light, packet_s, ack_s = 1.7, 1024 * 8 / 555000.0, ack_bytes * 8 / 125.0
    s = make_store(tmp_path, **store_args)
    arrivals: list[tuple[float, int]] = []       # (time at the ground, seq)
    acks: list[tuple[float, int]] = []           # (time at the relay, ground's next)
    held: set[int] = set()
    sent = dups = acks_made = 0
    next_send = last_ack = uplink_free = 0.0
    dirty, t, end = False, 0.0, products * period_s + 120.0
    enqueued = 0
    while t < end:
        while enqueued < products and enqueued * period_s <= t:
            for i in range(100):
                s.enqueue(APID, 3, Product('/p', 'x/msg/Y', bytes([enqueued % 256, i])),
                          0, 1024)
            enqueued += 1
        if t >= next_send:
            raw = s.next_packet(t)
            if raw is None:
                next_send = t + 0.25     # the link thread polls an idle store this often
            else:
                sent += 1
                next_send = max(next_send, t - packet_s) + packet_s
                arrivals.append((t + packet_s + light, packets.decode_tm(raw).seq))
        while arrivals and arrivals[0][0] <= t:
            seq = arrivals.pop(0)[1]
            dups += seq in held
            held.add(seq)
            dirty = True
        if dirty and t - last_ack >= 2.0 and t >= uplink_free:
            nxt = 1
            while nxt in held:
                nxt += 1
            acks_made += 1
            if acks_made not in lose_acks:
                acks.append((t + ack_s + light, nxt))
            last_ack, uplink_free, dirty = t, t + ack_s, False
        while acks and acks[0][0] <= t:
            nxt = acks.pop(0)[1]
            s.apply_ack([AckRange(APID, nxt, nxt - 1)], now=t)
        t += packet_s / 2
    return s, sent, dups


def test_a_burst_each_10_s_is_sent_once_when_acks_come_back_in_time(tmp_path):
    """The reported case: products at 0.1 Hz, acks back after 10 to 12 s."""
    s, sent, dups = simulate(tmp_path, products=10, period_s=10.0)
    assert s.stats()[0] == 0, 'all acknowledged'
    assert s.rtt.samples >= 10 and 7.0 < s.rtt.srtt_s < 14.0
    assert dups == 0 and sent == 1000 and s.repeats_timeout == 0
    s.close()


def test_a_lost_ack_costs_a_repeat_and_nothing_is_left_behind(tmp_path):
    s, sent, dups = simulate(tmp_path, products=6, period_s=10.0,
                             lose_acks=frozenset({4, 5, 6}))
    assert s.stats()[0] == 0, 'all acknowledged in the end'
    assert 1 <= s.repeats_timeout <= 3 and dups == s.repeats_timeout
    assert sent == 600 + s.repeats_timeout
    s.close()


def test_a_fixed_timer_under_the_round_trip_repeats_most_of_each_burst(tmp_path):
    """The same model with the timer pinned at 4 s: the reason it is fitted instead."""
    s, sent, dups = simulate(tmp_path, products=10, period_s=10.0, rto_s=4.0, rto_min_s=4.0,
                             rto_max_s=4.0)
    assert s.stats()[0] == 0
    assert dups == s.repeats_timeout and dups / sent > 0.5
    s.close()
