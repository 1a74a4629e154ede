"""Uplink at the relay: refusal reports the ground can match, their rate, key files, rotation.

No ROS except the last test (a relay node refusing to start).
"""
import os
import struct

import pytest

from chang_e_rover.config import ConfigError
from chang_e_rover.relay import endpoint as endpoint_module, packets
from chang_e_rover.relay.endpoint import (
    ACCEPT_FAILED, ACCEPTED, CODES, RelayEndpoint, TokenBucket, Verification, VERIFICATION_TOPIC,
    VERIFICATION_TYPE)
from chang_e_rover.relay.keys import load_key_ring, read_key, write_key
from chang_e_rover.relay.packets import AckRange, Product
from chang_e_rover.relay.store import Store
from chang_e_rover.relay.telecommands import ArgLimits, BY_NAME, encode_args

KEY = bytes(range(32))
NEXT = bytes(range(100, 132))
LIMITS = ArgLimits(100.0, {'pancam': (-3.1, 3.1), 'tcam': (-3.14, 3.14)},
                   {'pancam': (-1.2, 1.2), 'tcam': (-0.6, 1.2)})
GOAL = BY_NAME['drive_goal'].code


class Relay:
    """A relay endpoint with its own store, not started (no thread): fed by hand."""

    def __init__(self, path, **kwargs):
        self.store = Store(path / 'store.sqlite', 'NORMAL')
        kwargs.setdefault('refusal_reports_per_s', 1e9)
        self.ep = RelayEndpoint(self.store, KEY, LIMITS, 0, ('127.0.0.1', 9), 555000, 1024,
                                64, 1024, lambda tc: None, **kwargs)

    def products(self):
        out = []
        while (raw := self.store.next_packet(1.0)) is not None:
            seg = packets.decode_tm(raw)
            out.append((seg, Product.decode(seg.data)))
        return out

    def reports(self):
        return [Verification.decode(p.body) for _, p in self.products()
                if p.type_name == VERIFICATION_TYPE]

    def close(self):
        self.ep.stop()
        self.store.close()


@pytest.fixture
def relay(tmp_path):
    r = Relay(tmp_path)
    yield r
    r.close()


def tc(seq, key=KEY, name='drive_goal', **args):
    args = args or ({'x_m': 1.0, 'y_m': 0.0} if name == 'drive_goal' else {})
    return packets.encode_uplink(packets.APID_TELECOMMAND, seq, encode_args(name, **args), key)


def ack(seq, key=KEY):
    return packets.encode_uplink(packets.APID_ACK, seq,
                                 packets.encode_ack_body([AckRange(0x20, 1, 0)]), key)


def reseal(raw: bytes) -> bytes:
    """Recompute the CRC, as a sender that built a wrong packet would."""
    return raw[:-2] + struct.pack('>H', packets.crc16(raw[:-2]))


# ---- refusal reports name what the packet claimed -------------------------------------------
def test_refusals_carry_the_sequence_number_and_opcode_the_packet_claimed(relay):
    good = tc(41)
    longer_field = bytearray(good)
    longer_field[4:6] = struct.pack('>H', len(good) - 6)       # one more than it holds
    flipped = bytearray(good)
    flipped[20] ^= 0x01                                        # a bit error in the body
    cases = [
        (tc(41, key=b'x' * 32), 'bad_tag', (41, GOAL)),        # forged
        (good[:30], 'bad_length', (41, GOAL)),                 # truncated, tag gone
        (good[:11], 'bad_length', (41, GOAL)),                 # just the opcode left
        (good + b'\0\0', 'bad_length', (41, GOAL)),            # trailing bytes
        (bytes(longer_field), 'bad_length', (41, GOAL)),       # length field says more
        (bytes(flipped), 'bad_crc', (41, GOAL)),
        (good[:10], 'bad_length', (41, 0)),                    # seq, no opcode byte
        (good[:9], 'bad_length', (0, 0)),                      # too short to hold a seq
        (tc(42, name='stop')[:20], 'bad_length', (42, BY_NAME['stop'].code)),
        (ack(43, key=b'x' * 32), 'bad_tag', (43, 0)),          # acks have no opcode
    ]
    for raw, _, _ in cases:
        assert relay.ep.handle_uplink(raw) is None
    got = [(r.kind, r.code, (r.seq, r.opcode)) for r in relay.reports()]
    assert got == [(ACCEPT_FAILED, CODES[code], claim) for _, code, claim in cases]
    assert relay.ep.tc_refused == len(cases) and relay.ep.tc_accepted == 0


