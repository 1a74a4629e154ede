"""The mission's use of the ground station: telecommands up, their reports, the downlink.

Plain Python over relay.ground.GroundStation (no rclpy): the mission sends its
telecommands here, asks how each stands, and at the end reads what is on the ground.
"""
from __future__ import annotations

from pathlib import Path

from chang_e_rover.relay.endpoint import COMPLETED, REPORT_NAMES

# The mission's telecommands, by what they are for.
LEGS = ('panorama', 'fault_drive', 'crossing', 'wheel_reset')


class GroundLink:
    """Telecommands the mission sent (by leg) and the downlink's progress against a mark."""

    def __init__(self, station):
        self.station = station
        self.sent: dict[str, int] = {}          # leg: the last telecommand's sequence number
        self.target: dict[int, int] = {}        # APID: packets the relay had numbered at the mark

    @property
    def link_up(self) -> bool:
        """The ground has heard the relay's status."""
        return self.station.status is not None

    def send(self, leg: str, name: str, **args) -> int:
        """Send telecommand name for leg; return its sequence number."""
        if leg not in LEGS:
            raise ValueError(f'telecommand for {leg!r}: legs are {LEGS}')
        seq = self.sent[leg] = self.station.send(name, **args)
        return seq

    def state(self, leg: str) -> str | None:
        """How leg's last telecommand stands: None (none sent), pending, completed or failed."""
        tc = self.station.pending.get(self.sent.get(leg))
        if tc is None:
            return None
        if not tc.finished:
            return 'pending'
        return 'completed' if any(r.kind == COMPLETED for r in tc.reports) else 'failed'

    def mark_downlink(self) -> None:
        """From now, everything the relay has numbered so far must reach the ground."""
        status = self.station.status
        self.target = dict(status.next_seq) if status is not None else {}

    def downlinked(self) -> bool:
        """The last goal's telecommand completed and the downlink caught up with the mark."""
        leg = 'crossing' if 'crossing' in self.sent else 'fault_drive'
        return self.state(leg) == 'completed' and not self.station.behind(self.target)

    def record(self, folder: Path | None) -> dict:
        """What is on the ground, for the mission report (schema: docs/mission.md)."""
        g = self.station
        tcs = []
        for leg in ('panorama', 'fault_drive', 'crossing'):
            if leg == 'crossing' and leg not in self.sent:
                continue
            tc = g.pending.get(self.sent.get(leg))
            tcs.append({'leg': leg, 'seq': self.sent.get(leg),
                        'name': 'take_panorama' if leg == 'panorama' else 'drive_goal',
                        'reports': None if tc is None else
                        [REPORT_NAMES.get(r.kind, str(r.kind)) for r in tc.reports]})
        relay = None
        if g.status is not None:
            relay = {'missing_packets': {f'{a:#05x}': n for a, n in g.behind(self.target).items()},
                     'queue_packets': g.status.queued_packets}
        archive = None
        if g.archive is not None:
            archive = {'path': None if g.archive.path is None else
                       relative(g.archive.path, folder),
                       'images': len(g.archive.images), 'invalid': g.archive.invalid}
        return {'telecommands': tcs, 'products': dict(sorted(g.topic_counts().items())),
                'relay': relay, 'bad_packets': g.bad_packets, 'archive': archive}


def relative(path, folder: Path | None) -> str:
    """path relative to folder when it lies inside it, else as it is."""
    if folder is not None:
        try:
            return str(Path(path).relative_to(folder))
        except ValueError:
            pass
    return str(path)
