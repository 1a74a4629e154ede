"""The relay's end of the space link: paced downlink, uplink checks, verification. Pure Python.

RelayEndpoint owns the UDP socket on its own thread. It sends the store's
packets no faster than the downlink rate, a status packet each second, and
takes acknowledgements and telecommands from the uplink. Accepted
telecommands go to a callback (the ROS node executes them); every refusal is
counted and logged, and reported to the ground with the sequence number and
opcode the packet claimed, through a token bucket (TokenBucket) so that a
flood of garbage cannot flood the downlink.
"""
from __future__ import annotations

from dataclasses import dataclass
import logging
import math
import selectors
import socket
import struct
import threading
import time
from typing import Callable

from chang_e_rover.relay import packets
from chang_e_rover.relay.clock import LinkClock
from chang_e_rover.relay.keys import KeyRing
from chang_e_rover.relay.packets import PacketError, Product, RelayStatus
from chang_e_rover.relay.store import Store
from chang_e_rover.relay.telecommands import ArgLimits, decode, ReplayWindow, Telecommand

log = logging.getLogger('chang_e_rover.relay')

# Verification report kinds, numbered as ECSS PUS service 1 subtypes.
ACCEPTED, ACCEPT_FAILED, STARTED, START_FAILED, COMPLETED, COMPLETE_FAILED = 1, 2, 3, 4, 7, 8
REPORT_NAMES = {ACCEPTED: 'accepted', ACCEPT_FAILED: 'acceptance_failed', STARTED: 'started',
                START_FAILED: 'start_failed', COMPLETED: 'completed',
                COMPLETE_FAILED: 'completion_failed'}
# Failure codes carried in verification reports.
CODES = {'ok': 0, 'bad_length': 1, 'bad_crc': 2, 'bad_header': 3, 'bad_tag': 4, 'replay': 5,
         'out_of_window': 6, 'unknown_opcode': 7, 'bad_arguments': 8, 'failed': 9,
         'timeout': 10, 'unavailable': 11, 'bad_product': 12}
CODE_NAMES = {v: k for k, v in CODES.items()}
VERIFICATION = struct.Struct('>IBBH')       # tc seq, opcode, report kind, code; then reason
VERIFICATION_TOPIC = '/lander/relay/verification'
VERIFICATION_TYPE = 'chang_e_rover/Verification'   # not a ROS type: the layout above
# Sending credit carried over a wake-up, s: one packet's worth on the wall clock; on a
# simulated one, what the clock may jump past a wake-up when its rate changes (at most
# clock.SIM_POLL_S wall seconds of a simulation five times faster than real time).
WALL_CREDIT_S, SIM_CREDIT_S = 0.01, 0.25


@dataclass(frozen=True)
class Verification:
    seq: int
    opcode: int
    kind: int
    code: int
    reason: str

    def encode(self) -> bytes:
        return VERIFICATION.pack(self.seq, self.opcode, self.kind, self.code) + \
            self.reason.encode()[:200]

    @classmethod
    def decode(cls, body: bytes) -> Verification:
        if len(body) < VERIFICATION.size:
            raise PacketError('bad_product', 'verification report too short')
        seq, opcode, kind, code = VERIFICATION.unpack_from(body)
        return cls(seq, opcode, kind, code, body[VERIFICATION.size:].decode(errors='replace'))


class TokenBucket:
    """At most `burst` events at once and `rate` a second on average.

    Over any T seconds at most burst + rate * T events pass; the bucket refills
    at `rate` up to `burst` whenever an event asks (no thread needed).
    """

    def __init__(self, rate: float, burst: int, now: float):
        if not (math.isfinite(rate) and rate > 0) or int(burst) != burst or burst < 1:
            raise ValueError(f'a token bucket needs rate > 0 and a whole burst >= 1, '
                             f'got rate {rate}, burst {burst}')
        self.rate, self.burst = rate, int(burst)
        self.tokens, self.last = float(burst), now

    def take(self, now: float) -> bool:
        """Take one token at monotonic time now (s); False if there is none."""
        self.tokens = min(self.burst, self.tokens + max(0.0, now - self.last) * self.rate)
        self.last = max(self.last, now)
        if self.tokens < 1.0:
            return False
        self.tokens -= 1.0
        return True


