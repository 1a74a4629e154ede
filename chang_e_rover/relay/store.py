"""Persistent store-and-forward queue of the relay, and its retransmission schedule.

Pure Python on the standard library's sqlite3. A product is cut into packets,
each given its per-APID sequence number and written, encoded, in one
transaction; a packet leaves the store only when the ground acknowledges it.
The database runs in WAL mode: with `synchronous=FULL` a committed product
survives power loss, with `NORMAL` it survives the process being killed
(SIGKILL) but not the machine losing power (SQLite's documented guarantees).

The anti-replay window of telecommands is kept in the same database, so a
restarted relay refuses what it accepted before.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass
import heapq
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


@dataclass
class _Entry:
    priority: int
    size: int
    last_sent: float = 0.0     # 0: never sent since this process started
    naked: bool = False


class Store:
    """The queue: enqueue products, pick the next packet to send, apply acknowledgements.

    Scheduling, in order: packets the ground reported missing (once their last
    copy has had time to arrive), then packets never sent, both by priority
    (0 first) and sequence; then packets unacknowledged for `rto_s`, which
    covers lost acknowledgements and the tail of a burst. Thread-safe.
    """

    def __init__(self, path: str | Path, synchronous: str = 'FULL', rto_s: float = 20.0,
                 nak_holdoff_s: float = 6.0):
        if synchronous not in ('FULL', 'NORMAL', 'OFF'):
            raise ValueError(f'synchronous must be FULL, NORMAL or OFF, not {synchronous!r}')
        self.path = Path(path)
        self.rto_s, self.nak_holdoff_s = rto_s, nak_holdoff_s
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
        """Return the next packet to send (and mark it sent at now), or None."""
        with self._lock:
            key = self._pick(now)
            if key is None:
                return None
            apid, seq = key
            entry = self.entries[apid][seq]
            entry.last_sent, entry.naked = now, False
            self.sent_order.append((now, apid, seq))
            row = self.db.execute('SELECT raw FROM packets WHERE apid = ? AND seq = ?',
                                  key).fetchone()
            return row[0]

    def _live(self, apid: int, seq: int) -> _Entry | None:
        return self.entries.get(apid, {}).get(seq)

    def _pick(self, now: float) -> tuple[int, int] | None:
        while self.naks:
            _, apid, seq = self.naks[0]
            entry = self._live(apid, seq)
            if entry is None or not entry.naked:
                heapq.heappop(self.naks)
                continue
            if now - entry.last_sent >= self.nak_holdoff_s:
                heapq.heappop(self.naks)
                return apid, seq
            break     # the head is still in flight; later NAKs are no older
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
            if now - sent >= self.rto_s:
                self.sent_order.popleft()
                return apid, seq
            break
        return None

    def apply_ack(self, ranges: list[AckRange]) -> int:
        """Forget what the ground holds, schedule what it missed; return packets freed."""
        freed = 0
        with self._lock:
            self.db.execute('BEGIN')
            for r in ranges:
                table = self.entries.get(r.apid)
                if table is None:
                    continue
                gone = []
                low = self.low.get(r.apid, r.next)
                for seq in range(low, min(r.next, self.counters[r.apid][0])):
                    if table.pop(seq, None) is not None:
                        gone.append(seq)
                self.low[r.apid] = max(low, r.next)
                for seq in r.held():
                    if table.pop(seq, None) is not None:
                        gone.append(seq)
                if gone:
                    self.db.executemany('DELETE FROM packets WHERE apid = ? AND seq = ?',
                                        [(r.apid, s) for s in gone])
                freed += len(gone)
                for seq in r.missing():
                    entry = table.get(seq)
                    if entry is not None and entry.last_sent > 0 and not entry.naked:
                        entry.naked = True
                        heapq.heappush(self.naks, (entry.priority, r.apid, seq))
            self.db.execute('COMMIT')
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
