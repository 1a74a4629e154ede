"""CCSDS Space Packet codec of the lander-ground link. Pure Python: no rclpy.

Every packet is a CCSDS Space Packet (CCSDS 133.0-B-2) with a secondary header
and a 16-bit packet error control (CRC-16/CCITT-FALSE, as ECSS-E-ST-70-41C
uses) over everything before it. Three kinds travel:

- telemetry segments (TM, relay to ground): one product (a serialized ROS
  message with a small product header) cut into segments;
- telecommands (TC, ground to relay), authenticated with HMAC-SHA256;
- acknowledgements (TC type, ground to relay), also authenticated, which say
  what the ground holds so that the relay repeats only what was lost.

Layouts are in docs/interfaces.md ("Ground link"); this module is their one
implementation. Parsing refuses anything malformed with PacketError.
"""
from __future__ import annotations

from dataclasses import dataclass
import hashlib
import hmac
import struct

import fastcrc
from spacepackets.ccsds.spacepacket import (
    PacketType, SequenceFlags, SPACE_PACKET_HEADER_SIZE, SpacePacketHeader)

# Protocol APIDs (the downlink plan's product APIDs are in config/relay.yaml).
APID_RELAY_STATUS = 0x010     # TM: link and queue state, sent each second, never stored
APID_VERIFICATION = 0x011     # TM: telecommand verification reports (stored, reliable)
APID_TELECOMMAND = 0x100      # TC: telecommands
APID_ACK = 0x101              # TC: downlink acknowledgements

CRC_LEN = 2
TAG_LEN = 32                  # HMAC-SHA256, not truncated
TM_SEC_HEADER = struct.Struct('>IIHHQ')   # seq, product, segment, segments, time_ns
TM_OVERHEAD = SPACE_PACKET_HEADER_SIZE + TM_SEC_HEADER.size + CRC_LEN
MAX_PACKET_BYTES = SPACE_PACKET_HEADER_SIZE + 65536   # the CCSDS length field's limit
SEQ_COUNT_MASK = 0x3FFF

PRODUCT_INVALID = 0x01        # product flag: the data failed its validity check
STATUS_HEAD = struct.Struct('>BBIIQIIB')  # version, mode, packets, products, bytes, tc ok, tc refused, n
STATUS_APID = struct.Struct('>HII')       # apid, oldest unacknowledged seq, next seq
ACK_APID = struct.Struct('>HIIH')         # apid, next expected seq, highest covered, runs
ACK_RUN = struct.Struct('>HH')            # offset from next, count of missing seqs
STATUS_VERSION = 1
MAX_ACK_SPAN = 0xFFFF    # runs are 16-bit offsets from next


class PacketError(ValueError):
    """A packet is malformed: wrong length, CRC, header, tag or layout."""

    def __init__(self, code: str, reason: str):
        super().__init__(f'{code}: {reason}')
        self.code = code
        self.reason = reason


def crc16(data: bytes) -> int:
    """Return CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF) of data."""
    return fastcrc.crc16.ibm_3740(bytes(data))


def _header(packet_type: PacketType, apid: int, seq: int, body_len: int,
            flags: SequenceFlags = SequenceFlags.UNSEGMENTED) -> bytes:
    # The CCSDS data length field holds (octets after the primary header) - 1.
    return SpacePacketHeader(packet_type=packet_type, apid=apid, seq_count=seq & SEQ_COUNT_MASK,
                             data_len=body_len - 1, sec_header_flag=True,
                             seq_flags=flags).pack()


def _with_crc(data: bytes) -> bytes:
    return data + struct.pack('>H', crc16(data))


