"""The ground's delivery state on disk, so that what it acknowledges survives it.

Pure Python on the standard library's sqlite3 (WAL, synchronous FULL). Between
two checkpoints the ground keeps, in memory, the packets it took (out of order,
or parts of a product not yet whole) and how far each APID is delivered; a
checkpoint writes them in one transaction together with the archive's mark (its
files and the byte offsets up to which they are synced). The ground sends an
acknowledgement only after a checkpoint, so the relay deletes nothing the
ground has not stored. A ground killed between checkpoints restarts from the
last one: the archive is cut back to the mark, and what came after is still
in the relay's queue and comes again.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
import sqlite3

VERSION = 1
SCHEMA = """
CREATE TABLE IF NOT EXISTS apid (
    apid INTEGER PRIMARY KEY, next INTEGER NOT NULL, expect_segment INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS held (
    apid INTEGER NOT NULL, seq INTEGER NOT NULL, raw BLOB NOT NULL,
    PRIMARY KEY (apid, seq)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS mark (
    id INTEGER PRIMARY KEY CHECK (id = 0), mcap TEXT NOT NULL, mcap_bytes INTEGER NOT NULL,
    records TEXT NOT NULL, records_bytes INTEGER NOT NULL);
"""


class JournalError(RuntimeError):
    """The journal cannot be used as it is (a different version's file)."""


@dataclass(frozen=True)
class Mark:
    """Archive files and the byte counts up to which they are on disk."""
    mcap: str
    mcap_bytes: int
    records: str
    records_bytes: int


@dataclass
class ApidRecord:
    next: int
    expect_segment: int
    held: dict[int, bytes]      # seq -> raw packet: parts below next, the rest out of order


class Journal:
    """Per-APID delivery point, the packets held, the archive's mark."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.db = sqlite3.connect(str(self.path), isolation_level=None,
                                  check_same_thread=False)   # the ground's lock serialises
        version = self.db.execute('PRAGMA user_version').fetchone()[0]
        tables = self.db.execute("SELECT count(*) FROM sqlite_master WHERE type='table'"
                                 ).fetchone()[0]
        if tables and version != VERSION:
            self.db.close()
            raise JournalError(f'{self.path} is a ground journal of version {version}, this '
                               f'ground reads version {VERSION}; move it aside to start '
                               'afresh (the relay repeats what was never acknowledged)')
        self.db.execute('PRAGMA journal_mode=WAL')
        self.db.execute('PRAGMA synchronous=FULL')
        self.db.executescript(SCHEMA)
        self.db.execute(f'PRAGMA user_version={VERSION}')

    def load(self) -> tuple[dict[int, ApidRecord], Mark | None]:
        """What the last checkpoint stored."""
        out = {apid: ApidRecord(nxt, seg, {}) for apid, nxt, seg in
               self.db.execute('SELECT apid, next, expect_segment FROM apid')}
        for apid, seq, raw in self.db.execute('SELECT apid, seq, raw FROM held ORDER BY seq'):
            out.setdefault(apid, ApidRecord(0, 0, {})).held[seq] = bytes(raw)
        row = self.db.execute('SELECT mcap, mcap_bytes, records, records_bytes FROM mark'
                              ).fetchone()
        return out, (Mark(*row) if row else None)

    def checkpoint(self, apids: dict[int, tuple[int, int, int]],
                   taken: list[tuple[int, int, bytes]], mark: Mark | None) -> None:
        """Store in one transaction: apid -> (next, expect_segment, first seq still held),
        the packets taken since the last checkpoint, and the archive's mark."""
        with self.db:
            self.db.execute('BEGIN')
            self.db.executemany('INSERT OR REPLACE INTO held VALUES (?, ?, ?)', taken)
            for apid, (nxt, seg, first) in apids.items():
                self.db.execute('INSERT OR REPLACE INTO apid VALUES (?, ?, ?)', (apid, nxt, seg))
                self.db.execute('DELETE FROM held WHERE apid = ? AND seq < ?', (apid, first))
            if mark is not None:
                self.db.execute('INSERT OR REPLACE INTO mark VALUES (0, ?, ?, ?, ?)',
                                (mark.mcap, mark.mcap_bytes, mark.records, mark.records_bytes))

    def close(self) -> None:
        self.db.close()
