"""ROS 2 node /recorder: the chosen topics into an MCAP file, as `ros2 bag record` writes it.

Thin shell over record.bag.Bag. It looks at the graph every scan_period_s and
subscribes, raw (the CDR bytes as they came), to each new topic it is asked
for, with the QoS its publishers offer (best effort if any of them is, transient
local if all of them are), as rosbag2 adapts. It is outside the simulator's
lock-step loop: it only listens. A path that cannot be written is reported at
start, naming the path and what to do; the node then records nothing and the
rest of the stack runs on.
"""
from __future__ import annotations

import importlib

import rclpy
from rclpy.clock import Clock, ClockType
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

from chang_e_rover.record.bag import Bag, BagError
from chang_e_rover.ros_common import declare_from_config, spin_node

DEPTH = 100     # messages held per topic between two executor rounds


def _names(text: str) -> set[str]:
    return {t.strip() for t in text.split(',') if t.strip()}


class RecorderNode(Node):
    """Subscribes to topics as they appear and writes every message it hears."""

    def __init__(self, **kwargs):
        super().__init__('recorder', **kwargs)
        p = declare_from_config(self, 'record.yaml', 'recorder')
        self.wanted, self.exclude = _names(p['topics']), _names(p['exclude'])
        self.subs: dict[str, object] = {}
        self.skipped: set[str] = set()
        self.bag: Bag | None = None
        try:
            if not p['path']:
                raise BagError('no record path: set the parameter path (--record PATH)')
            self.bag = Bag(p['path'])
        except BagError as exc:
            self.get_logger().error(f'{exc}; recording nothing, the stack runs on')
            return
        self.get_logger().info(f'recording {", ".join(sorted(self.wanted)) or "every topic"} '
                               f'to {self.bag.path}')
        self.create_timer(float(p['scan_period_s']), self.scan,
                          clock=Clock(clock_type=ClockType.STEADY_TIME))
        self.scan()

    def scan(self) -> None:
        for topic, types in self.get_topic_names_and_types():
            if topic in self.subs or topic in self.skipped or topic in self.exclude or (
                    self.wanted and topic not in self.wanted):
                continue
            self._subscribe(topic, types[0])

    def _subscribe(self, topic: str, type_name: str) -> None:
        pkg, _, name = type_name.split('/')
        try:
            msg_type = getattr(importlib.import_module(f'{pkg}.msg'), name)
            self.bag.add_topic(topic, type_name)
        except (ImportError, AttributeError, FileNotFoundError) as exc:
            self.skipped.add(topic)
            self.get_logger().warning(f'{topic} ({type_name}) not recorded: {exc}')
            return
        offered = [i.qos_profile for i in self.get_publishers_info_by_topic(topic)]
        qos = QoSProfile(
            depth=DEPTH, history=HistoryPolicy.KEEP_LAST,
            reliability=ReliabilityPolicy.BEST_EFFORT if any(
                q.reliability == ReliabilityPolicy.BEST_EFFORT for q in offered)
            else ReliabilityPolicy.RELIABLE,
            durability=DurabilityPolicy.TRANSIENT_LOCAL if offered and all(
                q.durability == DurabilityPolicy.TRANSIENT_LOCAL for q in offered)
            else DurabilityPolicy.VOLATILE)
        self.subs[topic] = self.create_subscription(
            msg_type, topic, lambda data, topic=topic: self.heard(topic, data), qos, raw=True)

    def heard(self, topic: str, data: bytes) -> None:
        self.bag.write(topic, data, self.get_clock().now().nanoseconds)

    def destroy_node(self) -> None:
        if self.bag is not None:
            self.bag.close()
            self.get_logger().info(f'{sum(self.bag.counts.values())} messages on '
                                   f'{len(self.bag.counts)} topics written to {self.bag.path}')
        super().destroy_node()


def main(args=None) -> None:
    rclpy.init(args=args)
    spin_node(RecorderNode())