def _check_frame(raw: bytes, packet_type: PacketType) -> SpacePacketHeader:
    """Check length, CRC and primary header of raw; return the header."""
    if len(raw) < SPACE_PACKET_HEADER_SIZE + CRC_LEN + 1:
        raise PacketError('bad_length', f'{len(raw)} bytes is shorter than any packet')
    header = SpacePacketHeader.unpack(raw[:SPACE_PACKET_HEADER_SIZE])
    expected = SPACE_PACKET_HEADER_SIZE + header.data_len + 1
    if expected != len(raw):
        raise PacketError('bad_length', f'length field says {expected} bytes, got {len(raw)}')
    (crc,) = struct.unpack('>H', raw[-CRC_LEN:])
    if crc != crc16(raw[:-CRC_LEN]):
        raise PacketError('bad_crc', 'packet error control does not match')
    if header.ccsds_version != 0 or not header.sec_header_flag:
        raise PacketError('bad_header', 'version must be 0 with a secondary header')
    if header.packet_type != packet_type:
        raise PacketError('bad_header', f'expected a {packet_type.name} packet')
    return header


# ---- telemetry -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Product:
    """One downlinked item: a serialized ROS message and what it is."""
    topic: str
    type_name: str          # ROS type, e.g. 'nav_msgs/msg/Odometry'
    body: bytes             # CDR serialization
    invalid: bool = False
    reason: str = ''        # why it is invalid

    def encode(self) -> bytes:
        parts = [bytes([PRODUCT_INVALID if self.invalid else 0])]
        for text in (self.topic, self.type_name, self.reason):
            raw = text.encode()
            if len(raw) > 255:
                raise ValueError(f'product text field longer than 255 bytes: {text[:40]!r}...')
            parts += [bytes([len(raw)]), raw]
        return b''.join(parts) + self.body

    @classmethod
    def decode(cls, data: bytes) -> Product:
        if len(data) < 4:
            raise PacketError('bad_product', 'product shorter than its header')
        flags, pos, fields = data[0], 1, []
        for _ in range(3):
            if pos >= len(data) or pos + 1 + data[pos] > len(data):
                raise PacketError('bad_product', 'product header runs past its end')
            n = data[pos]
            try:
                fields.append(data[pos + 1:pos + 1 + n].decode())
            except UnicodeDecodeError as exc:
                raise PacketError('bad_product', 'product header is not UTF-8') from exc
            pos += 1 + n
        return cls(fields[0], fields[1], bytes(data[pos:]), bool(flags & PRODUCT_INVALID),
                   fields[2])


@dataclass(frozen=True)
class TmSegment:
    apid: int
    seq: int                # 32-bit per-APID sequence number: the key of delivery
    product: int            # per-APID product number
    segment: int
    segments: int
    time_ns: int            # product creation time
    data: bytes

    def encode(self) -> bytes:
        if self.segments == 1:
            flags = SequenceFlags.UNSEGMENTED
        elif self.segment == 0:
            flags = SequenceFlags.FIRST_SEGMENT
        elif self.segment == self.segments - 1:
            flags = SequenceFlags.LAST_SEGMENT
        else:
            flags = SequenceFlags.CONTINUATION_SEGMENT
        sec = TM_SEC_HEADER.pack(self.seq, self.product, self.segment, self.segments,
                                 self.time_ns)
        body_len = len(sec) + len(self.data) + CRC_LEN
        return _with_crc(_header(PacketType.TM, self.apid, self.seq, body_len, flags)
                         + sec + self.data)


def segment_product(payload: bytes, max_packet_bytes: int) -> list[bytes]:
    """Cut an encoded product into pieces that fit in packets of max_packet_bytes."""
    room = max_packet_bytes - TM_OVERHEAD
    if room < 16:
        raise ValueError(f'max_packet_bytes {max_packet_bytes} leaves no room for data')
    return [payload[i:i + room] for i in range(0, max(len(payload), 1), room)]


