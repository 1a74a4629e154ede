"""The ground acknowledges only what it has on disk: killed at any moment, it loses nothing.

An independent reader (rosbags' AnyReader) opens every archive file the ground left.
"""
from pathlib import Path
import random
import signal
import subprocess
import sys
import time

from rclpy.serialization import serialize_message
from rosbags.highlevel import AnyReader
from std_msgs.msg import String

from chang_e_rover.relay.archive import Archive
from chang_e_rover.relay.custody import Journal, JournalError
from chang_e_rover.relay.endpoint import RelayEndpoint
from chang_e_rover.relay.link import ChannelConfig, LinkSimulator
from chang_e_rover.relay.packets import Product
from chang_e_rover.relay.store import Store
from chang_e_rover.relay.telecommands import ArgLimits
from isolation import port_shift

ROOT = Path(__file__).resolve().parent.parent
KEY = bytes(range(32))
LIMITS = ArgLimits(100.0, {'pancam': (-3.1, 3.1), 'tcam': (-3.14, 3.14)},
                   {'pancam': (-1.2, 1.2), 'tcam': (-0.6, 1.2)})
PORTS = {k: v + port_shift() for k, v in
         dict(relay=5230, link_relay=5231, link_ground=5232, ground=5233).items()}
PRODUCTS = 300              # ~2.5 KB each: 3 packets, ~11 s of a 555 kbit/s link
GROUND = f"""
import sys, time
sys.path.insert(0, {str(ROOT)!r})
from chang_e_rover.relay.archive import Archive
from chang_e_rover.relay.ground import GroundStation
state = sys.argv[1]
g = GroundStation({KEY!r}, {PORTS['ground']}, ('127.0.0.1', {PORTS['link_ground']}), 2000.0,
                  state, archive=Archive(state + '/archive'), ack_period_s=0.5).start()
print('up', flush=True)
try:
    while True:
        time.sleep(0.1)
except KeyboardInterrupt:
    g.stop()
"""


def text(i: int) -> str:
    return f'{i:05d}:' + 'x' * 2500


def archived(folder: Path) -> list[str]:
    files = sorted(folder.glob('downlink-*.mcap'))
    with AnyReader(files) as reader:
        return [reader.deserialize(raw, c.msgtype).data
                for c, _, raw in reader.messages()]


def test_archive_cut_back_to_its_mark_and_a_file_cut_short_repaired(tmp_path):
    body = lambda i: serialize_message(String(data=text(i)))
    a = Archive(tmp_path).open()
    for i in range(5):
        a.write(Product('/t', 'std_msgs/msg/String', body(i)), i)
    mark = a.sync()
    for i in range(5, 8):           # after the mark: never acknowledged, comes again
        a.write(Product('/t', 'std_msgs/msg/String', body(i)), i)
    a._file.flush()
    second = Archive(tmp_path).open(mark)        # the first died without closing
    assert [p.name for p in second.files()] == ['downlink-0001.mcap', 'downlink-0002.mcap']
    second.write(Product('/t', 'std_msgs/msg/String', body(5)), 5)
    second.close()
    assert [s[:5] for s in archived(tmp_path)] == [f'{i:05d}' for i in range(6)]


def test_a_journal_of_another_version_is_refused_and_kept(tmp_path):
    import sqlite3
    path = tmp_path / 'journal.sqlite'
    db = sqlite3.connect(path)
    db.execute('CREATE TABLE t (x)')
    db.execute('PRAGMA user_version=7')
    db.commit()
    db.close()
    try:
        Journal(path)
    except JournalError as exc:
        assert 'version 7' in str(exc) and 'move it aside' in str(exc)
    else:
        raise AssertionError('a journal of version 7 was opened')
    assert path.stat().st_size > 0


