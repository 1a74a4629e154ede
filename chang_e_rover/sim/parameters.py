"""Which of /sim's parameters may change while it runs, to which values, and which
changes rebuild the world.

Pure, no rclpy: the node's set-parameters callback asks refusal() of each parameter of
a call and takes none of them when one is refused.
"""
from __future__ import annotations

import math
from typing import Any

from chang_e_rover.robot_description import WHEEL_IDS
from chang_e_rover.sim.motor import FAULT_KINDS

# Settable while running (a name or a group's prefix); the others are read-only.
DYNAMIC = ('fault', 'fault_at_s', 'real_time_factor', 'paused', 'terrain.seed',
           'terrain.rock_abundance', 'terrain.name', 'power.initial_soc')


def fault_wheel(name: str) -> str:
    """The wheel a fault.wheel_<id> parameter names."""
    return name[len('fault.wheel_'):]


def refusal(name: str, value: Any) -> str | None:
    """Why setting name to value is refused, or None when it is taken."""
    if name.startswith('fault.'):
        if fault_wheel(name) not in WHEEL_IDS or value not in FAULT_KINDS:
            return (f'{name}={value!r}: expected fault.wheel_<{"|".join(WHEEL_IDS)}>'
                    f' set to one of {FAULT_KINDS}')
    elif name.startswith('fault_at_s.'):
        if (name[len('fault_at_s.wheel_'):] not in WHEEL_IDS
                or not isinstance(value, float) or not value >= 0.0):
            return f'{name}: expected fault_at_s.wheel_<id> set to a sim time >= 0 (s)'
    elif name == 'real_time_factor':
        if not (isinstance(value, float) and math.isfinite(value) and value >= 0):
            return 'real_time_factor must be finite and >= 0'
    elif name == 'power.initial_soc':
        if not (isinstance(value, float) and 0.0 <= value <= 1.0):
            return 'power.initial_soc must be 0 to 1'
    elif name == 'terrain.rock_abundance':
        if not (isinstance(value, float) and 0.0 <= value <= 0.4):
            return 'terrain.rock_abundance must be 0 to 0.4'
    return None


def rebuilds_world(name: str) -> bool:
    """A change of this parameter builds the world anew (the rover back at its start)."""
    return name.startswith('terrain.')
