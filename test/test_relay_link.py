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
from isolation import port_shift

KEY = bytes(range(32))
LIMITS = ArgLimits(100.0, {'pancam': (-3.1, 3.1), 'tcam': (-3.14, 3.14)},
                   {'pancam': (-1.2, 1.2), 'tcam': (-0.6, 1.2)})
RELAY = config.load_params('relay.yaml', 'relay')
GROUND = config.load_params('relay.yaml', 'ground')
LINK = link_config()
PORTS = {k: v + port_shift() for k, v in
         dict(relay=5210, link_relay=5211, link_ground=5212, ground=5213).items()}


def test_link_defaults_are_the_icd_figures():
    p = link_config()
    assert p['down.rate_bps'] == 555000.0 and p['up.rate_bps'] == 125.0
    assert p['down.delay_s'] == p['up.delay_s'] == 1.7


def test_the_link_takes_the_endpoints_ports_and_rates_and_refuses_them_repeated(monkeypatch):
    import pytest
    from chang_e_rover.relay import ground_cli
    p = link_config()
    assert (p['relay_side_port'], p['ground_side_port']) == (RELAY['link_port'],
                                                             GROUND['link_port'])
    assert (p['down.rate_bps'], p['up.rate_bps']) == (RELAY['downlink_rate_bps'],
                                                      GROUND['uplink_rate_bps'])
    load = config.load_params
    monkeypatch.setattr(ground_cli.config, 'load_params', lambda f, n: (
        {**load(f, n), 'up.rate_bps': 2000.0} if n == 'link' else load(f, n)))
    with pytest.raises(config.ConfigError, match='link.up.rate_bps repeats'):
        link_config()


def test_relay_ports_stay_below_the_ports_dds_domains_use(tmp_path):
    import pytest
    ports = [v for params in (RELAY, GROUND) for k, v in params.items()
             if k == 'port' or k.endswith('_port')]
    assert ports and max(ports) < config.DDS_FIRST_PORT
    assert max(PORTS.values()) < config.DDS_FIRST_PORT
    too_far = config.DDS_FIRST_PORT - RELAY['port']
    with pytest.raises(config.ConfigError, match='below the ports DDS domains use'):
        config.copy_share(tmp_path / 'share', too_far)
    assert not (tmp_path / 'share').exists(), 'a refused shift writes nothing'
    moved = config.copy_share(tmp_path / 'ok', 7)
    import yaml
    data = yaml.safe_load((moved / 'config' / 'relay.yaml').read_text())
    assert data['relay']['ros__parameters']['port'] == RELAY['port'] + 7


def test_channel_drops_during_outages_and_paces_to_its_rate():
    import random
    from chang_e_rover.relay.link import Channel
    ch = Channel(ChannelConfig(8000.0, 1.0, outages=[(2.0, 3.0)]), random.Random(0), 0.0)
    (arrival, _), = ch.offer(b'x' * 100, 0.0)         # 800 bits at 8 kbit/s: 0.1 s
    assert arrival == 0.1 + 1.0
    assert ch.offer(b'x' * 100, 2.5) == [] and ch.stats.outage == 1


class ScaledClock:
    """A stand-in for a ROS clock with use_sim_time: sim time at rate x wall time."""

    class _Time:
        def __init__(self, ns: int):
            self.nanoseconds = ns

    def __init__(self, rate: float):
        self.rate, self.start = rate, time.monotonic()

    def now(self):
        return self._Time(int((time.monotonic() - self.start) * self.rate * 1e9))


def run_downlink(tmp_path, loss: float, outages, count: int = 1000, timeout: float = 480.0,
                 rate: float | None = None):
    """count products through the link, the relay's store and the ground station. With a
    rate, all three run on one simulated clock that many times faster than real time (as
    they do beside the simulator); outages and the timeout are in that clock's seconds."""
    from chang_e_rover.relay.clock import LinkClock
    clock = LinkClock(ScaledClock(rate) if rate else None)
    down = ChannelConfig(LINK['down.rate_bps'], LINK['down.delay_s'], loss=loss, duplicate=loss,
                         reorder=loss, bit_error=0.01, outages=outages)
    up = ChannelConfig(LINK['up.rate_bps'], LINK['up.delay_s'], loss=loss, duplicate=loss,
                       reorder=loss, outages=outages)
    link = LinkSimulator(down, up, PORTS['relay'], PORTS['ground'], PORTS['link_relay'],
                         PORTS['link_ground'], seed=3, clock=clock).start()
    store = Store(tmp_path / 'relay.sqlite', 'FULL', rto_s=RELAY['retransmit_timeout_s'],
                  nak_holdoff_s=RELAY['nak_holdoff_s'],
                  rto_min_s=RELAY['retransmit_timeout_min_s'],
                  rto_max_s=RELAY['retransmit_timeout_max_s'])
    relay = RelayEndpoint(store, KEY, LIMITS, PORTS['relay'], ('127.0.0.1', PORTS['link_relay']),
                          RELAY['downlink_rate_bps'], RELAY['max_packet_bytes'],
                          RELAY['tc_window_behind'], RELAY['tc_window_ahead'], lambda tc: None,
                          clock=clock)
    got: dict[int, list[int]] = {}
    ground = GroundStation(KEY, PORTS['ground'], ('127.0.0.1', PORTS['link_ground']),
                           GROUND['uplink_rate_bps'], tmp_path / 'ground',
                           ack_max_runs=GROUND['ack_max_runs'], clock=clock,
                           on_product=lambda apid, p, t: got.setdefault(apid, []).append(
                               struct.unpack('>I', p.body[:4])[0]))
    try:
        for i in range(count):          # three APIDs, three priorities, one packet each
            apid = 0x20 + i % 3
            body = struct.pack('>I', i) + bytes(100 + (i * 37) % 800)
            store.enqueue(apid, i % 3, Product('/t', 'x/msg/Y', body), i,
                          RELAY['max_packet_bytes'])
        relay.start()
        ground.start()
        end = clock.now() + timeout
        while sum(map(len, got.values())) < count and clock.now() < end:
            clock.sleep(0.2)
        clock.sleep(3.0)                # late duplicates still in flight must be dropped
        return got, ground, link, store
    finally:
        relay.stop()
        ground.stop()
        link.stop()


