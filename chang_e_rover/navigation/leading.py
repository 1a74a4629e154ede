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
    toward the way on until the map shows an arc open from there, then turn the rear onto
    it.

    The hazard cameras look forward. Driving in reverse, the rover knows the ground
    behind it only where it saw it before it turned; where that runs out it turns the
    cameras toward the way on, and stops turning at the first map on which an arc led
    by the rear along the way on would be open over seen ground (look-then-back-up, as
    MER's drivers drove Spirit backward): with 90 deg cameras that is well before they
    face it, and the map may show it before any turn. Then it turns the rear to the way
    on (the shorter way) and the vote drives on. If no map shows it open, the rover faces
    the way on, stands until a map has come look.settle_s after it faced it, and votes
    again from there. Within recovery.backoff_m of the last look the rover does not look
    again: ground the cameras did not see from there (a hole behind a rock) they will not
    see from there.
    """

    def __init__(self, p: dict):
        self.p = p
        self.since: float | None = None       # when the look under way began
        self.faced_t: float | None = None     # when it faced the way on
        self.back = False                     # the way on seen open: turning the rear to it
        self.checked_t = -math.inf            # the newest map judged during this look
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
        self.back, self.checked_t = False, -math.inf

    def to_judge(self, map_t: float) -> bool:
        """Whether the map of map_t is yet to be judged for the way on (once each)."""
        if self.back or map_t <= self.checked_t:
            return False
        self.checked_t = map_t
        return True

    def drive(self, t: float, err: float, map_t: float, open_ahead: bool = False) -> float | None:
        """The yaw rate to turn at (0 while waiting for a map), or None once it is done.

        :param err: the leading (rear) end's heading error to the way on, rad.
        :param map_t: when the last hazard map came.
        :param open_ahead: the newest map shows an arc open, led along the way on.
        """
        p = self.p
        half = p['goal_turn_in_place_rad'] / 2
        self.back = self.back or open_ahead
        if self.back:
            if abs(err) > half:
                return math.copysign(p['max_yaw_rate_rad_s'], err)
            self.since = None
            return None
        cameras = math.atan2(-math.sin(err), -math.cos(err))
        if self.faced_t is None:
            if abs(cameras) > half:
                return math.copysign(p['max_yaw_rate_rad_s'], cameras)
            self.faced_t = t
        if map_t < self.faced_t + p['look.settle_s']:
            return 0.0
        self.since = None
        return None

    def cancel(self) -> None:
        """End the look under way (a back-off begins); where it was made is kept."""
        self.since = self.faced_t = None
        self.back = False

    def reset(self) -> None:
        self.since = self.faced_t = self.at = None
        self.back = False
