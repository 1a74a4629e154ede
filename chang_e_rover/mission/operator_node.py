"""The simulator operator: what only a simulation session has, beside the flight stack.

A test operator's instruments and levers, kept apart from the flight-facing parts of
the mission (its phases, the ground station's telecommands): the wheel faults it
injects and clears through the simulator's `fault.wheel_<id>` parameters, the rover's
ground-truth position (`/sim/ground_truth/odom`) with the distance it drives, and
during the crossing the ground-truth path and the tall rocks the rover touches (the
simulator's contact list).
"""
from __future__ import annotations

import math
from typing import Callable, Iterable

from nav_msgs.msg import Odometry
from rcl_interfaces.srv import SetParameters
from rclpy.node import Node
from rclpy.parameter import Parameter

from chang_e_rover.mission.plan import PathMeter, path_length, rocks_near
from chang_e_rover.ros_common import STATE_QOS

PATH_STEP_M = 0.05      # a crossing path point is kept once the rover is this far on


class SimOperator:
    """Fault injection, ground truth and the rock contact probe of one simulation session."""

    def __init__(self, node: Node, contacts: Callable[[], set[str]] | None = None,
                 tall_rocks: Iterable[tuple[str, tuple[float, float]]] = ()):
        """:param contacts: names of the geoms the rover touches now (ground truth), or None
        :param tall_rocks: (name, (x, y)) of the rocks it must not touch, world metres
        """
        self.contacts = contacts
        self.tall_rocks = {name: (float(x), float(y)) for name, (x, y) in tall_rocks}
        self.truth: tuple[float, float, float] | None = None
        self.meter = PathMeter()
        self.crossing_path: list[tuple[float, float]] = []
        self.touched: set[str] = set()
        self._params = node.create_client(SetParameters, '/sim/set_parameters')
        node.create_subscription(Odometry, 'sim/ground_truth/odom', self.truth_callback,
                                 STATE_QOS)

    def truth_callback(self, msg: Odometry) -> None:
        p = msg.pose.pose.position
        self.truth = (p.x, p.y, p.z)
        self.meter.add(*self.truth)

    def restart_meter(self) -> None:
        """Count the distance driven from here."""
        self.meter = PathMeter()

    def set_fault(self, wheel: str, kind: str) -> None:
        """Inject a wheel fault in the simulator ('none' clears it)."""
        self._params.call_async(SetParameters.Request(parameters=[
            Parameter(f'fault.wheel_{wheel}', value=kind).to_parameter_msg()]))

    def begin_crossing(self) -> None:
        """Start the crossing's ground-truth path where the rover is."""
        self.crossing_path = [self.truth[:2]]

    def sample_crossing(self) -> None:
        """One sample of the crossing: the path, and the tall rocks touched now."""
        if self.contacts is not None:
            self.touched |= self.contacts() & set(self.tall_rocks)
        here = self.truth[:2]
        if math.dist(self.crossing_path[-1], here) > PATH_STEP_M:
            self.crossing_path.append(here)

    def crossing_record(self, near_m: float) -> dict:
        """The crossing by ground truth: driven_m, and (with a contact probe) the tall rocks
        within near_m of the path and those touched."""
        rocks = None
        if self.contacts is not None:
            rocks = {'near': rocks_near(self.tall_rocks, self.crossing_path, near_m),
                     'touched': sorted(self.touched)}
        return {'driven_m': path_length(self.crossing_path), 'rocks': rocks}
