"""The ground station's end of the link: reassemble, deduplicate, acknowledge, command.

Pure Python (the archive uses the installed .msg files; images are written as
they came down). GroundStation runs on its own thread:

- telemetry: CRC-checked, per-APID reorder buffer keyed by the 32-bit sequence
  number, so each packet is delivered once and in order per APID; segments
  are joined into products and handed to the archive and to `on_product`;
- custody: before each acknowledgement the archive is synced to disk and the
  delivery state (per-APID next number, packets held out of order or as parts
  of a product) is written to the journal (relay/custody.py), so what the
  ground acknowledges survives a kill, and a restarted ground resumes where
  its last checkpoint stood;
- acknowledgements: what is held, as a NAK list, every `ack_period_s` while
  anything changed or is missing, paced to the uplink rate;
- telecommands: signed, numbered from a counter kept on disk (the relay's
  replay window refuses reused numbers), repeated until the relay's acceptance
  report comes down or `tc_max_tries` runs out.
"""
from __future__ import annotations

from collections import deque
import logging
from pathlib import Path
import selectors
import socket
import sqlite3
import threading
import time
from typing import Any, Callable

from chang_e_rover.relay import packets
from chang_e_rover.relay.archive import Archive
from chang_e_rover.relay.clock import LinkClock
from chang_e_rover.relay.custody import Journal
from chang_e_rover.relay.ground_state import ack_ranges, ApidState, PendingTc
from chang_e_rover.relay.endpoint import (
    ACCEPT_FAILED, CODE_NAMES, CODES, COMPLETE_FAILED, REPORT_NAMES, START_FAILED,
    Verification, VERIFICATION_TYPE)
from chang_e_rover.relay.packets import PacketError, Product, RelayStatus
from chang_e_rover.relay.telecommands import encode_args

log = logging.getLogger('chang_e_rover.ground')
# A relay status numbering this far below what the ground delivered means the relay's
# store was replaced: more than a reordered status can lag (0.5 s of link at most).
REPLACED_MARGIN = 1024
# Refusals of a copy damaged on the way (or forged): they name the number it claimed,
# which may be this station's, but judge nothing of the telecommand itself.
DAMAGED = {CODES['bad_length'], CODES['bad_crc'], CODES['bad_header'], CODES['bad_tag']}
SERVICE_S = 0.1   # the station's timers (acknowledgements, repeats, pacing) are served this often


