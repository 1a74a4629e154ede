"""Relay benchmarks: store throughput, goodput over the simulated link, memory.

Peers measured in the same run: spacepackets' raw encode rate (the floor cost
of making the packets at all) for the store; the link's own capacity for the
goodput. Not a test: nothing asserted.
  ./dev bench relay [--megabytes 4] [--packets 20000]
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

from spacepackets.ccsds.spacepacket import PacketType, SpacePacket, SpacePacketHeader  # noqa: E402

from chang_e_rover import config  # noqa: E402
from chang_e_rover.relay import packets  # noqa: E402
from chang_e_rover.relay.endpoint import RelayEndpoint  # noqa: E402
from chang_e_rover.relay.ground import GroundStation  # noqa: E402
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


def bench_store(n: int, max_packet: int) -> None:
    data = os.urandom(max_packet - packets.TM_OVERHEAD - 40)
    t0 = time.perf_counter()
    for i in range(n):
        SpacePacket(SpacePacketHeader(packet_type=PacketType.TM, apid=0x20, seq_count=i & 0x3FFF,
                                      data_len=0, sec_header_flag=True),
                    sec_header=bytes(20), user_data=data).pack()
    raw_rate = n / (time.perf_counter() - t0)
    print(f'spacepackets SpacePacket.pack, {max_packet} B packets: {raw_rate:9.0f} packets/s '
          '(peer)')
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
            link_rate = 555000 / 8 / max_packet
            print(f'store enqueue, synchronous={sync:<6} {batch:2d} packets/product: '
                  f'{rate:8.0f} packets/s ({rate / raw_rate:5.2f} x raw encode, '
                  f'{rate / link_rate:6.0f} x the 555 kbit/s link); dequeue {out_rate:7.0f}/s')


def bench_goodput(megabytes: float, max_packet: int, product_kib: int) -> None:
    ports = (47310, 47311, 47312, 47313)
    rate = config.load_params('relay.yaml', 'link')['down.rate_bps']
    relay_p = config.load_params('relay.yaml', 'relay')
    link = LinkSimulator(ChannelConfig(rate, 1.7), ChannelConfig(125.0, 1.7), ports[0],
                         ports[3], ports[1], ports[2]).start()
    with tempfile.TemporaryDirectory() as d:
        rss0 = rss_mib()
        store = Store(Path(d) / 'relay.sqlite', 'FULL', relay_p['retransmit_timeout_s'],
                      relay_p['nak_holdoff_s'])
        relay = RelayEndpoint(store, KEY, LIMITS, ports[0], ('127.0.0.1', ports[1]), rate,
                              max_packet, 64, 1024, lambda tc: None)
        done = {'bytes': 0, 'products': 0, 't_last': 0.0}

        def on_product(apid, product, t):
            done['bytes'] += len(product.body)
            done['products'] += 1
            done['t_last'] = time.monotonic()
        ground = GroundStation(KEY, ports[3], ('127.0.0.1', ports[2]), 125.0, Path(d) / 'g',
                               on_product=on_product)
        n = int(megabytes * 1e6 / (product_kib * 1024))
        body = os.urandom(product_kib * 1024)
        for i in range(n):
            store.enqueue(0x40, 3, Product('/img', 'sensor_msgs/msg/CompressedImage', body),
                          i, max_packet)
        rss_queued = rss_mib()
        ground.start()
        t0 = time.monotonic()
        relay.start()
        while done['products'] < n and time.monotonic() - t0 < 600:
            time.sleep(0.1)
        elapsed = done['t_last'] - t0 - 1.7          # the light time is not link time
        capacity = rate / 8 * elapsed
        print(f'goodput: {done["bytes"] / 1e6:.2f} MB of {product_kib} KiB products in '
              f'{elapsed:.1f} s of link time: {8 * done["bytes"] / elapsed / 1e3:.0f} kbit/s = '
              f'{100 * done["bytes"] / capacity:.1f} % of the {rate / 1e3:.0f} kbit/s link '
              f'(persistence FULL; packets sent {relay.sent_packets}, unique '
              f'{sum(s.delivered_packets for s in ground.apids.values())}, duplicates dropped '
              f'{sum(s.duplicates for s in ground.apids.values())})')
        print(f'memory: RSS {rss0:.0f} MiB before, {rss_queued:.0f} MiB with {n} products '
              f'({megabytes:.0f} MB) queued, {rss_mib():.0f} MiB after the downlink; '
              f'peak {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB')
        relay.stop()
        ground.stop()
        store.close()
    link.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument('--packets', type=int, default=20000)
    ap.add_argument('--megabytes', type=float, default=4.0)
    ap.add_argument('--product-kib', type=int, default=64)
    args = ap.parse_args()
    max_packet = config.load_params('relay.yaml', 'relay')['max_packet_bytes']
    bench_store(args.packets, max_packet)
    bench_goodput(args.megabytes, max_packet, args.product_kib)


if __name__ == '__main__':
    main()
