"""What the phase machine is fed (Inputs) and what it asks for (Action). Pure Python."""
from __future__ import annotations

from dataclasses import dataclass, field

from chang_e_rover.navigation.goal_status import GoalStatus


@dataclass
class Inputs:
    """What the phase machine knows; the node keeps it current. Sim seconds, metres."""
    truth: tuple[float, float, float] | None = None     # ground truth position (the operator's)
    distance_m: float = 0.0          # ground-truth path length since the meter's last restart
    odom_pose: tuple[float, float, float] | None = None   # x, y (m), yaw (rad) in odom
    sequencer: dict[str, str] = field(default_factory=dict)   # lander/sequencer diagnostics
    healthy: str | None = None       # the drive controller's healthy_wheels, as it gives it
    goal_status: GoalStatus | None = None    # the drive controller's, rover/goal_status
    ready: frozenset[str] = frozenset()   # ready: sequencer, panorama, capture, reset_<id>
    link_up: bool = False            # the ground station hears the relay
    panorama: bool = False           # the lander's panorama has arrived
    joints: dict[str, tuple[float, float]] = field(default_factory=dict)   # name: (pos, vel)
    frames: int = 0                  # mutual imaging frames arrived since the shutter
    reset_tc: str | None = None      # the last wheel_reset telecommand: pending, completed, failed
    downlinked: bool = False         # last goal's telecommand completed, the downlink caught up


@dataclass(frozen=True)
class Action:
    """What the node carries out: say (text), progress (text, sim seconds usually left),
    start_sequencer, reset_wheel (wheel,
    announce), reset_tc (wheel), cmd (v m/s, omega rad/s), aim (joint targets per robot),
    capture, write_mutual, request_panorama, restart_meter, goal (x, y in odom, leg:
    fault_drive or crossing), inject_fault (wheel, kind), clear_fault (wheel),
    await_downlink, finish."""
    kind: str
    value: tuple = ()
