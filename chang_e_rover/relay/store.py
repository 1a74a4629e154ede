"""Persistent store-and-forward queue of the relay, and its retransmission schedule.

Pure Python on the standard library's sqlite3. A product is cut into packets,
each given its per-APID sequence number and written, encoded, in one
transaction; a packet leaves the store only when the ground acknowledges it.
The database runs in WAL mode: with `synchronous=FULL` a committed product
survives power loss, with `NORMAL` it survives the process being killed
(SIGKILL) but not the machine losing power (SQLite's documented guarantees).

The anti-replay window of telecommands is kept in the same database, so a
restarted relay refuses what it accepted before.

Repeats are timed by RoundTripEstimator, the repeat timer of TCP (RFC 6298)
fed with the measured acknowledgement round trip. Time is always passed in
(`now`, seconds on one monotonic clock): nothing here reads a clock.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass
import heapq
import math
from pathlib import Path
import sqlite3
import threading

from chang_e_rover.relay.packets import AckRange, Product, segment_product, TmSegment

SCHEMA = """
CREATE TABLE IF NOT EXISTS packets (
    apid INTEGER NOT NULL, seq INTEGER NOT NULL, priority INTEGER NOT NULL,
    product INTEGER NOT NULL, raw BLOB NOT NULL, PRIMARY KEY (apid, seq)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS counters (
    apid INTEGER PRIMARY KEY, next_seq INTEGER NOT NULL, next_product INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS tc_window (
    id INTEGER PRIMARY KEY CHECK (id = 0), highest INTEGER NOT NULL, bitmap BLOB NOT NULL);
"""


# RFC 6298, section 2.4: RTO at least 1 s; a maximum, if any, at least 60 s. The relay's
# own bounds are in config/relay.yaml; these hold for a store made without them.
RFC6298_MIN_RTO_S = 1.0
RFC6298_MAX_RTO_S = 60.0


def _positive(name: str, value: float) -> float:
    if isinstance(value, bool) or not (isinstance(value, (int, float)) and math.isfinite(value)
                                       and value > 0):
        raise ValueError(f'{name} must be a positive, finite number of seconds, not {value!r}')
    return float(value)


class RoundTripEstimator:
    """The repeat timer (RTO) fitted to measured round trips, as RFC 6298 fits TCP's.

    Each sample R updates the smoothed round trip and its variation (the first
    sets SRTT = R, RTTVAR = R / 2; then RTTVAR <- 3/4 RTTVAR + 1/4 |SRTT - R|,
    SRTT <- 7/8 SRTT + 1/8 R), and RTO = SRTT + 4 RTTVAR, kept within
    [min_s, max_s]. Before the first sample RTO is initial_s. Each timeout
    doubles RTO (up to max_s) until the next sample (back-off). Karn's rule is
    the caller's part: no sample from a packet that was sent more than once.
    """

    ALPHA, BETA, K = 1 / 8, 1 / 4, 4

    def __init__(self, initial_s: float, min_s: float, max_s: float):
        initial_s = _positive('the initial retransmission timeout', initial_s)
        min_s = _positive('the lower bound of the retransmission timeout', min_s)
        max_s = _positive('the upper bound of the retransmission timeout', max_s)
        if not min_s <= initial_s <= max_s:
            raise ValueError(f'retransmission timeouts must satisfy lower bound <= initial <= '
                             f'upper bound, not {min_s} <= {initial_s} <= {max_s}')
        self.min_s, self.max_s = min_s, max_s
        self.srtt_s: float | None = None
        self.rttvar_s: float | None = None
        self.samples = self.timeouts = 0
        self._base_s = initial_s        # RTO before back-off
        self._backoff = 1

    @property
    def rto_s(self) -> float:
        """Return the current repeat timer, back-off included, in seconds."""
        return min(self.max_s, self._base_s * self._backoff)

    def sample(self, rtt_s: float) -> None:
        """Take one measured round trip (s) of a packet sent once; end any back-off."""
        if isinstance(rtt_s, bool) or not (isinstance(rtt_s, (int, float))
                                           and math.isfinite(rtt_s) and rtt_s >= 0):
            raise ValueError(f'a round trip must be a finite, non-negative number of seconds, '
                             f'not {rtt_s!r}')
        if self.srtt_s is None:
            self.srtt_s, self.rttvar_s = rtt_s, rtt_s / 2
        else:
            self.rttvar_s = ((1 - self.BETA) * self.rttvar_s
                             + self.BETA * abs(self.srtt_s - rtt_s))
            self.srtt_s = (1 - self.ALPHA) * self.srtt_s + self.ALPHA * rtt_s
        self._base_s = min(self.max_s, max(self.min_s, self.srtt_s + self.K * self.rttvar_s))
        self._backoff = 1
        self.samples += 1

    def timed_out(self) -> None:
        """Note that the timer ran out (a packet is repeated for it): back off."""
        self.timeouts += 1
        if self._base_s * self._backoff < self.max_s:
            self._backoff *= 2


@dataclass
class _Entry:
    priority: int
    size: int
    last_sent: float = 0.0     # 0: never sent since this process started
    naked: bool = False
    sends: int = 0             # copies sent since this process started (Karn's rule)


class Store:
    """The queue: enqueue products, pick the next packet to send, apply acknowledgements.

    Scheduling, in order: packets the ground reported missing, then packets
    never sent, both by priority (0 first) and sequence; then, only when
    neither waits, packets unacknowledged for the repeat timer (`rtt.rto_s`),
    which covers lost acknowledgements and the tail of a burst. So repeats
    after a timeout never delay new data.

    Round trips: each acknowledgement gives one sample, the age of the oldest
    packet it newly acknowledges among those sent once (Karn's rule). That
    packet waited longest for an acknowledgement, so the timer covers the
    wait for the ground's next acknowledgement as well as the light time.

    A report of a missing packet counts only if its last copy was sent at
    least the hold-off before the report arrived (the smoothed round trip,
    or `nak_holdoff_s` before the first sample): a younger copy may have
    reached the ground after the report was made, and the ground repeats its
    report in its next acknowledgement if the packet is still missing.
    Thread-safe.

    :param rto_s: the repeat timer before the first round-trip sample, s
    :param nak_holdoff_s: the hold-off before the first round-trip sample, s
    :param rto_min_s: lower bound of the repeat timer, s
    :param rto_max_s: upper bound of the repeat timer (back-off included), s
    """

    def __init__(self, path: str | Path, synchronous: str = 'FULL', rto_s: float = 20.0,
                 nak_holdoff_s: float = 6.0, rto_min_s: float = RFC6298_MIN_RTO_S,
                 rto_max_s: float = RFC6298_MAX_RTO_S):
        if synchronous not in ('FULL', 'NORMAL', 'OFF'):
            raise ValueError(f'synchronous must be FULL, NORMAL or OFF, not {synchronous!r}')
        self.rtt = RoundTripEstimator(rto_s, rto_min_s, rto_max_s)
        self.nak_holdoff_s = _positive('the NAK hold-off', nak_holdoff_s)
        self.path = Path(path)
        # Repeats by cause, and reports of missing packets set aside as too young.
        self.repeats_nak = self.repeats_timeout = self.naks_too_young = 0
        self._now = 0.0             # the latest time next_packet was given
        self._lock = threading.RLock()
        self.db = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False)
        self.db.execute('PRAGMA journal_mode=WAL')
        self.db.execute(f'PRAGMA synchronous={synchronous}')
        self.db.executescript(SCHEMA)
        self.entries: dict[int, dict[int, _Entry]] = {}
        self.low: dict[int, int] = {}          # per APID: no entry below this seq
        self.fresh: list[tuple[int, int, int]] = []     # heap of (priority, apid, seq)
        self.naks: list[tuple[int, int, int]] = []
        self.sent_order: deque[tuple[float, int, int]] = deque()
        self.counters: dict[int, list[int]] = {
            apid: [s, p] for apid, s, p in self.db.execute('SELECT * FROM counters')}
        for apid, seq, priority, size in self.db.execute(
                'SELECT apid, seq, priority, length(raw) FROM packets ORDER BY apid, seq'):
            self.entries.setdefault(apid, {})[seq] = _Entry(priority, size)
            self.low.setdefault(apid, seq)
            self.fresh.append((priority, apid, seq))
        heapq.heapify(self.fresh)

    # ---- in ------------------------------------------------------------------------------
    def enqueue(self, apid: int, priority: int, product: Product, time_ns: int,
                max_packet_bytes: int) -> int:
        """Store a product as packets on apid; return its product number."""
        pieces = segment_product(product.encode(), max_packet_bytes)
        with self._lock:
            seq, number = self.counters.get(apid, [1, 1])
            rows = [(apid, seq + i, priority, number,
                     TmSegment(apid, seq + i, number, i, len(pieces), time_ns, piece).encode())
                    for i, piece in enumerate(pieces)]
            self.db.execute('BEGIN')
            try:
                self.db.executemany('INSERT INTO packets VALUES (?, ?, ?, ?, ?)', rows)
                self.db.execute('INSERT OR REPLACE INTO counters VALUES (?, ?, ?)',
                                (apid, seq + len(pieces), number + 1))
                self.db.execute('COMMIT')
            except BaseException:
                self.db.execute('ROLLBACK')
                raise
            self.counters[apid] = [seq + len(pieces), number + 1]
            table = self.entries.setdefault(apid, {})
            self.low.setdefault(apid, seq)
            for row in rows:
                table[row[1]] = _Entry(priority, len(row[4]))
                heapq.heappush(self.fresh, (priority, apid, row[1]))
            return number

    # ---- out -----------------------------------------------------------------------------
    def next_packet(self, now: float) -> bytes | None:
        """Return the next packet to send (and mark it sent at now, s), or None."""
        with self._lock:
            self._now = max(self._now, now)
            key = self._pick(now)
            if key is None:
                return None
            apid, seq = key
            entry = self.entries[apid][seq]
            entry.last_sent, entry.naked = now, False
            entry.sends += 1
            self.sent_order.append((now, apid, seq))
            row = self.db.execute('SELECT raw FROM packets WHERE apid = ? AND seq = ?',
                                  key).fetchone()
            return row[0]

    def _live(self, apid: int, seq: int) -> _Entry | None:
        return self.entries.get(apid, {}).get(seq)

    def nak_holdoff(self) -> float:
        """Return how old a copy must be for a report of it missing to count, s."""
        return self.nak_holdoff_s if self.rtt.srtt_s is None else self.rtt.srtt_s

    def _pick(self, now: float) -> tuple[int, int] | None:
        while self.naks:
            _, apid, seq = heapq.heappop(self.naks)
            entry = self._live(apid, seq)
            if entry is not None and entry.naked:
                self.repeats_nak += 1
                return apid, seq
        while self.fresh:
            _, apid, seq = heapq.heappop(self.fresh)
            entry = self._live(apid, seq)
            if entry is not None and entry.last_sent == 0.0:
                return apid, seq
        while self.sent_order:
            sent, apid, seq = self.sent_order[0]
            entry = self._live(apid, seq)
            if entry is None or entry.last_sent != sent:
                self.sent_order.popleft()
                continue
            if now - sent >= self.rtt.rto_s:
                self.sent_order.popleft()
                self.repeats_timeout += 1
                self.rtt.timed_out()
                return apid, seq
            break
        return None

    def apply_ack(self, ranges: list[AckRange], now: float | None = None) -> int:
        """Forget what the ground holds, schedule what it missed; return packets freed.

        :param now: when the acknowledgement arrived, s, on the clock of next_packet;
            None takes the latest time next_packet was given (the sender calls it
            at least every packet, or every poll when idle)
        """
        freed = 0
        with self._lock:
            now = self._now if now is None else now
            oldest_once = math.inf      # send time of the oldest freed packet sent once
            holdoff = self.nak_holdoff()
            self.db.execute('BEGIN')
            for r in ranges:
                table = self.entries.get(r.apid)
                if table is None:
                    continue
                gone = []
                low = self.low.get(r.apid, r.next)
                for seq in range(low, min(r.next, self.counters[r.apid][0])):
                    if (entry := table.pop(seq, None)) is not None:
                        gone.append(seq)
                        if entry.sends == 1:
                            oldest_once = min(oldest_once, entry.last_sent)
                self.low[r.apid] = max(low, r.next)
                for seq in r.held():
                    if (entry := table.pop(seq, None)) is not None:
                        gone.append(seq)
                        if entry.sends == 1:
                            oldest_once = min(oldest_once, entry.last_sent)
                if gone:
                    self.db.executemany('DELETE FROM packets WHERE apid = ? AND seq = ?',
                                        [(r.apid, s) for s in gone])
                freed += len(gone)
                for seq in r.missing():
                    entry = table.get(seq)
                    if entry is None or entry.sends == 0 or entry.naked:
                        continue
                    if now - entry.last_sent < holdoff:
                        self.naks_too_young += 1
                    else:
                        entry.naked = True
                        heapq.heappush(self.naks, (entry.priority, r.apid, seq))
            self.db.execute('COMMIT')
            if oldest_once <= now:
                self.rtt.sample(now - oldest_once)
        return freed

    # ---- state ---------------------------------------------------------------------------
    def next_seq(self) -> dict[int, int]:
        with self._lock:
            return {apid: c[0] for apid, c in self.counters.items()}

    def first_seq(self) -> dict[int, int]:
        """Per APID, the oldest sequence number not yet acknowledged (next if none)."""
        with self._lock:
            return {apid: min(self.entries[apid]) if self.entries.get(apid) else c[0]
                    for apid, c in self.counters.items()}

    def stats(self) -> tuple[int, int, int]:
        """Return (packets, products, bytes) waiting for acknowledgement."""
        with self._lock:
            packets = sum(len(t) for t in self.entries.values())
            nbytes = sum(e.size for t in self.entries.values() for e in t.values())
            products = self.db.execute(
                'SELECT COUNT(*) FROM (SELECT DISTINCT apid, product FROM packets)').fetchone()[0]
            return packets, products, nbytes

    def load_window(self) -> tuple[int, int]:
        row = self.db.execute('SELECT highest, bitmap FROM tc_window WHERE id = 0').fetchone()
        return (0, 0) if row is None else (row[0], int.from_bytes(row[1], 'big'))

    def save_window(self, highest: int, bitmap: int) -> None:
        with self._lock:
            self.db.execute('INSERT OR REPLACE INTO tc_window VALUES (0, ?, ?)',
                            (highest, bitmap.to_bytes((bitmap.bit_length() + 7) // 8 or 1,
                                                      'big')))

    def close(self) -> None:
        with self._lock:
            self.db.close()