def test_an_empty_telecommand_body_claims_no_opcode(relay):
    # The length field leaves no room for a body: byte 10 is the tag's, not an opcode.
    raw = packets.encode_uplink(packets.APID_TELECOMMAND, 7, b'', KEY)
    assert packets.uplink_claims(raw) == (7, 0)
    relay.ep.handle_uplink(raw)
    (r,) = relay.reports()
    assert (r.seq, r.opcode, r.code) == (7, 0, CODES['bad_length'])


def test_reports_are_stamped_by_the_relay_clock_on_the_verification_topic(tmp_path):
    r = Relay(tmp_path, clock_ns=lambda: 123_456_789)
    try:
        r.ep.handle_uplink(tc(1))
        ((seg, product),) = r.products()
        assert seg.apid == packets.APID_VERIFICATION and seg.time_ns == 123_456_789
        assert product.topic == VERIFICATION_TOPIC == '/lander/relay/verification'
        assert Verification.decode(product.body).kind == ACCEPTED
    finally:
        r.close()


# ---- the refusal report rate -----------------------------------------------------------------
def test_token_bucket_passes_its_burst_then_its_rate():
    b = TokenBucket(rate=1.0, burst=5, now=100.0)
    assert [b.take(100.0) for _ in range(7)] == [True] * 5 + [False] * 2
    assert not b.take(100.9)
    assert b.take(101.0) and not b.take(101.0)
    assert [b.take(103.5) for _ in range(3)] == [True, True, False]   # 2.5 s: two tokens
    assert sum(b.take(1000.0) for _ in range(20)) == 5                 # full again, no more
    for bad in ((0.0, 5), (float('nan'), 5), (1.0, 0), (1.0, 2.5)):
        with pytest.raises(ValueError):
            TokenBucket(*bad, now=0.0)


def test_a_burst_of_refusals_reports_the_burst_and_counts_the_rest(tmp_path, monkeypatch):
    now = [50.0]
    monkeypatch.setattr(endpoint_module.time, 'monotonic', lambda: now[0])
    r = Relay(tmp_path, refusal_reports_per_s=1.0, refusal_report_burst=3)
    try:
        for seq in range(1, 11):                          # ten in the same instant
            r.ep.handle_uplink(tc(seq, key=b'x' * 32))
        assert [v.seq for v in r.reports()] == [1, 2, 3]
        now[0] += 2.0                                     # two seconds: two more
        for seq in range(11, 16):
            r.ep.handle_uplink(tc(seq, key=b'x' * 32))
        assert [v.seq for v in r.reports()] == [11, 12]
        assert r.ep.tc_refused == 15 and r.ep.reports_suppressed == 10
    finally:
        r.close()


# ---- key files -------------------------------------------------------------------------------
def _key_file(path, mode):
    path.write_text(KEY.hex() + '\n')
    os.chmod(path, mode)
    return path


@pytest.mark.parametrize('mode', [0o644, 0o640, 0o604, 0o620, 0o660, 0o700 | 0o004])
def test_a_key_file_open_to_others_is_refused_with_the_fix(tmp_path, mode):
    path = _key_file(tmp_path / 'telecommand.key', mode)
    with pytest.raises(ConfigError, match=f'chmod 600 {path}'):
        read_key(path)
    os.chmod(path, 0o600)
    assert read_key(path) == KEY
    os.chmod(path, 0o400)
    assert read_key(path) == KEY