class GroundStation:
    """Receive, reassemble, archive, acknowledge; send telecommands."""

    def __init__(self, key: bytes, port: int, link_addr: tuple[str, int], uplink_rate_bps: float,
                 state_dir: str | Path, archive: Archive | None = None,
                 ack_period_s: float = 2.0, ack_max_runs: int = 16, tail_wait_s: float = 5.0,
                 tc_retry_s: float = 15.0, tc_max_tries: int = 5,
                 on_product: Callable[[int, Product, int], None] | None = None,
                 host: str = '127.0.0.1', clock: LinkClock | None = None):
        """:param clock: what acknowledgements, telecommand repeats and uplink pacing are
            timed on (relay/clock.py; the wall clock if None)."""
        if not key:
            raise ValueError('the telecommand key is empty')
        self.key, self.link_addr, self.uplink_rate_bps = key, link_addr, uplink_rate_bps
        self.archive, self.on_product = archive, on_product
        self.ack_period_s, self.ack_max_runs, self.tail_wait_s = (ack_period_s, ack_max_runs,
                                                                  tail_wait_s)
        self.tc_retry_s, self.tc_max_tries = tc_retry_s, tc_max_tries
        self.clock = clock or LinkClock()
        self.state_dir = Path(state_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self._seq_file = self.state_dir / 'tc_seq'
        self.journal = Journal(self.state_dir / 'journal.sqlite')
        self.apids: dict[int, ApidState] = {}
        self._taken: list[tuple[int, int, bytes]] = []   # packets since the last checkpoint
        held, mark = self.journal.load()
        for apid, rec in held.items():
            st = self.apids[apid] = ApidState(next=rec.next, expect_segment=rec.expect_segment)
            for seq, raw in rec.held.items():
                seg = packets.decode_tm(raw)
                if seq < rec.next:
                    st.parts.append(seg.data)
                else:
                    st.buffer[seq] = seg
        if archive is not None:
            archive.open(mark)
        self.status: RelayStatus | None = None
        self.status_rx = 0.0
        self.pending: dict[int, PendingTc] = {}
        self.reports: list[Verification] = []
        self.bad_packets = self.acks_sent = self.uplink_bytes = 0
        self.payload_bytes = 0
        self._uplink: deque[bytes] = deque()
        self._uplink_free = 0.0
        self._ack_counter = 0
        self._last_ack = 0.0
        self._dirty = False
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.sock.bind((host, port))
        self.sock.setblocking(False)

    # ---- telecommands --------------------------------------------------------------------
    def _next_seq(self) -> int:
        last = int(self._seq_file.read_text()) if self._seq_file.is_file() else 0
        self._seq_file.write_text(str(last + 1))
        return last + 1

    def send(self, name: str, **args: Any) -> int:
        """Sign and queue telecommand name; return its sequence number."""
        body = encode_args(name, **args)
        with self._lock:
            seq = self._next_seq()
            raw = packets.encode_uplink(packets.APID_TELECOMMAND, seq, body, self.key)
            self.pending[seq] = PendingTc(seq, name, raw)
        return seq

    def wait_for(self, seq: int, kinds: tuple[int, ...], timeout: float) -> Verification | None:
        """Wait until a report of one of kinds (or any failure) comes for seq, for at most
        timeout seconds of the station's clock."""
        end = self.clock.now() + timeout
        while self.clock.now() < end:
            with self._lock:
                for r in self.pending[seq].reports:
                    if r.kind in kinds or r.kind in (ACCEPT_FAILED, START_FAILED, COMPLETE_FAILED):
                        return r
            time.sleep(self.clock.wait_s(end, SERVICE_S))
        return None

    # ---- thread --------------------------------------------------------------------------
    def start(self) -> GroundStation:
        self._thread = threading.Thread(target=self.run, name='ground', daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
        self.sock.close()
        with self._lock:
            mark = self.archive.close() if self.archive is not None else None
            self._checkpoint(mark)
            self.journal.close()

    def _checkpoint(self, mark=None) -> bool:
        """Sync the archive and write the delivery state; False if it could not be stored."""
        try:
            if mark is None and self.archive is not None and self.archive.writer is not None:
                mark = self.archive.sync()
            self.journal.checkpoint(
                {a: (st.next, st.expect_segment, st.next - len(st.parts))
                 for a, st in self.apids.items()}, self._taken, mark)
        except (OSError, sqlite3.Error) as exc:
            log.error('delivery state not stored (%s): no acknowledgement until it is', exc)
            return False
        self._taken = []
        return True

    def run(self) -> None:
        sel = selectors.DefaultSelector()
        sel.register(self.sock, selectors.EVENT_READ)
        while not self._stop.is_set():
            if sel.select(self.clock.wait_s(self.clock.now() + SERVICE_S)):
                while True:
                    try:
                        raw = self.sock.recv(65536)
                    except (BlockingIOError, OSError):
                        break
                    self.handle_downlink(raw, self.clock.now())
            self._service(self.clock.now())
        sel.close()

    def _service(self, now: float) -> None:
        with self._lock:
            for tc in self.pending.values():
                if (not tc.accepted and not tc.finished and tc.tries < self.tc_max_tries
                        and now - tc.last_sent >= self.tc_retry_s):
                    tc.tries += 1
                    tc.last_sent = now
                    self._uplink.appendleft(tc.raw) if tc.tries == 1 else \
                        self._uplink.append(tc.raw)
            if (now - self._last_ack >= self.ack_period_s and self._uplink_free <= now
                    and self._checkpoint()):
                ack = self.make_ack(now)
                if ack is not None:
                    self._uplink.append(ack)
                    self._last_ack = now
            # Uplink pacing: the link has room for one packet at a time at its rate.
            if self._uplink and self._uplink_free <= now:
                raw = self._uplink.popleft()
                try:
                    self.sock.sendto(raw, self.link_addr)
                    self.uplink_bytes += len(raw)
                except OSError as exc:
                    log.warning('uplink send failed: %s', exc)
                self._uplink_free = now + len(raw) * 8 / self.uplink_rate_bps

    def make_ack(self, now: float) -> bytes | None:
        """Return a signed acknowledgement of every APID, or None if nothing to say."""
        ranges = ack_ranges(self.apids, self.status, self.status_rx, now, self.tail_wait_s,
                            self.ack_max_runs)
        if not ranges or not (self._dirty or any(r.high >= r.next for r in ranges)):
            return None
        self._dirty = False
        self._ack_counter += 1
        self.acks_sent += 1
        return packets.encode_uplink(packets.APID_ACK, self._ack_counter,
                                     packets.encode_ack_body(ranges), self.key)

    def handle_downlink(self, raw: bytes, now: float) -> None:
        try:
            seg = packets.decode_tm(raw)
        except PacketError as exc:
            self.bad_packets += 1
            log.debug('downlink packet dropped: %s', exc)
            return
        with self._lock:
            if seg.apid == packets.APID_RELAY_STATUS:
                try:
                    self.status = RelayStatus.decode(seg.data)
                    self.status_rx = now
                except PacketError:
                    self.bad_packets += 1
                    return
                self._synchronise(self.status)
                return
            st = self.apids.setdefault(seg.apid, ApidState())
            st.last_rx = now
            self._dirty = True
            if seg.seq < st.next or seg.seq in st.buffer:
                st.duplicates += 1
                return
            st.buffer[seg.seq] = seg
            self._taken.append((seg.apid, seg.seq, raw))
            self._flush(st)

    def _synchronise(self, status: RelayStatus) -> None:
        """Start each APID where the relay's unacknowledged data starts.

        What lies below the relay's oldest unacknowledged packet was acknowledged
        before (by this ground or an earlier run of it) and is gone from the relay:
        a ground that starts afresh, or lost its state, picks up from there.
        """
        for apid, first in status.first_seq.items():
            st = self.apids.setdefault(apid, ApidState())
            # the quiet wait before NAKing up to the relay's count starts here, not at 0
            st.last_rx = st.last_rx or self.status_rx
            numbered = status.next_seq.get(apid, first)
            if st.next > numbered + REPLACED_MARGIN:
                log.warning('APID %#x: the relay numbers up to %d, below the %d delivered here: '
                            'its store was replaced; following it from %d', apid, numbered - 1,
                            st.next - 1, first)
                st.next, st.buffer = 0, {}
            if st.next < first:
                for seq in [s for s in st.buffer if s < first]:
                    del st.buffer[seq]
                st.next = first
                st.expect_segment = 0
                st.parts = []
                self._flush(st)

    def _flush(self, st: ApidState) -> None:
        if st.next == 0:
            return              # not synchronised: hold everything until the status comes
        while st.next in st.buffer:
            self._deliver(st, st.buffer.pop(st.next))
            st.next += 1

    def _deliver(self, st: ApidState, seg: packets.TmSegment) -> None:
        st.delivered_packets += 1
        self.payload_bytes += len(seg.data)
        if seg.segment == 0:
            st.parts = []
        elif seg.segment != st.expect_segment:
            log.error('APID %#x: segment %d of product %d out of order', seg.apid, seg.segment,
                      seg.product)
            st.parts = []
            return
        st.parts.append(seg.data)
        st.expect_segment = seg.segment + 1
        if seg.segment + 1 < seg.segments:
            return
        st.expect_segment = 0
        try:
            product = Product.decode(b''.join(st.parts))
        except PacketError as exc:
            log.error('APID %#x product %d: %s', seg.apid, seg.product, exc)
            return
        st.delivered_products += 1
        record = None
        if product.type_name == VERIFICATION_TYPE:
            v = Verification.decode(product.body)
            self.reports.append(v)
            tc = self.pending.get(v.seq)
            if tc is not None and v.kind == ACCEPT_FAILED and v.code in DAMAGED:
                # A copy that reached the relay damaged (or a packet forged with this
                # number): the number it claimed, but no verdict on the telecommand.
                tc.damaged_refused += 1
            elif tc is not None and tc.reports and v.kind == ACCEPT_FAILED \
                    and v.code == CODES['replay']:
                # The relay reports each copy that reaches it, in order on one APID: the
                # first report is the verdict, and a replay refusal after it is one of
                # this station's repeats arriving after the copy that was judged.
                tc.repeats_refused += 1
            elif tc is not None:
                tc.reports.append(v)
            record = {'seq': v.seq, 'opcode': v.opcode, 'report': REPORT_NAMES.get(v.kind),
                      'code': CODE_NAMES.get(v.code), 'reason': v.reason}
            log.info('TC %d: %s (%s) %s', v.seq, REPORT_NAMES.get(v.kind, v.kind),
                     CODE_NAMES.get(v.code, v.code), v.reason)
        if self.archive is not None:
            self.archive.write(product, seg.time_ns, record)
            if product.type_name == 'sensor_msgs/msg/CompressedImage' and not product.invalid:
                self.archive.write_compressed_image(
                    f'{product.topic.replace("/", "_")}_{seg.product:05d}', product.body)
        if self.on_product is not None:
            self.on_product(seg.apid, product, seg.time_ns)

    def behind(self, target: dict[int, int]) -> dict[int, int]:
        """Return, per APID, how many packets below target[apid] are not yet delivered."""
        with self._lock:
            out = {}
            for apid, n in target.items():
                have = self.apids[apid].next if apid in self.apids else 1
                if have < n:
                    out[apid] = n - have
            return out

    def topic_counts(self) -> dict[str, int]:
        """Products archived per topic."""
        with self._lock:
            return dict(self.archive.counts) if self.archive is not None else {}

    def summary(self) -> dict[str, Any]:
        with self._lock:
            return {
                'apids': {f'{a:#05x}': {'packets': s.delivered_packets,
                                        'products': s.delivered_products,
                                        'duplicates_dropped': s.duplicates,
                                        'waiting_out_of_order': len(s.buffer)}
                          for a, s in sorted(self.apids.items())},
                'bad_packets': self.bad_packets, 'acks_sent': self.acks_sent,
                'relay_queue_packets': self.status.queued_packets if self.status else None,
                'telecommands': {seq: [REPORT_NAMES.get(r.kind) for r in tc.reports]
                                 for seq, tc in self.pending.items()},
                'telecommand_copies_refused_damaged': sum(tc.damaged_refused
                                                          for tc in self.pending.values()),
                'telecommand_repeats_refused': sum(tc.repeats_refused
                                                   for tc in self.pending.values())}
