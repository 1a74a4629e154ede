"""CCSDS codec, telecommand checks, anti-replay window and the persistent store (no ROS)."""
import os
import random
import struct

from hypothesis import given, HealthCheck, settings, strategies as st
import pytest

from chang_e_rover.relay import packets
from chang_e_rover.relay.endpoint import (
    ACCEPT_FAILED, ACCEPTED, RelayEndpoint, Verification, VERIFICATION_TYPE)
from chang_e_rover.relay.packets import AckRange, PacketError, Product, TmSegment
from chang_e_rover.relay.store import Store
from chang_e_rover.relay.telecommands import (
    ArgLimits, decode, encode_args, ReplayWindow, TELECOMMANDS)

KEY = bytes(range(32))
LIMITS = ArgLimits(100.0, {'pancam': (-3.1, 3.1), 'tcam': (-3.14, 3.14)},
                   {'pancam': (-1.2, 1.2), 'tcam': (-0.6, 1.2)})


def test_crc_is_ccitt_false():
    assert packets.crc16(b'123456789') == 0x29B1     # the standard check value


@given(st.binary(max_size=3000), st.integers(1, 0x7FE), st.integers(1, 2**32 - 1),
       st.integers(0, 2**63))
def test_telemetry_round_trips(data, apid, seq, time_ns):
    seg = TmSegment(apid, seq, 7, 0, 1, time_ns, data)
    assert packets.decode_tm(seg.encode()) == seg


