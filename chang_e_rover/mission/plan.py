"""The scripted traverse of the simulated mission, and its bookkeeping. Pure Python."""
from __future__ import annotations

from dataclasses import dataclass, field
import math

from chang_e_rover import config


@dataclass(frozen=True)
class Leg:
    label: str
    duration_s: float
    v_m_s: float
    omega_rad_s: float


def traverse(top_speed_m_s: float | None = None) -> tuple[Leg, ...]:
    """Return the scripted legs; the straight ones at the top speed (m/s), by default the
    drive's (drive_controller max_speed_m_s)."""
    v = top_speed_m_s if top_speed_m_s is not None else float(
        config.load_params('rover.yaml', 'drive_controller')['max_speed_m_s'])
    return (
        Leg('straight out', 40.0, v, 0.0),
        Leg('arc left', 30.0, 0.04, 0.02),
        Leg('straight on', 30.0, v, 0.0),
        Leg('stop', 5.0, 0.0, 0.0),
    )


@dataclass(frozen=True)
class SetHeading:
    """Before the traverse, a point turn to a set heading in odom.

    The park's approach leaves the rover at whatever heading it arrived with (from
    -0.2 to -0.9 rad and beyond between runs), and every leg after it starts from
    that heading: the traverse's velocity commands, the goal drive straight ahead,
    the crossing outward. At a set heading they run over the same ground each time.
    From the park point (8, -2) at 60 deg the traverse and the 5 m goal drive end
    about 12 m from the odom origin, on the open ground around the lander, and the
    crossing goes outward from there into the rock field.
    """

    heading_rad: float = math.radians(60.0)
    tolerance_rad: float = 0.03
    gain_per_s: float = 0.5           # commanded yaw rate per radian of heading error
    max_rate_rad_s: float = 0.1
    min_rate_rad_s: float = 0.02      # below this the governor's ramp barely moves it
    settle_s: float = 2.0
    timeout_s: float = 120.0

    def rate(self, yaw: float) -> float | None:
        """Yaw rate to command at odometry yaw, or None once within the tolerance."""
        err = math.remainder(self.heading_rad - yaw, math.tau)
        if abs(err) <= self.tolerance_rad:
            return None
        rate = min(self.max_rate_rad_s, max(self.min_rate_rad_s, self.gain_per_s * abs(err)))
        return math.copysign(rate, err)


@dataclass(frozen=True)
class FaultDrive:
    """The drive leg in which a wheel fails and the rover must still arrive."""

    wheel: str = 'lm'
    fault: str = 'stall'
    distance_m: float = 5.0
    inject_after_s: float = 30.0
    timeout_s: float = 300.0


@dataclass(frozen=True)
class Crossing:
    """The last leg: the failed wheel back in service, then a goal through the rock field.

    The mission's terrain keeps rocks and craters keep_clear_m away from the lander, the
    ramp's foot and the rover's start, so the deployment, the traverse and the fault
    drive run on open ground; the field begins past that radius, on the crossing.
    """

    distance_m: float = 10.0
    timeout_s: float = 600.0
    reset_timeout_s: float = 60.0
    # rocks higher than this must not be touched: the rover's step limit
    tall_m: float = field(default_factory=lambda: float(
        config.load_params('rover.yaml', 'hazard_camera')['max_step_m']))
    near_m: float = 1.5               # rocks counted as on the way: within this of the path
    terrain: str = 'rocks'
    seed: int = 3
    rock_abundance: float = 0.1
    # With the set heading (SetHeading) the goal drive ends about 12 m out, 9 m from the
    # ramp's foot: the field begins about 15 m out on the crossing's bearing.
    keep_clear_m: float = 12.0
    size_m: float = 50.0
    # The goal stays this far inside the terrain's edge (a run whose set heading was
    # refused sent the crossing 27 m out on a 50 m terrain: the rover drove off its edge).
    edge_margin_m: float = 5.0

    def distance_to_edge(self, x: float, y: float, bearing: float) -> float:
        """How far to go from (x, y) along bearing: distance_m, or less to stay inside the
        terrain (centred on the odom origin) by edge_margin_m; never negative."""
        if not all(math.isfinite(v) for v in (x, y, bearing)):
            raise ValueError(f'crossing from ({x}, {y}) at {bearing} rad: not finite')
        limit = self.size_m / 2 - self.edge_margin_m
        d = self.distance_m
        for p, u in ((x, math.cos(bearing)), (y, math.sin(bearing))):
            if abs(u) > 1e-12:
                d = min(d, ((limit if u > 0 else -limit) - p) / u)
        return max(0.0, d)


class PlanClock:
    """Which leg is active at time t since the start of the plan."""

    def __init__(self, legs: tuple[Leg, ...] | None = None):
        self.legs = traverse() if legs is None else legs
        self.total_s = sum(leg.duration_s for leg in self.legs)

    def leg_at(self, t: float) -> Leg | None:
        for leg in self.legs:
            if t < leg.duration_s:
                return leg
            t -= leg.duration_s
        return None


class PathMeter:
    """Length of a path from successive 3-D positions."""

    def __init__(self) -> None:
        self.length = 0.0
        self._last: tuple[float, float, float] | None = None

    def add(self, x: float, y: float, z: float) -> None:
        if self._last is not None:
            self.length += math.dist(self._last, (x, y, z))
        self._last = (x, y, z)


def path_length(points: list[tuple[float, float]]) -> float:
    """Length of a polyline, m."""
    return sum(math.dist(a, b) for a, b in zip(points, points[1:]))


def rocks_near(rocks: dict[str, tuple[float, float]], path: list[tuple[float, float]],
               near_m: float) -> list[str]:
    """Names of the rocks (name: centre x, y) within near_m of a path's points, sorted."""
    if not path:
        raise ValueError('rocks near an empty path: the path has no points')
    return sorted(n for n, xy in rocks.items() if min(math.dist(xy, p) for p in path) <= near_m)


# Sim seconds each phase usually takes in the default mission, for the progress line's
# estimate of what is left (no decision uses them); the traverse's is its plan's.
USUAL_S = {'deploy': 280.0, 'mutual': 10.0, 'panorama': 140.0, 'heading': 40.0,
           'fault_drive': 140.0, 'recover': 20.0, 'crossing': 220.0, 'downlink': 10.0}


def usual_remaining_s(order, phase: str, share: float, skipped: set[str],
                      traverse_s: float) -> float:
    """Sim seconds usually left: the rest of phase (share of it done) and the phases after
    it in order, but those skipped."""
    usual = {**USUAL_S, 'traverse': traverse_s}
    ahead = [p for p in order[order.index(phase) + 1:] if p in usual and p not in skipped]
    return max(0.0, 1.0 - share) * usual.get(phase, 0.0) + sum(usual[p] for p in ahead)
