"""What the ground station keeps per APID and per telecommand, and the acknowledgement
it builds from that. Pure Python."""
from __future__ import annotations

from dataclasses import dataclass, field

from chang_e_rover.relay import packets
from chang_e_rover.relay.endpoint import (
    ACCEPT_FAILED, ACCEPTED, COMPLETE_FAILED, COMPLETED, START_FAILED, Verification)
from chang_e_rover.relay.packets import AckRange, RelayStatus


@dataclass
class ApidState:
    next: int = 0               # 0: not yet synchronised with the relay's status
    buffer: dict[int, packets.TmSegment] = field(default_factory=dict)
    parts: list[bytes] = field(default_factory=list)
    expect_segment: int = 0
    delivered_packets: int = 0
    delivered_products: int = 0
    duplicates: int = 0
    last_rx: float = 0.0


@dataclass
class PendingTc:
    seq: int
    name: str
    raw: bytes
    tries: int = 0
    last_sent: float = -1e9
    reports: list[Verification] = field(default_factory=list)
    # copies of it the relay refused as replays after its verdict: the station's own
    # repeats (the acceptance was still on its way down), not a verdict on it
    repeats_refused: int = 0
    damaged_refused: int = 0    # copies refused as damaged on the way: repeated as before

    @property
    def accepted(self) -> bool:
        return any(r.kind == ACCEPTED for r in self.reports)

    @property
    def finished(self) -> bool:
        return any(r.kind in (ACCEPT_FAILED, START_FAILED, COMPLETED, COMPLETE_FAILED)
                   for r in self.reports)


def ack_ranges(apids: dict[int, ApidState], status: RelayStatus | None, status_rx: float,
               now: float, tail_wait_s: float, max_runs: int) -> list[AckRange]:
    """Per synchronised APID: the next number expected and the runs missing above it.

    At most max_runs runs in all; nothing is said past the last run that fits. After
    tail_wait_s with nothing new on an APID, the relay's status (received at status_rx)
    says how far it has numbered, so a lost tail is asked for too.
    """
    ranges, budget = [], max_runs    # missing runs listed, over all APIDs
    for apid, st in sorted(apids.items()):
        if st.next == 0:
            continue
        high = max(st.buffer) if st.buffer else st.next - 1
        if (status is not None and now - st.last_rx > tail_wait_s
                and now - status_rx < tail_wait_s):
            # Nothing new for a while: the relay's status says how far it has numbered.
            high = max(high, status.next_seq.get(apid, 1) - 1)
        high = min(high, st.next + packets.MAX_ACK_SPAN)
        runs: list[list[int]] = []
        for seq in range(st.next, high + 1):
            if seq in st.buffer:
                continue
            off = seq - st.next
            if runs and runs[-1][0] + runs[-1][1] == off:
                runs[-1][1] += 1
            elif budget == 0:
                high = seq - 1          # say nothing past the runs we can list
                break
            else:
                runs.append([off, 1])
                budget -= 1
        ranges.append(AckRange(apid, st.next, high, tuple(map(tuple, runs))))
    return ranges
