"""Space link simulator between the lander relay and the ground station. Pure Python.

Two UDP sockets on loopback stand for the two ends of the Queqiao relay path.
Each direction is a channel with a data rate (a packet occupies the link for
its bits / rate), a one-way light time, random loss, duplication, reordering
(extra delay), bit errors (one bit flipped: the CRC must catch it), a bounded
transmit buffer (a full buffer drops, as a radio's FIFO does) and visibility
windows (outages drop everything). Figures come from config/relay.yaml. Times are
the LinkClock's (relay/clock.py): wall seconds, or sim seconds in a simulation.
"""
from __future__ import annotations

from dataclasses import dataclass, field
import heapq
import random
import selectors
import socket
import threading

from chang_e_rover.relay.clock import LinkClock

IDLE_S = 0.05     # wall seconds the link blocks on its sockets with nothing in flight


@dataclass
class ChannelConfig:
    rate_bps: float
    delay_s: float
    loss: float = 0.0
    duplicate: float = 0.0
    reorder: float = 0.0
    reorder_delay_s: float = 0.5
    bit_error: float = 0.0          # probability that a packet has one bit flipped
    buffer_bytes: int = 1 << 20
    outages: list[tuple[float, float]] = field(default_factory=list)   # from start, s

    def __post_init__(self):
        if not self.rate_bps > 0 or self.delay_s < 0:
            raise ValueError('channel rate must be positive and delay not negative')
        for name in ('loss', 'duplicate', 'reorder', 'bit_error'):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f'{name} must be a probability')


@dataclass
class ChannelStats:
    offered: int = 0
    delivered: int = 0
    lost: int = 0
    overflow: int = 0
    outage: int = 0
    duplicated: int = 0
    reordered: int = 0
    corrupted: int = 0
    bytes_delivered: int = 0


class Channel:
    """One direction: decides when (and whether, and how mangled) each packet arrives."""

    def __init__(self, cfg: ChannelConfig, rng: random.Random, start: float):
        self.cfg, self.rng, self.start = cfg, rng, start
        self.free_at = start          # when the transmitter finishes its queue
        self.stats = ChannelStats()

    def in_outage(self, now: float) -> bool:
        t = now - self.start
        return any(a <= t < b for a, b in self.cfg.outages)

    def offer(self, data: bytes, now: float) -> list[tuple[float, bytes]]:
        """Return the (arrival time, bytes) copies of one packet sent at now."""
        cfg, rng, st = self.cfg, self.rng, self.stats
        st.offered += 1
        backlog = max(0.0, self.free_at - now) * cfg.rate_bps / 8
        if backlog + len(data) > cfg.buffer_bytes:
            st.overflow += 1
            return []
        self.free_at = max(self.free_at, now) + len(data) * 8 / cfg.rate_bps
        if self.in_outage(self.free_at):
            st.outage += 1
            return []
        if rng.random() < cfg.loss:
            st.lost += 1
            return []
        copies = 2 if rng.random() < cfg.duplicate else 1
        st.duplicated += copies - 1
        out = []
        for _ in range(copies):
            arrival = self.free_at + cfg.delay_s
            if rng.random() < cfg.reorder:
                arrival += rng.uniform(0.0, cfg.reorder_delay_s)
                st.reordered += 1
            payload = data
            if rng.random() < cfg.bit_error:
                flipped = bytearray(data)
                bit = rng.randrange(len(data) * 8)
                flipped[bit // 8] ^= 0x80 >> (bit % 8)
                payload = bytes(flipped)
                st.corrupted += 1
            out.append((arrival, payload))
        return out


class LinkSimulator:
    """Forward UDP datagrams relay <-> ground through two channels, on its own thread."""

    def __init__(self, down: ChannelConfig, up: ChannelConfig, relay_port: int,
                 ground_port: int, link_relay_port: int, link_ground_port: int,
                 seed: int = 0, host: str = '127.0.0.1', clock: LinkClock | None = None):
        """:param clock: what delays, rates and outages are timed on (the wall clock if None);
            outages count from its reading now (sim time 0 before the simulator's first step)."""
        self.clock = clock or LinkClock()
        start = self.clock.now()
        rng = random.Random(seed)
        self.down = Channel(down, random.Random(rng.random()), start)
        self.up = Channel(up, random.Random(rng.random()), start)
        self.relay_addr, self.ground_addr = (host, relay_port), (host, ground_port)
        self.relay_side = self._bind(host, link_relay_port)     # the relay sends here
        self.ground_side = self._bind(host, link_ground_port)   # the ground sends here
        self._heap: list[tuple[float, int, socket.socket, tuple, bytes]] = []
        self._counter = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @staticmethod
    def _bind(host: str, port: int) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        sock.bind((host, port))
        sock.setblocking(False)
        return sock

    def start(self) -> LinkSimulator:
        self._thread = threading.Thread(target=self.run, name='link', daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
        self.relay_side.close()
        self.ground_side.close()

    def run(self) -> None:
        sel = selectors.DefaultSelector()
        sel.register(self.relay_side, selectors.EVENT_READ, (self.down, self.ground_side,
                                                             self.ground_addr))
        sel.register(self.ground_side, selectors.EVENT_READ, (self.up, self.relay_side,
                                                              self.relay_addr))
        while not self._stop.is_set():
            now = self.clock.now()
            while self._heap and self._heap[0][0] <= now:
                _, _, sock, addr, data = heapq.heappop(self._heap)
                try:
                    sock.sendto(data, addr)
                except OSError:
                    pass          # the far end is down: the packet is lost, as in space
            timeout = self.clock.wait_s(self._heap[0][0], IDLE_S) if self._heap else IDLE_S
            for key, _ in sel.select(timeout):
                channel, out_sock, addr = key.data
                while True:
                    try:
                        data = key.fileobj.recv(65536)
                    except (BlockingIOError, OSError):
                        break
                    for arrival, payload in channel.offer(data, self.clock.now()):
                        channel.stats.delivered += 1
                        channel.stats.bytes_delivered += len(payload)
                        self._counter += 1
                        heapq.heappush(self._heap, (arrival, self._counter, out_sock, addr,
                                                    payload))
        sel.close()
