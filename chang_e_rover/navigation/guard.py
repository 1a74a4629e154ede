"""The hazard gate on every motion, goal drives and velocity commands alike. Pure Python."""
from __future__ import annotations

from collections.abc import Callable

from chang_e_rover.hazard.gate import Footprint, gate, Grid

Note = Callable[[float, str, str], None]


class HazardGuard:
    """Refuse motion whose swept footprint meets an untraversable cell within reach.

    Reach is hazard.clearance_m plus the stopping distance at max_accel_m_s2. With no map
    yet the rover is not held (it has not looked); with a map older than
    hazard.map_timeout_s it is: a hazard node that died left the rover driving on its
    last map until it drove off it, so, as Nav2's collision monitor does when a source
    times out, no motion until a map comes again. state says which ('no map', 'off',
    'stale', 'clear', 'blocked'), where the ground that refused it.
    """

    def __init__(self, p: dict, footprint: Footprint, note: Note):
        self.p, self.footprint, self.note = p, footprint, note
        self.state = 'no map'
        self.where: tuple[float, float] | None = None

    def check(self, t: float, v: float, omega: float, pose, grid: Grid | None,
              grid_t: float, enabled: bool) -> tuple[float, float, bool]:
        """Return (v, omega) to drive and whether the motion was refused.

        :param pose: the odometry (x, y, yaw); grid: the hazard map, received at grid_t.
        :param enabled: False only for egress from the lander: the ramp is steeper than the
            limits the map enforces, and it is known ground.
        """
        if not enabled:
            if self.state != 'off':
                self.note(t, '-', 'hazard gate: off (commanded)')
                self.state, self.where = 'off', None
            return v, omega, False
        if grid is None:
            return v, omega, False
        p = self.p
        age = t - grid_t
        if p['hazard.map_timeout_s'] > 0 and age > p['hazard.map_timeout_s']:
            if self.state != 'stale':
                self.note(t, '-', f'hazard gate: no hazard map for {age:.1f} s '
                                  f'(timeout {p["hazard.map_timeout_s"]:.1f} s), motion refused')
                self.state, self.where = 'stale', None
            return 0.0, 0.0, True
        reach = p['hazard.clearance_m'] + v * v / (2 * p['max_accel_m_s2'])
        result = gate(grid, (pose.x, pose.y, pose.yaw), v, omega, self.footprint, reach,
                      p['hazard.sample_m'])
        state = 'blocked' if result.blocked else 'clear'
        if state != self.state:
            self.note(t, '-', f'hazard gate: untraversable ground at '
                              f'({result.cell[0]:.2f}, {result.cell[1]:.2f}), motion refused'
                      if result.blocked else 'hazard gate: clear')
            self.state = state
        self.where = result.cell
        if not result.blocked:
            return v, omega, False
        return 0.0, 0.0, True
