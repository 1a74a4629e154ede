"""Relay benchmarks: store throughput, goodput over the simulated link, repeats, memory.

Peers measured in the same run: spacepackets' raw encode rate (the floor cost
of making the packets at all) for the store; the link's own capacity, and the
share of it the packet headers leave for data, for the goodput. Repeats: the
copies the ground received beyond the first of each packet (it drops them),
counted when the last product is complete and again once the relay holds
nothing unacknowledged. Figures go to bench/results/relay.json. Not a test:
nothing asserted.
  ./dev bench relay [--megabytes 4 16] [--packets 20000]
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path
import resource
import sys
import tempfile
import time

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from results import write_results  # noqa: E402
from spacepackets.ccsds.spacepacket import PacketType, SpacePacket, SpacePacketHeader  # noqa: E402

from chang_e_rover import config  # noqa: E402
from chang_e_rover.relay import packets  # noqa: E402
from chang_e_rover.relay.endpoint import RelayEndpoint  # noqa: E402
from chang_e_rover.relay.ground import GroundStation  # noqa: E402
from chang_e_rover.relay.ground_cli import link_config  # noqa: E402
from chang_e_rover.relay.link import ChannelConfig, LinkSimulator  # noqa: E402
from chang_e_rover.relay.packets import Product  # noqa: E402
from chang_e_rover.relay.store import Store  # noqa: E402
from chang_e_rover.relay.telecommands import ArgLimits  # noqa: E402

KEY = os.urandom(32)
LIMITS = ArgLimits(100.0, {'pancam': (-3, 3), 'tcam': (-3, 3)}, {'pancam': (-1, 1),
                                                                 'tcam': (-1, 1)})


def rss_mib() -> float:
    for line in Path('/proc/self/status').read_text().splitlines():
        if line.startswith('VmRSS:'):
            return int(line.split()[1]) / 1024
    return float('nan')


def bench_store(n: int, max_packet: int, figure: dict, peer: dict) -> None:
    data = os.urandom(max_packet - packets.TM_OVERHEAD - 40)
    t0 = time.perf_counter()
    for i in range(n):
        SpacePacket(SpacePacketHeader(packet_type=PacketType.TM, apid=0x20, seq_count=i & 0x3FFF,
                                      data_len=0, sec_header_flag=True),
                    sec_header=bytes(20), user_data=data).pack()
    raw_rate = n / (time.perf_counter() - t0)
    print(f'spacepackets SpacePacket.pack, {max_packet} B packets: {raw_rate:9.0f} packets/s '
          '(peer)')
    peer['spacepackets SpacePacket.pack, packets/s'] = round(raw_rate)
    for sync in ('FULL', 'NORMAL'):
        for batch in (1, 16):
            with tempfile.TemporaryDirectory() as d:
                store = Store(Path(d) / 's.sqlite', sync)
                body = os.urandom((max_packet - packets.TM_OVERHEAD) * batch - 60)
                t0 = time.perf_counter()
                count = 0
                while count < n:
                    store.enqueue(0x20, 1, Product('/t', 'x/msg/Y', body), 0, max_packet)
                    count += batch
                rate = count / (time.perf_counter() - t0)
                t0 = time.perf_counter()
                sent = 0
                while store.next_packet(1.0) is not None:
                    sent += 1
                out_rate = sent / (time.perf_counter() - t0)
                store.close()
            link_bps = link_config()['down.rate_bps']
            link_rate = link_bps / 8 / max_packet
            print(f'store enqueue, synchronous={sync:<6} {batch:2d} packets/product: '
                  f'{rate:8.0f} packets/s ({rate / raw_rate:5.2f} x raw encode, '
                  f'{rate / link_rate:6.0f} x the {link_bps / 1000:g} kbit/s link); '
                  f'dequeue {out_rate:7.0f}/s')
            name = f'store {sync}, {batch} packets/product'
            figure[f'{name}: enqueue packets/s'] = round(rate)
            figure[f'{name}: dequeue packets/s'] = round(out_rate)


def repeats(ground: GroundStation) -> tuple[int, int]:
    """Return (packets the ground kept, copies it dropped as duplicates)."""
    apids = ground.summary()['apids'].values()
    return (sum(a['packets'] + a['waiting_out_of_order'] for a in apids),
            sum(a['duplicates_dropped'] for a in apids))


def bench_goodput(megabytes: float, max_packet: int, product_kib: int, figure: dict,
                  peer: dict) -> None:
    ports = (47310, 47311, 47312, 47313)
    lk = link_config()
    rate, up_rate, light_s = lk['down.rate_bps'], lk['up.rate_bps'], lk['down.delay_s']
    relay_p = config.load_params('relay.yaml', 'relay')
    link = LinkSimulator(ChannelConfig(rate, light_s), ChannelConfig(up_rate, lk['up.delay_s']),
                         ports[0], ports[3], ports[1], ports[2]).start()
    with tempfile.TemporaryDirectory() as d:
        rss0 = rss_mib()
        store = Store(Path(d) / 'relay.sqlite', 'FULL', relay_p['retransmit_timeout_s'],
                      relay_p['nak_holdoff_s'], relay_p['retransmit_timeout_min_s'],
                      relay_p['retransmit_timeout_max_s'])
        relay = RelayEndpoint(store, KEY, LIMITS, ports[0], ('127.0.0.1', ports[1]), rate,
                              max_packet, 64, 1024, lambda tc: None)
        done = {'bytes': 0, 'products': 0, 't_last': 0.0}

        def on_product(apid, product, t):
            done['bytes'] += len(product.body)
            done['products'] += 1
            done['t_last'] = time.monotonic()
        ground = GroundStation(KEY, ports[3], ('127.0.0.1', ports[2]), up_rate, Path(d) / 'g',
                               on_product=on_product)
        n = int(megabytes * 1e6 / (product_kib * 1024))
        body = os.urandom(product_kib * 1024)
        for i in range(n):
            store.enqueue(0x40, 3, Product('/img', 'sensor_msgs/msg/CompressedImage', body),
                          i, max_packet)
        packets_total, _, packet_bytes = store.stats()
        rss_queued = rss_mib()
        ground.start()
        t0 = time.monotonic()
        relay.start()
        while done['products'] < n and time.monotonic() - t0 < 600:
            time.sleep(0.1)
        elapsed = done['t_last'] - t0 - light_s      # the light time is not link time
        kept, dups = repeats(ground)
        # Then until the relay holds nothing unacknowledged, and the last copies have landed.
        t_done = time.monotonic()
        while store.stats()[0] and time.monotonic() - t_done < 120:
            time.sleep(0.1)
        t_acked = time.monotonic() - t_done
        time.sleep(2 * light_s)
        kept_all, dups_all = repeats(ground)
        capacity = rate / 8 * elapsed
        goodput = 100 * done['bytes'] / capacity
        # What the headers leave: product bytes over the bytes of the packets carrying them.
        ceiling = 100 * done['bytes'] / packet_bytes
        tag = f'{megabytes:g} MB'
        print(f'goodput, {tag}: {done["bytes"] / 1e6:.2f} MB of {product_kib} KiB products in '
              f'{elapsed:.1f} s of link time: {8 * done["bytes"] / elapsed / 1e3:.0f} kbit/s = '
              f'{goodput:.1f} % of the {rate / 1e3:.0f} kbit/s link (peer: the link; its '
              f'packet headers leave {ceiling:.1f} %; persistence FULL)')
        print(f'repeats, {tag}: {100 * dups / (kept + dups):.1f} % of the packets the ground '
              f'received by the last product ({dups} of {kept + dups}); '
              f'{100 * dups_all / (kept_all + dups_all):.1f} % until all acknowledged '
              f'({dups_all} of {kept_all + dups_all}, {t_acked:.1f} s later). Relay: sent '
              f'{relay.sent_packets} packets (its status packets included) for '
              f'{packets_total}, repeats '
              f'{store.repeats_nak} reported missing + {store.repeats_timeout} timed out, '
              f'{store.naks_too_young} reports set aside as too young; round trip '
              f'{store.rtt.srtt_s or float("nan"):.1f} s smoothed, variation '
              f'{store.rtt.rttvar_s or float("nan"):.2f} s, timer {store.rtt.rto_s:.1f} s, '
              f'{store.rtt.samples} samples')
        print(f'memory, {tag}: RSS {rss0:.0f} MiB before, {rss_queued:.0f} MiB with {n} '
              f'products queued, {rss_mib():.0f} MiB after the downlink; peak '
              f'{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB')
        figure[f'goodput {tag}: % of link'] = round(goodput, 1)
        figure[f'goodput {tag}: kbit/s'] = round(8 * done['bytes'] / elapsed / 1e3)
        figure[f'goodput {tag}: link time s'] = round(elapsed, 1)
        figure[f'repeats {tag}: % of packets received, by the last product'] = round(
            100 * dups / (kept + dups), 1)
        figure[f'repeats {tag}: % of packets received, until all acknowledged'] = round(
            100 * dups_all / (kept_all + dups_all), 1)
        figure[f'repeats {tag}: relay repeats reported missing / timed out'] = [
            store.repeats_nak, store.repeats_timeout]
        figure[f'round trip {tag}: smoothed s, variation s, timer s'] = [
            round(store.rtt.srtt_s or 0.0, 2), round(store.rtt.rttvar_s or 0.0, 2),
            round(store.rtt.rto_s, 2)]
        figure[f'memory {tag}: peak RSS MiB'] = round(
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
        peer['link kbit/s'] = rate / 1e3
        peer[f'goodput {tag}: % the packet headers leave'] = round(ceiling, 1)
        relay.stop()
        ground.stop()
        store.close()
    link.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument('--packets', type=int, default=20000)
    ap.add_argument('--megabytes', type=float, nargs='+', default=[4.0, 16.0])
    ap.add_argument('--product-kib', type=int, default=64)
    args = ap.parse_args()
    max_packet = config.load_params('relay.yaml', 'relay')['max_packet_bytes']
    figure, peer = {}, {}
    bench_store(args.packets, max_packet, figure, peer)
    for megabytes in args.megabytes:
        bench_goodput(megabytes, max_packet, args.product_kib, figure, peer)
    write_results('relay', figure, peer, setup={'store packets': args.packets,
                                                'megabytes': args.megabytes,
                                                'product KiB': args.product_kib})


if __name__ == '__main__':
    main()