def test_ground_killed_four_times_during_a_downlink_archives_every_product_once(tmp_path):
    rng = random.Random(11)
    link = LinkSimulator(ChannelConfig(555000.0, 0.2), ChannelConfig(2000.0, 0.2),
                         PORTS['relay'], PORTS['ground'], PORTS['link_relay'],
                         PORTS['link_ground']).start()
    store = Store(tmp_path / 'relay.sqlite', 'NORMAL', rto_s=2.0, nak_holdoff_s=1.0)
    relay = RelayEndpoint(store, KEY, LIMITS, PORTS['relay'], ('127.0.0.1', PORTS['link_relay']),
                          555000.0, 1024, 64, 1024, lambda tc: None).start()
    state = tmp_path / 'ground'

    def start_ground():
        p = subprocess.Popen([sys.executable, '-c', GROUND, str(state)], stdout=subprocess.PIPE,
                             text=True, start_new_session=True)
        assert p.stdout.readline().strip() == 'up'
        return p

    ground = start_ground()
    try:
        for i in range(PRODUCTS):
            store.enqueue(0x30, 1, Product('/science/text', 'std_msgs/msg/String',
                                           serialize_message(String(data=text(i)))), i, 1024)
        kills = []
        for _ in range(4):
            time.sleep(rng.uniform(0.5, 3.0))
            ground.send_signal(signal.SIGKILL)
            ground.wait()
            kills.append(store.stats()[0])
            ground = start_ground()
        end = time.monotonic() + 120
        while store.stats()[0] and time.monotonic() < end:
            time.sleep(0.2)
        assert store.stats()[0] == 0, 'the relay emptied its queue'
        ground.send_signal(signal.SIGINT)
        assert ground.wait(timeout=20) == 0
    finally:
        if ground.poll() is None:
            ground.kill()
        relay.stop()
        link.stop()
    assert any(k > 0 for k in kills), f'kills came during the downlink (queued: {kills})'
    got = [int(s.split(':')[0]) for s in archived(state / 'archive')]
    assert got == list(range(PRODUCTS)), 'every product once, in order, across five archives'
    assert len(list((state / 'archive').glob('downlink-*.mcap'))) == 5


def test_what_the_ground_could_not_store_it_does_not_acknowledge(tmp_path):
    from chang_e_rover.relay.ground import GroundStation
    from chang_e_rover.relay.ground_state import ApidState
    g = GroundStation(KEY, PORTS['ground'], ('127.0.0.1', PORTS['link_ground']), 2000.0,
                      tmp_path, archive=Archive(tmp_path / 'archive'), ack_period_s=0.5)
    try:
        g.apids[0x30] = ApidState(next=5, last_rx=1.0)
        g._dirty = True

        disk_full, sync = [True], g.archive.sync

        def sync_or_full():
            if disk_full[0]:
                raise OSError(28, 'No space left on device')
            return sync()
        g.archive.sync = sync_or_full
        g._service(10.0)
        assert g.acks_sent == 0 and not g._uplink, 'no acknowledgement while the disk is full'
        disk_full[0] = False
        g._service(11.0)
        assert g.acks_sent == 1, 'acknowledged once stored'
        held, _ = Journal(tmp_path / 'journal.sqlite').load()
        assert held[0x30].next == 5
    finally:
        g.stop()


def test_a_refusal_of_a_damaged_copy_is_no_verdict_on_the_telecommand(tmp_path):
    from chang_e_rover.relay.endpoint import (ACCEPT_FAILED, ACCEPTED, CODES, Verification,
                                              VERIFICATION_TOPIC, VERIFICATION_TYPE)
    from chang_e_rover.relay.ground import GroundStation
    from chang_e_rover.relay.ground_state import ApidState
    from chang_e_rover.relay.packets import TmSegment
    g = GroundStation(KEY, PORTS['ground'], ('127.0.0.1', PORTS['link_ground']), 2000.0,
                      tmp_path)
    try:
        seq = g.send('take_panorama')

        def report(kind, code, n):
            body = Product(VERIFICATION_TOPIC, VERIFICATION_TYPE,
                           Verification(seq, 0, kind, CODES[code], '').encode()).encode()
            g._deliver(ApidState(next=1), TmSegment(0x7, n, n, 0, 1, 0, body))
        report(ACCEPT_FAILED, 'bad_tag', 1)
        report(ACCEPT_FAILED, 'bad_crc', 2)
        tc = g.pending[seq]
        assert not tc.finished and not tc.reports and tc.damaged_refused == 2, \
            'still repeated until the relay judges a whole copy'
        report(ACCEPTED, 'ok', 3)
        assert tc.accepted
    finally:
        g.stop()
