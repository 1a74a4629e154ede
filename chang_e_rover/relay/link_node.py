"""ROS 2 node /link: the simulated space link between the lander relay and the ground.

Part of the simulated hardware, like /sim: it forwards UDP datagrams between the
relay and the ground station through the two channels of relay/link.py, on the
simulator's clock (use_sim_time), so a light time, a data rate or an outage lasts the
same simulated seconds however fast the simulation runs. It writes the telecommand key
the relay and the ground share when there is none. It publishes nothing; its
parameters are config/relay.yaml's link section (the ports and rates it shares with
the relay and the ground are read from their sections).
"""
from __future__ import annotations

import rclpy
from rclpy.node import Node

from chang_e_rover.relay.clock import LinkClock
from chang_e_rover.relay.ground_cli import ensure_key, make_link
from chang_e_rover.ros_common import declare_from_config, spin_node


class LinkNode(Node):
    def __init__(self, **kwargs):
        super().__init__('link', **kwargs)
        p = declare_from_config(self, 'relay.yaml', 'link')
        key = ensure_key()      # the relay and the ground of a simulation share a key
        if key is not None:
            self.get_logger().info(f'wrote a new telecommand key: {key}')
        self.link = make_link(p, clock=LinkClock.of_node(self)).start()
        self.get_logger().info(
            f'space link: {self.link.down.cfg.delay_s} s light time, on the '
            f'{"simulator" if self.link.clock.simulated else "wall"} clock')

    def destroy_node(self) -> None:
        link = getattr(self, 'link', None)       # also after a failed start (a port taken)
        if link is not None:
            link.stop()
        super().destroy_node()


def main(args=None) -> None:
    rclpy.init(args=args)
    spin_node(LinkNode())
