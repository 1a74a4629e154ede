"""Which end of the rover leads a goal drive: a locked wheel trails. Pure Python.

A wheel whose motor has seized (out of service with a stall) does not turn: it is
dragged, not rolled. Pushed ahead of the rover it is held where a rolling wheel climbs,
each hold reads as terrain, and the keep-outs and back-offs that follow fence the rover
in; dragged behind, it follows the ground the driven wheels have just crossed. So the
drive leads with the end that has fewer locked wheels, forward on a tie (as Spirit
drove backward from 2006, dragging its seized right front wheel). Reverse arcs are
voted and gated as forward ones are, from the pose turned about (flip).
"""
from __future__ import annotations

from dataclasses import replace
import math

from chang_e_rover.hazard.gate import KeepOut

FRONT = ('lf', 'rf')
REAR = ('lr', 'rr')


def leading_sign(locked: list[str] | tuple[str, ...]) -> int:
    """+1 to lead with the front, -1 with the rear: the end with fewer locked wheels."""
    front = sum(w in locked for w in FRONT)
    rear = sum(w in locked for w in REAR)
    return -1 if front > rear else 1


def flip(pose: tuple[float, float, float], sign: int) -> tuple[float, float, float]:
    """The pose whose heading is the way the leading end faces."""
    x, y, yaw = pose
    return (x, y, yaw) if sign > 0 else (x, y, math.atan2(-math.sin(yaw), -math.cos(yaw)))


def flip_xy(xy: tuple[float, float], sign: int) -> tuple[float, float]:
    """A point in base_link, in the frame of the flipped pose."""
    return xy if sign > 0 else (-xy[0], -xy[1])


def flip_keep_out(k: KeepOut, sign: int) -> KeepOut:
    return k if sign > 0 else replace(k, wheel_xy=flip_xy(k.wheel_xy, sign))


class Look:
    """The rear leading and no arc open over ground the map has seen: turn the cameras
    to the way on, wait for its map, and lead with the rear again.

    The hazard cameras look forward. Driving in reverse, the rover knows the ground
    behind it only where it saw it before it turned; where that runs out it turns to
    face the way on (err: the front's heading error, rad), stands until a map has come
    look.settle_s after it faced it, and the vote turns it round again onto the ground
    now seen (look-then-back-up, as MER's drivers drove Spirit backward). Within
    recovery.backoff_m of the last look the rover does not look again: ground the
    cameras did not see from there (a hole behind a rock) they will not see from there.
    """

    def __init__(self, p: dict):
        self.p = p
        self.since: float | None = None       # when the look under way began
        self.faced_t: float | None = None     # when it faced the way on
        self.at: tuple[float, float] | None = None   # where the last look was made

    @property
    def active(self) -> bool:
        return self.since is not None

    def looked_near(self, pose) -> bool:
        """A look was made within recovery.backoff_m of pose."""
        return self.at is not None and math.dist(self.at, (pose.x, pose.y)) < \
            self.p['recovery.backoff_m']

    def start(self, t: float, pose) -> None:
        self.since, self.faced_t, self.at = t, None, (pose.x, pose.y)

    def drive(self, t: float, err: float, map_t: float) -> float | None:
        """The yaw rate to turn at (0 while waiting for the map), or None once it is done.

        :param map_t: when the last hazard map came.
        """
        p = self.p
        if self.faced_t is None:
            if abs(err) > p['goal_turn_in_place_rad'] / 2:
                return math.copysign(p['max_yaw_rate_rad_s'], err)
            self.faced_t = t
        if map_t < self.faced_t + p['look.settle_s']:
            return 0.0
        self.since = None
        return None

    def cancel(self) -> None:
        """End the look under way (a back-off begins); where it was made is kept."""
        self.since = self.faced_t = None

    def reset(self) -> None:
        self.since = self.faced_t = self.at = None