def test_every_single_bit_flip_is_caught():
    raw = TmSegment(0x20, 12345, 3, 1, 4, 99, bytes(range(200))).encode()
    for bit in range(len(raw) * 8):
        bad = bytearray(raw)
        bad[bit // 8] ^= 0x80 >> (bit % 8)
        with pytest.raises(PacketError):
            packets.decode_tm(bytes(bad))


def test_segmenting_a_product_reassembles_it():
    product = Product('/rover/pancam/image_raw', 'sensor_msgs/msg/CompressedImage',
                      os.urandom(5000), invalid=True, reason='saturated')
    pieces = packets.segment_product(product.encode(), 1024)
    assert len(pieces) == 6 and all(len(p) <= 1024 - packets.TM_OVERHEAD for p in pieces)
    raws = [TmSegment(0x41, 10 + i, 1, i, len(pieces), 5, p).encode()
            for i, p in enumerate(pieces)]
    assert all(len(r) <= 1024 for r in raws)
    segs = [packets.decode_tm(r) for r in raws]
    assert Product.decode(b''.join(s.data for s in segs)) == product


def test_ack_round_trips_and_lists_what_is_missing():
    r = AckRange(0x20, 100, 110, ((0, 1), (3, 1), (7, 2)))
    (back,) = packets.decode_ack_body(packets.encode_ack_body([r]))
    assert back == r
    assert back.missing() == [100, 103, 107, 108]
    assert back.held() == [101, 102, 104, 105, 106, 109, 110]
    assert AckRange(0x20, 5, 4).missing() == [] and AckRange(0x20, 5, 4).held() == []
    for runs in (((1, 1),), ((0, 2), (1, 1)), ((0, 20),), ((0, 0),), ()):
        with pytest.raises(PacketError):
            packets.decode_ack_body(packets.encode_ack_body([AckRange(0x20, 100, 110, runs)]))


def test_telecommand_args_are_range_checked():
    assert decode(1, encode_args('drive_goal', x_m=5.0, y_m=-2.0), LIMITS).args == {
        'x_m': 5.0, 'y_m': -2.0}
    bad = [encode_args('drive_goal', x_m=float('nan'), y_m=0.0),
           encode_args('drive_goal', x_m=1e9, y_m=0.0),
           encode_args('wheel_enable', wheel=6, enable=1),
           encode_args('wheel_enable', wheel=0, enable=2),
           encode_args('point_camera', camera=0, pan_rad=0.0, tilt_rad=1.5),
           encode_args('point_camera', camera=2, pan_rad=0.0, tilt_rad=0.0),
           encode_args('set_mode', mode=9),
           bytes([0x7E]),                                   # unknown opcode
           encode_args('stop') + b'\x00']                   # trailing bytes
    for body in bad:
        with pytest.raises(PacketError) as info:
            decode(1, body, LIMITS)
        assert info.value.code in ('bad_arguments', 'unknown_opcode')


def test_replay_window_refuses_reuse_and_far_numbers():
    w = ReplayWindow(behind=64, ahead=1024)
    for seq in (1, 2, 5, 4):          # out of order within the window is fine
        w.check(seq)
        w.accept(seq)
    for seq, code in ((5, 'replay'), (1, 'replay'), (0, 'out_of_window'),
                      (5 + 1025, 'out_of_window')):
        with pytest.raises(PacketError) as info:
            w.check(seq)
        assert info.value.code == code
    w.check(3)                        # never used, still inside the window
    w.check(200)
    w.accept(200)
    with pytest.raises(PacketError) as info:
        w.check(3)                    # now older than the window
    assert info.value.code == 'out_of_window'


class Endpoint:
    """A relay endpoint with its own store, not started (no thread): fed by hand."""

    def __init__(self, tmp_path, accepted):
        self.store = Store(tmp_path / 'store.sqlite', 'NORMAL')
        self.ep = RelayEndpoint(self.store, KEY, LIMITS, 0, ('127.0.0.1', 9), 555000, 1024,
                                64, 1024, accepted.append, refusal_reports_per_s=1e9)

    def reports(self):
        out = []
        while (raw := self.store.next_packet(1.0)) is not None:
            seg = packets.decode_tm(raw)
            product = Product.decode(seg.data)
            if product.type_name == VERIFICATION_TYPE:
                out.append(Verification.decode(product.body))
        return out

    def close(self):
        self.ep.stop()
        self.store.close()


def valid_tc(seq, name='stop', **args):
    return packets.encode_uplink(packets.APID_TELECOMMAND, seq, encode_args(name, **args), KEY)


def test_valid_telecommand_is_accepted_once_and_its_replay_refused(tmp_path):
    accepted = []
    e = Endpoint(tmp_path, accepted)
    raw = valid_tc(1, 'drive_goal', x_m=3.0, y_m=0.0)
    assert e.ep.handle_uplink(raw) is not None
    assert e.ep.handle_uplink(raw) is None                  # the replay
    assert [t.name for t in accepted] == ['drive_goal']
    kinds = [(r.seq, r.kind, r.code) for r in e.reports()]
    assert kinds == [(1, ACCEPTED, 0), (1, ACCEPT_FAILED, 5)]
    e.close()
    # A restarted relay still refuses it: the window is persistent.
    again = []
    e2 = Endpoint(tmp_path, again)
    assert e2.ep.handle_uplink(raw) is None and again == []
    e2.close()


def test_wrong_key_and_ack_forgery_are_refused(tmp_path):
    accepted = []
    e = Endpoint(tmp_path, accepted)
    e.store.enqueue(0x20, 1, Product('t', 'x/y', b'data'), 0, 1024)
    forged = packets.encode_uplink(packets.APID_TELECOMMAND, 1, encode_args('stop'), b'x' * 32)
    fake_ack = packets.encode_uplink(packets.APID_ACK, 1, packets.encode_ack_body(
        [AckRange(0x20, 2, 1)]), b'x' * 32)
    assert e.ep.handle_uplink(forged) is None and e.ep.handle_uplink(fake_ack) is None
    assert accepted == [] and e.store.stats()[0] == 1 + 2    # data kept, two refusal reports
    assert [r.code for r in e.reports()][-2:] == [4, 4]      # bad_tag
    e.close()


def mutate(raw: bytes, rng: random.Random) -> bytes:
    b = bytearray(raw)
    kind = rng.randrange(5)
    if kind == 0:
        for _ in range(rng.randint(1, 4)):
            i = rng.randrange(len(b) * 8)
            b[i // 8] ^= 0x80 >> (i % 8)
    elif kind == 1:
        del b[rng.randrange(len(b)):]
    elif kind == 2:
        b += os.urandom(rng.randint(1, 40))
    elif kind == 3:
        i = rng.randrange(len(b))
        b[i:i + rng.randint(1, 8)] = os.urandom(rng.randint(0, 8))
    else:
        # Re-seal the CRC after a change, as a careless or hostile sender would.
        i = rng.randrange(6, len(b) - 2)
        b[i] ^= rng.randint(1, 255)
        b[-2:] = struct.pack('>H', packets.crc16(bytes(b[:-2])))
    return bytes(b)


def test_ten_thousand_fuzzed_and_mutated_telecommands_are_refused(tmp_path):
    accepted = []
    e = Endpoint(tmp_path, accepted)
    genuine = [valid_tc(s, op.name, **{f: 0 for f in op.fields}) for s, op in
               enumerate(TELECOMMANDS, start=1)]
    for raw in genuine:                 # all used once: their copies are replays
        e.ep.handle_uplink(raw)
    assert len(accepted) == len(genuine)
    accepted.clear()
    count = [0]

    @settings(max_examples=5000, deadline=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(st.binary(max_size=200))
    def random_bytes(raw):
        count[0] += 1
        e.ep.handle_uplink(raw)

    @settings(max_examples=5000, deadline=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(st.sampled_from(genuine), st.randoms(use_true_random=False))
    def mutated(raw, rng):
        count[0] += 1
        e.ep.handle_uplink(mutate(raw, rng))

    random_bytes()
    mutated()
    assert count[0] >= 10_000
    assert accepted == []
    assert e.ep.tc_refused >= count[0] - 1 and e.ep.tc_accepted == len(genuine)
    e.close()


def test_store_survives_reopening_and_frees_only_what_is_acknowledged(tmp_path):
    path = tmp_path / 'q.sqlite'
    s = Store(path, 'FULL', rto_s=5.0, nak_holdoff_s=1.0)
    for i in range(10):
        s.enqueue(0x20, 1, Product('t', 'x/y', bytes([i]) * 2000), i, 1024)    # 3 packets each
    s.enqueue(0x11, 0, Product('v', 'x/y', b'report'), 0, 1024)
    first = packets.decode_tm(s.next_packet(0.0))
    assert first.apid == 0x11, 'priority 0 goes first'
    sent = [packets.decode_tm(s.next_packet(0.0)).seq for _ in range(30)]
    assert sent == list(range(1, 31)) and s.next_packet(0.5) is None
    s.close()
    s = Store(path, 'FULL', rto_s=5.0, nak_holdoff_s=1.0)     # as after SIGKILL
    assert s.stats()[0] == 31 and s.next_seq() == {0x20: 31, 0x11: 2}
    assert len([s.next_packet(1.0) for _ in range(31)]) == 31
    ranges = [AckRange(0x20, 10, 20, ((0, 1), (5, 1))), AckRange(0x11, 2, 1)]
    assert s.apply_ack(ranges, now=3.0) == 9 + 9 + 1
    # The acknowledgement timed the round trip (sent at 1.0, acknowledged at 3.0).
    assert s.rtt.srtt_s == 2.0 and s.rtt.rto_s == 6.0
    # Missing: 10 and 15 (their copies older than the round trip) are repeated at once.
    again = sorted(packets.decode_tm(s.next_packet(3.0)).seq for _ in range(2))
    assert again == [10, 15]
    # The unreported rest (21..30) is repeated only once the timer runs out, oldest first.
    assert s.next_packet(6.9) is None
    assert packets.decode_tm(s.next_packet(7.0)).seq == 21 and s.next_packet(7.0) is None
    s.close()


def test_store_refuses_bad_settings(tmp_path):
    with pytest.raises(ValueError):
        Store(tmp_path / 'x.sqlite', 'SOMETIMES')


def test_the_downlink_plan_is_read_from_config_and_refuses_the_relays_own_apids():
    from chang_e_rover import config
    from chang_e_rover.relay.downlink import plan_from_params
    p = config.load_params('relay.yaml', 'relay')
    plan = plan_from_params(p)
    assert [e.name for e in plan] == p['downlink.products']
    assert all(e.apid == p[f'downlink.{e.name}.apid'] for e in plan)
    for apid in (packets.APID_RELAY_STATUS, packets.APID_VERIFICATION, 0, 0x7FF):
        with pytest.raises(config.ConfigError, match='not usable'):
            plan_from_params({**p, f'downlink.{plan[0].name}.apid': apid})


def test_science_takes_every_message_and_housekeeping_at_most_its_rate():
    """A rate of 0 takes every message, however close they come (the relay may take a
    burst late, all at once); a rate takes at most that many a second; an image, which is
    sampled, and a negative rate are refused."""
    from chang_e_rover import config
    from chang_e_rover.relay.downlink import plan_from_params
    p = config.load_params('relay.yaml', 'relay')
    plan = {e.name: e for e in plan_from_params(p)}
    for name in ('lpr', 'naa'):
        plan[name].last_t = 10.0
        assert plan[name].every and not plan[name].too_soon(10.0)
    odom = plan['odom']
    odom.last_t = 10.0
    assert odom.too_soon(10.0 + 0.99 / odom.rate_hz) and not odom.too_soon(10.0 + 1 / odom.rate_hz)
    for name, rate in (('panorama', 0.0), ('odom', -1.0)):
        with pytest.raises(config.ConfigError, match=f'downlink.{name}.rate_hz'):
            plan_from_params({**p, f'downlink.{name}.rate_hz': rate})


def test_a_downlinked_image_is_shrunk_and_compressed():
    import cv2
    import numpy as np
    from chang_e_rover.relay.downlink import compress_image
    rgb = np.zeros((40, 60, 3), np.uint8)
    rgb[..., 0] = 200                                  # red in rgb8
    data = compress_image(rgb.tobytes(), 40, 60, 180, 'rgb8', 0.5, 'png')
    out = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert out.shape == (20, 30, 3) and (out[..., 2] == 200).all() and not out[..., :2].any()
    with pytest.raises(ValueError, match='not supported'):
        compress_image(b'', 1, 1, 2, 'mono16', 1.0, 'png')