def test_write_key_makes_a_private_file_also_over_an_open_one(tmp_path):
    path = _key_file(tmp_path / 'telecommand.key', 0o644)
    old = path.read_text()
    write_key(path)
    assert path.stat().st_mode & 0o777 == 0o600 and path.read_text() != old
    assert len(read_key(path)) == 32
    fresh = write_key(tmp_path / 'new' / 'telecommand.key')
    assert fresh.stat().st_mode & 0o777 == 0o600


def test_a_rotation_needs_both_its_settings(tmp_path):
    current = _key_file(tmp_path / 'a.key', 0o600)
    nxt = tmp_path / 'b.key'
    nxt.write_text(NEXT.hex())
    os.chmod(nxt, 0o600)
    with pytest.raises(ConfigError, match='no next_key_file'):
        load_key_ring(current, None, 10)
    with pytest.raises(ConfigError, match='>= 1'):
        load_key_ring(current, nxt, 0)
    os.chmod(nxt, 0o644)
    with pytest.raises(ConfigError, match='chmod 600'):
        load_key_ring(current, nxt, 10)
    os.chmod(nxt, 0o600)
    ring = load_key_ring(current, nxt, 10)
    assert (ring.current, ring.next, ring.next_from_seq) == (KEY, NEXT, 10)


# ---- key rotation ----------------------------------------------------------------------------
def test_rotation_accepts_both_keys_then_refuses_the_old_one_across_a_restart(tmp_path):
    r = Relay(tmp_path, next_key=NEXT, next_key_from_seq=10)
    try:
        assert r.ep.handle_uplink(tc(1, KEY)) is not None          # old key, below 10
        assert r.ep.handle_uplink(tc(2, NEXT)) is not None         # next key, any number
        r.ep.handle_uplink(ack(1, KEY))
        r.ep.handle_uplink(ack(2, NEXT))
        assert r.ep.acks == 2
        assert r.ep.handle_uplink(tc(10, KEY)) is None             # from 10 only the next key
        assert r.ep.window.highest == 2, 'a refused tag uses up no sequence number'
        assert r.ep.handle_uplink(tc(10, NEXT)) is not None        # closes the window
        assert r.ep.handle_uplink(tc(3, KEY)) is None              # old key, even below 10
        r.ep.handle_uplink(ack(3, KEY))
        assert r.ep.acks == 2
        assert r.ep.handle_uplink(tc(4, NEXT)) is not None
        reports = [(v.seq, v.kind, v.code) for v in r.reports()]
        bad_tag = CODES['bad_tag']
        assert reports == [(1, ACCEPTED, 0), (2, ACCEPTED, 0), (10, ACCEPT_FAILED, bad_tag),
                           (10, ACCEPTED, 0), (3, ACCEPT_FAILED, bad_tag),
                           (3, ACCEPT_FAILED, bad_tag), (4, ACCEPTED, 0)]
        assert r.ep.keys.describe(r.ep.window.highest) == 'next key only (current retired)'
    finally:
        r.close()
    # Restarted with the same settings: the store's replay window says the old key is retired.
    again = Relay(tmp_path, next_key=NEXT, next_key_from_seq=10)
    try:
        assert again.ep.handle_uplink(tc(5, KEY)) is None
        assert again.ep.handle_uplink(tc(5, NEXT)) is not None
    finally:
        again.close()


def test_a_copy_of_the_next_key_over_the_current_one_is_not_refused(tmp_path):
    # A shared state folder: the ground's new key written over the file the relay reads.
    r = Relay(tmp_path, next_key=KEY, next_key_from_seq=3)
    try:
        assert r.ep.handle_uplink(tc(3, KEY)) is not None
        assert r.ep.handle_uplink(tc(4, KEY)) is not None
    finally:
        r.close()


def test_the_relay_node_does_not_start_with_a_key_open_to_others(ros, tmp_path):
    from rclpy.parameter import Parameter

    from chang_e_rover import graph
    path = _key_file(tmp_path / 'open.key', 0o644)
    factory = graph.find('/lander/relay').load_factory()
    with pytest.raises(ConfigError, match=f'chmod 600 {path}'):
        factory(namespace='lander', context=ros.context,
                parameter_overrides=[Parameter('key_file', value=str(path))])
