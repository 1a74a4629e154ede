"""ROS 2 node /rover/science: the simulated radar and neutral-atom analyser.

Publishes rover/lpr/trace and rover/naa/spectrum (std_msgs/Float32MultiArray,
one labelled dimension). The radar samples the subsurface under the rover's
odometry position.
"""
from __future__ import annotations

import math

from nav_msgs.msg import Odometry
import rclpy
from rclpy.node import Node
from std_msgs.msg import Float32MultiArray, MultiArrayDimension

from chang_e_rover.ros_common import declare_from_config, spin_node, STATE_QOS
from chang_e_rover.science.instruments import NeutralAtomAnalyser, PenetratingRadar


def _array(values, label: str) -> Float32MultiArray:
    msg = Float32MultiArray()
    msg.layout.dim = [MultiArrayDimension(label=label, size=len(values), stride=len(values))]
    msg.data = values.tolist()
    return msg


class ScienceNode(Node):
    def __init__(self, **kwargs):
        super().__init__('science', **kwargs)
        p = declare_from_config(self, 'rover.yaml', 'science')
        self.radar = PenetratingRadar(p['seed'], p['lpr.noise'], p['fault_rate'])
        self.naa = NeutralAtomAnalyser(p['seed'], p['naa.flux'], p['fault_rate'])
        self.naa_period = 1.0 / p['naa.rate_hz']
        self.distance = 0.0
        self._last_xy: tuple[float, float] | None = None
        self.lpr_pub = self.create_publisher(Float32MultiArray, 'lpr/trace', STATE_QOS)
        self.naa_pub = self.create_publisher(Float32MultiArray, 'naa/spectrum', STATE_QOS)
        self.create_subscription(Odometry, 'odom', self.odom_callback, STATE_QOS)
        self.create_timer(1.0 / p['lpr.rate_hz'], self.lpr_callback)
        self.create_timer(self.naa_period, self.naa_callback)

    def odom_callback(self, msg: Odometry) -> None:
        xy = (msg.pose.pose.position.x, msg.pose.pose.position.y)
        if self._last_xy is not None:
            self.distance += math.dist(xy, self._last_xy)
        self._last_xy = xy

    def lpr_callback(self) -> None:
        self.lpr_pub.publish(_array(self.radar.trace(self.distance), 'sample'))

    def naa_callback(self) -> None:
        self.naa_pub.publish(_array(self.naa.spectrum(self.naa_period), 'energy_bin'))


def main(args=None) -> None:
    rclpy.init(args=args)
    spin_node(ScienceNode(namespace='rover'))
