"""What the drive controller knows of each wheel unit: state, fault, speed, silence. Pure Python.

Built from the units' diagnostics and encoder readings; a unit silent for node_lost_s
is lost, and out of the allocation until it is heard again.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
import math

from chang_e_rover.drive.wheel_health import ENABLED
from chang_e_rover.robot_description import WHEEL_IDS

Note = Callable[[float, str, str], None]

# what WheelViews.status reports
STALLED = 'stalled'              # a stall latched
BACK_IN_SERVICE = 'back in service'


@dataclass
class WheelView:
    """What the controller knows of one wheel unit."""

    state: str = 'UNKNOWN'
    fault: str = 'none'
    heard_t: float | None = None
    encoder: tuple[float, float] | None = None   # (t, rad)
    speed: float = math.nan                       # from encoder differences, rad/s
    lost: bool = False


class WheelViews:
    """The six wheel views, and which wheels are in service."""

    def __init__(self, p: dict, start_t: float, note: Note):
        """:param start_t: when the controller started: a unit never heard is lost from then."""
        self.p, self.start_t, self.note = p, start_t, note
        self.views = {w: WheelView() for w in WHEEL_IDS}

    def status(self, wheel: str, state: str, fault: str, t: float) -> str | None:
        """A unit's diagnostics: its state and fault at t. Return STALLED, BACK_IN_SERVICE
        or None."""
        view, change = self.views[wheel], None
        if view.lost:
            self.note(t, wheel, 'heard again')
            view.lost = False
        if (state, fault) != (view.state, view.fault) and state != ENABLED:
            self.note(t, wheel, f'{state.lower()}: {fault}')
            if fault == 'stall':
                change = STALLED
        elif state == ENABLED and view.state not in (ENABLED, 'UNKNOWN'):
            self.note(t, wheel, 'back in service')
            change = BACK_IN_SERVICE
        view.state, view.fault, view.heard_t = state, fault, t
        return change

    def encoder(self, wheel: str, t: float, rad: float) -> None:
        """A wheel's encoder angle (rad) at t; its speed is the difference from the last."""
        view = self.views[wheel]
        if not math.isfinite(rad):
            view.speed = math.nan
            return
        if view.encoder is not None and t > view.encoder[0]:
            view.speed = (rad - view.encoder[1]) / (t - view.encoder[0])
        view.encoder = (t, rad)

    def healthy(self, t: float) -> list[str]:
        """The wheels in service at t; marks (and notes) units silent for node_lost_s, and
        units never heard node_boot_s after the start."""
        out = []
        for w, view in self.views.items():
            if view.heard_t is None:        # booting beside the controller, or never there
                heard, limit = self.start_t, self.p['node_boot_s']
            else:
                heard, limit = view.heard_t, self.p['node_lost_s']
            if t - heard > limit:
                if not view.lost:
                    view.lost = True
                    self.note(t, w, 'node_lost')
                continue
            if view.state in (ENABLED, 'UNKNOWN'):
                out.append(w)
        return out

    def fault_of(self, wheel: str) -> str:
        view = self.views[wheel]
        return 'node_lost' if view.lost else view.fault