def decode_tm(raw: bytes) -> TmSegment:
    """Parse one telemetry packet; raise PacketError if it is malformed."""
    header = _check_frame(raw, PacketType.TM)
    start = SPACE_PACKET_HEADER_SIZE
    if len(raw) < start + TM_SEC_HEADER.size + CRC_LEN:
        raise PacketError('bad_length', 'telemetry packet shorter than its secondary header')
    seq, product, segment, segments, time_ns = TM_SEC_HEADER.unpack_from(raw, start)
    if segments == 0 or segment >= segments:
        raise PacketError('bad_header', f'segment {segment} of {segments}')
    if seq & SEQ_COUNT_MASK != header.seq_count:
        raise PacketError('bad_header', 'sequence count disagrees with the secondary header')
    return TmSegment(header.apid, seq, product, segment, segments, time_ns,
                     bytes(raw[start + TM_SEC_HEADER.size:-CRC_LEN]))


@dataclass(frozen=True)
class RelayStatus:
    """The relay's state, sent once a second outside the reliable queue."""
    mode: int
    queued_packets: int
    queued_products: int
    queued_bytes: int
    tc_accepted: int
    tc_refused: int
    next_seq: dict[int, int]      # per APID: the next sequence number it will assign
    first_seq: dict[int, int]     # per APID: the oldest not yet acknowledged (= next if none)

    def encode(self, counter: int) -> bytes:
        body = STATUS_HEAD.pack(STATUS_VERSION, self.mode, self.queued_packets,
                                self.queued_products, self.queued_bytes, self.tc_accepted,
                                self.tc_refused, len(self.next_seq))
        body += b''.join(STATUS_APID.pack(a, self.first_seq.get(a, s), s)
                         for a, s in sorted(self.next_seq.items()))
        return TmSegment(APID_RELAY_STATUS, counter, 0, 0, 1, 0, body).encode()

    @classmethod
    def decode(cls, data: bytes) -> RelayStatus:
        if len(data) < STATUS_HEAD.size:
            raise PacketError('bad_length', 'relay status too short')
        version, mode, packets, products, nbytes, ok, refused, n = STATUS_HEAD.unpack_from(data)
        if version != STATUS_VERSION or len(data) != STATUS_HEAD.size + n * STATUS_APID.size:
            raise PacketError('bad_length', 'relay status layout')
        entries = [STATUS_APID.unpack_from(data, STATUS_HEAD.size + i * STATUS_APID.size)
                   for i in range(n)]
        return cls(mode, packets, products, nbytes, ok, refused,
                   {a: n for a, _, n in entries}, {a: f for a, f, _ in entries})


# ---- uplink: telecommands and acknowledgements -----------------------------------------------
def _sign(key: bytes, data: bytes) -> bytes:
    return hmac.new(key, data, hashlib.sha256).digest()


def encode_uplink(apid: int, seq: int, body: bytes, key: bytes) -> bytes:
    """Return a signed uplink packet: header, seq, body, HMAC-SHA256 tag, CRC."""
    head = _header(PacketType.TC, apid, seq, 4 + len(body) + TAG_LEN + CRC_LEN)
    signed = head + struct.pack('>I', seq) + body
    return _with_crc(signed + _sign(key, signed))


def decode_uplink(raw: bytes, keys: tuple[bytes, ...]) -> tuple[int, int, bytes, bytes]:
    """Check an uplink packet's frame and tag; return (apid, seq, body, the key that signed it).

    The tag is checked against each of keys in turn; the first that matches is returned.
    """
    header = _check_frame(raw, PacketType.TC)
    if len(raw) < SPACE_PACKET_HEADER_SIZE + 4 + TAG_LEN + CRC_LEN:
        raise PacketError('bad_length', 'uplink packet shorter than seq and tag')
    signed, tag = raw[:-CRC_LEN - TAG_LEN], raw[-CRC_LEN - TAG_LEN:-CRC_LEN]
    key = next((k for k in keys if hmac.compare_digest(tag, _sign(k, signed))), None)
    if key is None:
        raise PacketError('bad_tag', 'HMAC-SHA256 tag does not match')
    (seq,) = struct.unpack_from('>I', raw, SPACE_PACKET_HEADER_SIZE)
    if seq & SEQ_COUNT_MASK != header.seq_count:
        raise PacketError('bad_header', 'sequence count disagrees with the secondary header')
    if header.apid not in (APID_TELECOMMAND, APID_ACK):
        raise PacketError('bad_header', f'unknown uplink APID {header.apid:#x}')
    return header.apid, seq, bytes(signed[SPACE_PACKET_HEADER_SIZE + 4:]), key