def test_a_thousand_packets_through_loss_duplication_reordering_and_two_outages(tmp_path):
    # On a simulated clock at 8x real time: the light time, rates and outages are the ICD's.
    # The clock runs on whether or not the endpoints' threads get a core, so on a loaded
    # machine the same traffic takes more of its seconds: the wait allows 2400 of them
    # (300 s of wall), and ends as soon as every product is in.
    got, ground, link, store = run_downlink(tmp_path, 0.10, [(4.0, 8.0), (14.0, 18.0)],
                                            timeout=2400.0, rate=8.0)
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
    assert link.down.cfg.rate_bps == RELAY['downlink_rate_bps']
    assert link.up.cfg.rate_bps == GROUND['uplink_rate_bps']
    link.stop()


def test_ground_command_line_parses_and_refuses(tmp_path, monkeypatch):
    import pytest
    from chang_e_rover.relay import ground_cli
    assert ground_cli.parse_command('drive_goal x_m=5 y_m=-1.5') == (
        'drive_goal', {'x_m': 5.0, 'y_m': -1.5})
    assert ground_cli.parse_command('wheel_reset wheel=2') == ('wheel_reset', {'wheel': 2})
    for bad in ('fly_away', 'drive_goal z=1', 'stop now', ''):
        with pytest.raises(ValueError):
            ground_cli.parse_command(bad)
    monkeypatch.setenv('CHANG_E_ROVER_STATE', str(tmp_path))
    assert ground_cli.main(['keygen']) == 0
    key = tmp_path / 'keys' / 'telecommand.key'
    assert key.stat().st_mode & 0o777 == 0o600 and len(bytes.fromhex(key.read_text())) == 32
    before = key.read_text()
    assert ground_cli.main(['keygen']) == 1 and key.read_text() == before, 'never overwritten'


def test_missing_or_weak_key_is_refused(tmp_path):
    import pytest
    from chang_e_rover.config import ConfigError
    from chang_e_rover.relay.keys import read_key
    with pytest.raises(ConfigError, match='not found'):
        read_key(tmp_path / 'none.key')
    (tmp_path / 'weak.key').write_text('abcd\n')
    (tmp_path / 'weak.key').chmod(0o600)
    with pytest.raises(ConfigError, match='at least'):
        read_key(tmp_path / 'weak.key')
    (tmp_path / 'bad.key').write_text('not hex\n')
    (tmp_path / 'bad.key').chmod(0o600)
    with pytest.raises(ConfigError, match='hexadecimal'):
        read_key(tmp_path / 'bad.key')


def test_a_ground_started_afresh_picks_up_where_the_relay_is(tmp_path):
    link = LinkSimulator(ChannelConfig(555000.0, 0.05), ChannelConfig(125.0, 0.05),
                         PORTS['relay'], PORTS['ground'], PORTS['link_relay'],
                         PORTS['link_ground']).start()
    store = Store(tmp_path / 'relay.sqlite', 'NORMAL', rto_s=1.0, nak_holdoff_s=1.0)
    relay = RelayEndpoint(store, KEY, LIMITS, PORTS['relay'], ('127.0.0.1', PORTS['link_relay']),
                          555000.0, 1024, 64, 1024, lambda tc: None).start()
    try:
        for run in (0, 1):
            got = []
            ground = GroundStation(KEY, PORTS['ground'], ('127.0.0.1', PORTS['link_ground']),
                                   125.0, tmp_path / f'ground{run}', ack_period_s=0.5,
                                   on_product=lambda a, p, t: got.append(p.body))
            for i in range(10):
                store.enqueue(0x20, 1, Product('/t', 'x/msg/Y', bytes([run, i])), 0, 1024)
            ground.start()
            end = time.monotonic() + 30
            while (len(got) < 10 or store.stats()[0]) and time.monotonic() < end:
                time.sleep(0.1)
            ground.stop()
            assert got == [bytes([run, i]) for i in range(10)], f'run {run}'
            assert store.stats()[0] == 0, 'all acknowledged'
    finally:
        relay.stop()
        link.stop()


def test_on_a_simulated_clock_the_light_time_is_sim_seconds_at_any_speed():
    import socket

    from chang_e_rover.relay.clock import LinkClock
    delay = LINK['down.delay_s']
    for rate in (5.0, 40.0):
        clock = LinkClock(ScaledClock(rate))
        link = LinkSimulator(ChannelConfig(555000.0, delay), ChannelConfig(125.0, delay),
                             PORTS['relay'], PORTS['ground'], PORTS['link_relay'],
                             PORTS['link_ground'], clock=clock).start()
        ground = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        ground.bind(('127.0.0.1', PORTS['ground']))
        ground.settimeout(10.0)
        try:
            sent = clock.now()
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(
                b'x' * 100, ('127.0.0.1', PORTS['link_relay']))
            ground.recv(1024)
            took = clock.now() - sent
        finally:
            ground.close()
            link.stop()
        # the clock is read every poll_s of wall time: at most that late, in sim seconds
        assert delay <= took <= delay + 3 * clock.poll_s * rate, (rate, took)