class RelayEndpoint:
    """Downlink the store through the link; verify and hand over what comes up."""

    def __init__(self, store: Store, key: bytes, limits: ArgLimits, port: int,
                 link_addr: tuple[str, int], rate_bps: float, max_packet_bytes: int,
                 window_behind: int, window_ahead: int,
                 on_telecommand: Callable[[Telecommand], None],
                 status_period_s: float = 1.0, refusal_reports_per_s: float = 1.0,
                 verification_priority: int = 0, host: str = '127.0.0.1',
                 refusal_report_burst: int = 5, next_key: bytes | None = None,
                 next_key_from_seq: int = 0, clock_ns: Callable[[], int] = time.time_ns,
                 clock: LinkClock | None = None):
        """Bind the uplink port; start() runs the link thread.

        :param key: the current telecommand key; next_key and next_key_from_seq
            rotate it (KeyRing).
        :param clock_ns: the time stamped on verification reports, ns (the relay
            node passes its ROS clock, as for every other product).
        :param clock: what sending is paced and retransmissions timed on (relay/clock.py;
            the wall clock if None).
        """
        self.clock = clock or LinkClock()
        self.keys = KeyRing(key, next_key, next_key_from_seq)
        self.store, self.limits = store, limits
        self.link_addr, self.rate_bps = link_addr, rate_bps
        self.max_packet_bytes = max_packet_bytes
        self.window = ReplayWindow(window_behind, window_ahead, *store.load_window())
        self.on_telecommand = on_telecommand
        self.status_period_s = status_period_s
        self.refusals = TokenBucket(refusal_reports_per_s, refusal_report_burst,
                                    self.clock.now())
        self.clock_ns = clock_ns
        self.verification_priority = verification_priority
        self.mode = 0
        self.tc_accepted = self.tc_refused = self.acks = self.reports_suppressed = 0
        self.sent_packets = self.sent_bytes = 0
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
        self.sock.bind((host, port))
        self.sock.setblocking(False)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # Enqueueing wakes the link thread, so an idle relay sleeps instead of polling.
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)     # a full pair means a wake-up is pending
        self._status_counter = 0
        self._lock = threading.Lock()

    # ---- called from other threads -------------------------------------------------------
    def enqueue(self, apid: int, priority: int, product: Product, time_ns: int) -> int:
        number = self.store.enqueue(apid, priority, product, time_ns, self.max_packet_bytes)
        try:
            self._wake_w.send(b'\0')
        except OSError:
            pass            # stopped, or a wake-up is already pending
        return number

    def report(self, tc_seq: int, opcode: int, kind: int, code: str, reason: str = '') -> None:
        """Queue a verification report for the ground."""
        v = Verification(tc_seq, opcode, kind, CODES[code], reason)
        self.enqueue(packets.APID_VERIFICATION, self.verification_priority,
                     Product(VERIFICATION_TOPIC, VERIFICATION_TYPE, v.encode()),
                     self.clock_ns())

    def start(self) -> RelayEndpoint:
        self._thread = threading.Thread(target=self.run, name='relay-link', daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
        self.sock.close()
        self._wake_r.close()
        self._wake_w.close()

    # ---- the link thread -----------------------------------------------------------------
    def run(self) -> None:
        sel = selectors.DefaultSelector()
        sel.register(self.sock, selectors.EVENT_READ, 'uplink')
        sel.register(self._wake_r, selectors.EVENT_READ, 'wake')
        next_send = next_status = self.clock.now()
        credit_s = SIM_CREDIT_S if self.clock.simulated else WALL_CREDIT_S
        while not self._stop.is_set():
            now = self.clock.now()
            if now >= next_status:
                self._send(self.status().encode(self._status_counter & 0xFFFFFFFF))
                self._status_counter += 1
                next_status = now + self.status_period_s
            # Paced sending: little credit is carried over (one wake-up's worth).
            next_send = max(next_send, now - credit_s)
            idle = False
            while next_send <= now:
                raw = self.store.next_packet(now)
                if raw is None:
                    idle = True
                    break
                self._send(raw)
                next_send += len(raw) * 8 / self.rate_bps
            # Idle: sleep until the status is due, data is queued, or a retransmission
            # timer may have run out (checked every 0.25 s).
            wake_at = min(next_status, now + 0.25) if idle else min(next_status, next_send)
            for key, _ in sel.select(self.clock.wait_s(wake_at)):
                if key.data == 'uplink':
                    self._receive()
                else:
                    try:
                        while self._wake_r.recv(4096):
                            pass
                    except (BlockingIOError, OSError):
                        pass
        sel.close()

    def _send(self, raw: bytes) -> None:
        try:
            self.sock.sendto(raw, self.link_addr)
            self.sent_packets += 1
            self.sent_bytes += len(raw)
        except OSError as exc:
            log.warning('downlink send failed: %s', exc)

    def _receive(self) -> None:
        while True:
            try:
                raw = self.sock.recv(65536)
            except (BlockingIOError, OSError):
                return
            self.handle_uplink(raw)

    def handle_uplink(self, raw: bytes) -> Telecommand | None:
        """Check one uplink packet; apply an ack or hand over a telecommand.

        Return the accepted telecommand, or None (acknowledgements, refusals).
        """
        try:
            apid, seq, body, key = packets.decode_uplink(raw, self.keys.keys)
            is_tc = apid == packets.APID_TELECOMMAND
            with self._lock:
                self.keys.check(key, is_tc, seq, self.window.highest)
            if not is_tc:
                self.store.apply_ack(packets.decode_ack_body(body), self.clock.now())
                self.acks += 1
                return None
            with self._lock:
                self.window.check(seq)
                # An authenticated telecommand uses up its sequence number even when
                # its body is refused: a replay of it is then refused as a replay.
                try:
                    tc = decode(seq, body, self.limits)
                finally:
                    self.window.accept(seq)
                    self.store.save_window(self.window.highest, self.window.bitmap)
        except PacketError as exc:
            self.tc_refused += 1
            log.warning('uplink packet refused: %s', exc)
            if self.refusals.take(self.clock.now()):
                self.report(*packets.uplink_claims(raw), ACCEPT_FAILED, exc.code, exc.reason)
            else:
                self.reports_suppressed += 1
            return None
        self.tc_accepted += 1
        self.report(tc.seq, tc.opcode.code, ACCEPTED, 'ok', tc.name)
        self.on_telecommand(tc)
        return tc

    def status(self) -> RelayStatus:
        packets_, products, nbytes = self.store.stats()
        return RelayStatus(self.mode, packets_, products, nbytes, self.tc_accepted,
                           self.tc_refused, self.store.next_seq(), self.store.first_seq())
