"""Relay, space link and ground station together over UDP (no ROS): nothing lost, once each."""
import struct
import time

from chang_e_rover import config
from chang_e_rover.relay.endpoint import RelayEndpoint
from chang_e_rover.relay.ground import GroundStation
from chang_e_rover.relay.ground_cli import link_config, make_link
from chang_e_rover.relay.link import ChannelConfig, LinkSimulator
from chang_e_rover.relay.packets import Product
from chang_e_rover.relay.store import Store
from chang_e_rover.relay.telecommands import ArgLimits

KEY = bytes(range(32))
LIMITS = ArgLimits(100.0, {'pancam': (-3.1, 3.1), 'tcam': (-3.14, 3.14)},
                   {'pancam': (-1.2, 1.2), 'tcam': (-0.6, 1.2)})
RELAY = config.load_params('relay.yaml', 'relay')
PORTS = dict(relay=47210, link_relay=47211, link_ground=47212, ground=47213)


def test_link_defaults_are_the_icd_figures():
    p = link_config()
    assert p['down.rate_bps'] == 555000.0 and p['up.rate_bps'] == 125.0
    assert p['down.delay_s'] == p['up.delay_s'] == 1.7


def test_channel_drops_during_outages_and_paces_to_its_rate():
    import random
    from chang_e_rover.relay.link import Channel
    ch = Channel(ChannelConfig(8000.0, 1.0, outages=[(2.0, 3.0)]), random.Random(0), 0.0)
    (arrival, _), = ch.offer(b'x' * 100, 0.0)         # 800 bits at 8 kbit/s: 0.1 s
    assert arrival == 0.1 + 1.0
    assert ch.offer(b'x' * 100, 2.5) == [] and ch.stats.outage == 1


def run_downlink(tmp_path, loss: float, outages, count: int = 1000, timeout: float = 240.0):
    down = ChannelConfig(555000.0, 1.7, loss=loss, duplicate=loss, reorder=loss,
                         bit_error=0.01, outages=outages)
    up = ChannelConfig(125.0, 1.7, loss=loss, duplicate=loss, reorder=loss, outages=outages)
    link = LinkSimulator(down, up, PORTS['relay'], PORTS['ground'], PORTS['link_relay'],
                         PORTS['link_ground'], seed=3).start()
    store = Store(tmp_path / 'relay.sqlite', 'FULL', rto_s=RELAY['retransmit_timeout_s'],
                  nak_holdoff_s=RELAY['nak_holdoff_s'])
    relay = RelayEndpoint(store, KEY, LIMITS, PORTS['relay'], ('127.0.0.1', PORTS['link_relay']),
                          555000.0, 1024, 64, 1024, lambda tc: None)
    got: dict[int, list[int]] = {}
    ground = GroundStation(KEY, PORTS['ground'], ('127.0.0.1', PORTS['link_ground']), 125.0,
                           tmp_path / 'ground', ack_max_runs=16,
                           on_product=lambda apid, p, t: got.setdefault(apid, []).append(
                               struct.unpack('>I', p.body[:4])[0]))
    try:
        for i in range(count):          # three APIDs, three priorities, one packet each
            apid = 0x20 + i % 3
            body = struct.pack('>I', i) + bytes(100 + (i * 37) % 800)
            store.enqueue(apid, i % 3, Product('/t', 'x/msg/Y', body), i, 1024)
        relay.start()
        ground.start()
        end = time.monotonic() + timeout
        while sum(map(len, got.values())) < count and time.monotonic() < end:
            time.sleep(0.2)
        time.sleep(3.0)                 # late duplicates still in flight must be dropped
        return got, ground, link, store
    finally:
        relay.stop()
        ground.stop()
        link.stop()


def test_a_thousand_packets_through_loss_duplication_reordering_and_two_outages(tmp_path):
    got, ground, link, store = run_downlink(tmp_path, 0.10, [(4.0, 8.0), (14.0, 18.0)])
    d = link.down.stats
    assert d.lost > 50 and d.duplicated > 50 and d.reordered > 50 and d.outage > 0
    assert d.corrupted > 0 and ground.bad_packets >= d.corrupted * 0.5
    for apid, items in got.items():
        expected = list(range(apid - 0x20, 1000, 3))
        assert items == expected, f'APID {apid:#x}: each product once and in order'
    assert sum(len(v) for v in got.values()) == 1000
    packets_total = sum(s.delivered_packets for s in ground.apids.values())
    assert packets_total == sum(n - 1 for n in store.next_seq().values()) == 1000
    assert sum(s.duplicates for s in ground.apids.values()) > 0, 'duplicates were dropped'


def test_link_from_config_forwards_both_ways(tmp_path):
    link = make_link({'down.delay_s': 0.05, 'up.delay_s': 0.05})
    assert link.down.cfg.rate_bps == 555000.0
    link.stop()