def uplink_claims(raw: bytes) -> tuple[int, int]:
    """Return the (seq, opcode) an uplink packet claims, 0 for each it does not hold.

    Read where the layout puts them, trusting nothing, so that a refusal report
    names what the ground sent even when the frame, CRC or tag is bad. The seq
    needs the frame to reach byte 10; the opcode, a telecommand header (type TC,
    APID 0x100) whose length field leaves room for a body, and a byte 10.
    Sequence numbers and opcodes start at 1, so 0 never names a real one.
    """
    start = SPACE_PACKET_HEADER_SIZE
    if len(raw) < start + 4:
        return 0, 0
    (seq,) = struct.unpack_from('>I', raw, start)
    header = SpacePacketHeader.unpack(raw[:start])
    body_len = header.data_len + 1 - 4 - TAG_LEN - CRC_LEN
    is_tc = header.packet_type == PacketType.TC and header.apid == APID_TELECOMMAND
    opcode = raw[start + 4] if is_tc and body_len >= 1 and len(raw) > start + 4 else 0
    return seq, opcode


@dataclass(frozen=True)
class AckRange:
    """What the ground holds of one APID, as a CFDP-style NAK list of missing runs.

    Held: every seq below `next`, and every seq from next to `high` outside the
    missing runs (offset from next, count). If high >= next, the first run
    starts at offset 0: `next` is by definition the first one missing. The
    ground truncates `high` to keep the packet small.
    """
    apid: int
    next: int
    high: int                                   # next - 1 when nothing past next is held
    runs: tuple[tuple[int, int], ...] = ()      # (offset from next, count) of missing seqs

    def held(self) -> list[int]:
        skip = set(self.missing())
        return [s for s in range(self.next, self.high + 1) if s not in skip]

    def missing(self) -> list[int]:
        """Sequence numbers the ground has seen past but not received."""
        return [self.next + off + i for off, count in self.runs for i in range(count)]


def encode_ack_body(ranges: list[AckRange]) -> bytes:
    out = [bytes([len(ranges)])]
    for r in ranges:
        out.append(ACK_APID.pack(r.apid, r.next, r.high, len(r.runs)))
        out.append(b''.join(ACK_RUN.pack(off, count) for off, count in r.runs))
    return b''.join(out)


def decode_ack_body(body: bytes) -> list[AckRange]:
    if not body:
        raise PacketError('bad_length', 'empty acknowledgement')
    n, pos, ranges = body[0], 1, []
    for _ in range(n):
        if pos + ACK_APID.size > len(body):
            raise PacketError('bad_length', 'acknowledgement truncated')
        apid, nxt, high, nruns = ACK_APID.unpack_from(body, pos)
        pos += ACK_APID.size
        if pos + ACK_RUN.size * nruns > len(body):
            raise PacketError('bad_length', 'acknowledgement run list truncated')
        runs = tuple(ACK_RUN.unpack_from(body, pos + ACK_RUN.size * i) for i in range(nruns))
        pos += ACK_RUN.size * nruns
        if high - nxt > MAX_ACK_SPAN or high < nxt - 1:
            raise PacketError('bad_arguments', 'acknowledgement range is inconsistent')
        end = 0
        for i, (off, count) in enumerate(runs):
            if count == 0 or off < end or (i == 0 and off != 0) or off + count > high - nxt + 1:
                raise PacketError('bad_arguments', 'acknowledgement runs are inconsistent')
            end = off + count
        if high >= nxt and not runs:
            raise PacketError('bad_arguments', 'next must be missing when high >= next')
        ranges.append(AckRange(apid, nxt, high, runs))
    if pos != len(body):
        raise PacketError('bad_length', 'bytes after the last acknowledgement range')
    return ranges
