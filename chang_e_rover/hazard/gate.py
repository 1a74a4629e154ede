"""Safety gate and arc voting over the hazard map. Pure numpy.

The gate works as Nav2's collision monitor does: the rover's footprint is
swept along the commanded arc for the stopping distance plus a clearance; if it
meets an untraversable cell, the motion is refused. Arc voting follows the
Mars rovers' GESTALT/MAPGEN practice: candidate arcs are scored by the hazard
cost their swept footprint meets and by the progress they make to the goal;
arcs meeting untraversable cells are vetoed.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
import math

import numpy as np

from chang_e_rover.hazard.costs import UNTRAVERSABLE
from chang_e_rover.robot_description import RoverGeometry


@dataclass(frozen=True)
class Grid:
    """A cost grid in odom: int8 cells (-1 unknown, 0..100), row = y, column = x."""
    cost: np.ndarray
    origin_x: float
    origin_y: float
    resolution: float

    def lookup(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Return the cost at points (-1 outside the grid)."""
        ix = np.floor((x - self.origin_x) / self.resolution).astype(np.int64)
        iy = np.floor((y - self.origin_y) / self.resolution).astype(np.int64)
        h, w = self.cost.shape
        inside = (ix >= 0) & (ix < w) & (iy >= 0) & (iy < h)
        out = np.full(x.shape, -1, dtype=np.int16)
        out[inside] = self.cost[iy[inside], ix[inside]]
        return out

    def clear_under(self, pose: tuple[float, float, float], points: np.ndarray) -> Grid:
        """Return a copy with hazards under a footprint at pose (points in base_link) cleared.

        What the rover already stands on cannot stop it: a hazard cell under the rover (a
        stray cell, or one drawn over a rock's edge that the margin reaches) would otherwise
        refuse every motion, the way out included. Motion is judged only by the ground it
        would newly enter.
        """
        x, y, yaw = pose
        c, s = math.cos(yaw), math.sin(yaw)
        px = x + c * points[:, 0] - s * points[:, 1]
        py = y + s * points[:, 0] + c * points[:, 1]
        ix = np.floor((px - self.origin_x) / self.resolution).astype(np.int64)
        iy = np.floor((py - self.origin_y) / self.resolution).astype(np.int64)
        h, w = self.cost.shape
        inside = (ix >= 0) & (ix < w) & (iy >= 0) & (iy < h)
        cost = self.cost.copy()
        under = cost[iy[inside], ix[inside]]
        cost[iy[inside], ix[inside]] = np.where(under > 0, 0, under)
        return Grid(cost, self.origin_x, self.origin_y, self.resolution)


@dataclass(frozen=True)
class Footprint:
    """The rover's outline in base_link: x from rear to front, y half-width."""
    rear: float
    front: float
    half_width: float

    @classmethod
    def of_rover(cls, geometry: RoverGeometry, end_margin: float,
                 side_margin: float) -> Footprint:
        """Return the wheels' outline (URDF, corners straight) grown by the margins (m)."""
        half_length, half_width = geometry.outline(end_margin, side_margin)
        return cls(-half_length, half_length, half_width)

    def samples(self, spacing: float) -> np.ndarray:
        xs = np.arange(self.rear, self.front + 1e-9, spacing)
        ys = np.arange(-self.half_width, self.half_width + 1e-9, spacing)
        gx, gy = np.meshgrid(xs, ys)
        return np.stack([gx.ravel(), gy.ravel()], axis=1)


def arc_poses(x: float, y: float, yaw: float, curvature: float, length: float,
              step: float) -> np.ndarray:
    """Return (n, 3) poses along an arc of signed curvature from (x, y, yaw), excluding start."""
    s = np.arange(step, abs(length) + 1e-9, step) * math.copysign(1.0, length)
    if abs(curvature) < 1e-6:
        return np.stack([x + s * math.cos(yaw), y + s * math.sin(yaw), np.full_like(s, yaw)],
                        axis=1)
    th = yaw + curvature * s
    return np.stack([x + (np.sin(th) - math.sin(yaw)) / curvature,
                     y - (np.cos(th) - math.cos(yaw)) / curvature, th], axis=1)


def footprint_points(poses: np.ndarray, footprint: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the footprint's points (base_link) at each pose, odom x and y (poses, points)."""
    c, s = np.cos(poses[:, 2])[:, None], np.sin(poses[:, 2])[:, None]
    px = poses[:, 0:1] + c * footprint[None, :, 0] - s * footprint[None, :, 1]
    py = poses[:, 1:2] + s * footprint[None, :, 0] + c * footprint[None, :, 1]
    return px, py


def swept_costs(grid: Grid, poses: np.ndarray, footprint: np.ndarray) -> np.ndarray:
    """Return, per pose, the worst cost under the footprint (-1 if all unknown)."""
    return grid.lookup(*footprint_points(poses, footprint)).max(axis=1)


def unseen_share(grid: Grid, pose: tuple[float, float, float], poses: np.ndarray,
                 footprint: Footprint, points: np.ndarray) -> float:
    """The share of the ground the footprint newly enters over poses that the map has not
    seen (unknown cells); what it stands on at pose does not count."""
    px, py = footprint_points(poses, points)
    x, y, yaw = pose
    c, s = math.cos(yaw), math.sin(yaw)
    ax, ay = px - x, py - y              # in the frame of the rover where it stands
    fx, fy = c * ax + s * ay, -s * ax + c * ay
    new = ~((fx >= footprint.rear) & (fx <= footprint.front) & (np.abs(fy) <= footprint.half_width))
    if not new.any():
        return 0.0
    return float((grid.lookup(px[new], py[new]) < 0).mean())


@dataclass(frozen=True)
class GateResult:
    blocked: bool
    where: tuple[float, float] | None = None     # the pose at which the footprint meets it
    distance_m: float = 0.0
    cell: tuple[float, float] | None = None      # the untraversable ground it meets


def gate(grid: Grid, pose: tuple[float, float, float], v: float, omega: float,
         footprint: Footprint, lookahead_m: float, spacing: float) -> GateResult:
    """Refuse motion whose swept footprint within lookahead_m meets an untraversable cell.

    Pure rotation (v = 0) is checked over the rotation it would make in one second. Cells
    under the footprint where the rover stands do not count (Grid.clear_under).
    """
    x, y, yaw = pose
    pts = footprint.samples(spacing)
    grid = grid.clear_under(pose, pts)
    if abs(v) < 1e-4:
        if abs(omega) < 1e-4:
            return GateResult(False)
        angles = yaw + np.linspace(0.0, math.copysign(0.3, omega), 7)[1:]
        poses = np.stack([np.full_like(angles, x), np.full_like(angles, y), angles], axis=1)
    else:
        poses = arc_poses(x, y, yaw, omega / v, math.copysign(lookahead_m, v), spacing)
    costs = swept_costs(grid, poses, pts)
    hit = np.nonzero(costs >= UNTRAVERSABLE)[0]
    if hit.size == 0:
        return GateResult(False)
    i = int(hit[0])
    c, s = math.cos(poses[i, 2]), math.sin(poses[i, 2])
    px = poses[i, 0] + c * pts[:, 0] - s * pts[:, 1]
    py = poses[i, 1] + s * pts[:, 0] + c * pts[:, 1]
    j = int(np.argmax(grid.lookup(px, py)))
    return GateResult(True, (float(poses[i, 0]), float(poses[i, 1])),
                      float(math.hypot(poses[i, 0] - x, poses[i, 1] - y)),
                      (float(px[j]), float(py[j])))


CENTRE = '-'      # a keep-out's wheel when it is the rover's centre that is kept out


@dataclass(frozen=True)
class KeepOut:
    """A place one wheel must not be taken back to: where it held the rover.

    A seized wheel is dragged, not rolled, and a rock a rolling wheel climbs can stop
    it. The map does not show that rock (it is within the rover's limits), so the place
    itself is kept out of that wheel's track (MER's drivers set keep-out zones so).

    A dead end (navigation/recovery.py) is the same rule for the rover's centre: wheel
    CENTRE, wheel_xy (0, 0).
    """
    wheel: str
    wheel_xy: tuple[float, float]     # the wheel's contact point in base_link
    place: tuple[float, float]        # where it held the rover, odom
    radius_m: float

    def met(self, pose: tuple[float, float, float], poses: np.ndarray,
            slack: float = 0.0) -> bool:
        """Whether the wheel's track over poses comes nearer the place than both radius_m
        and where it stands at pose, less slack."""
        def distance(p: np.ndarray) -> np.ndarray:
            c, s = np.cos(p[:, 2]), np.sin(p[:, 2])
            wx = p[:, 0] + c * self.wheel_xy[0] - s * self.wheel_xy[1]
            wy = p[:, 1] + s * self.wheel_xy[0] + c * self.wheel_xy[1]
            return np.hypot(wx - self.place[0], wy - self.place[1])
        if len(poses) == 0:
            return False
        now = float(distance(np.asarray([pose], dtype=np.float64))[0])
        return bool(distance(poses).min() < min(self.radius_m, now - 1e-3) - slack)


@dataclass(frozen=True)
class Vote:
    curvature: float
    score: float
    hazard: float            # worst cost met, 0..1 (unknown counted as `unknown_cost`)
    progress: float          # metres closer to the goal at the arc's end
    vetoed: bool
    track: float = 0.0       # worst cost under an out-of-service wheel's track, 0..1
    unseen: float = 0.0      # share of the ground newly entered that the map has not seen


def vote_arcs(grid: Grid, pose: tuple[float, float, float], goal: tuple[float, float],
              footprint: Footprint, curvatures: np.ndarray, length_m: float, spacing: float,
              hazard_weight: float, unknown_cost: float,
              veto_cost: float = UNTRAVERSABLE, nav=None,
              keep_outs: tuple[KeepOut, ...] = (), driven: float | None = None,
              keep_out_slack: float = 0.0, dead_wheels: tuple[tuple[float, float], ...] = (),
              dead_wheel_cost: float = math.inf, dead_wheel_band: float = 0.0,
              max_unseen: float = 1.0) -> list[Vote]:
    """Score candidate arcs toward a goal; best first. Arcs meeting veto_cost are vetoed.

    As in the gate, cells under the footprint where the rover stands do not count. With
    a navigation function (hazard/planner.py NavField), an arc's progress is how much it
    lowers the cost to go; without one (or where the rover's own cost to go is not
    finite), how much nearer its end is to the goal. An arc is also vetoed when it takes
    a keep-out's wheel nearer its place than both the keep-out's radius and where the
    wheel stands now. The arc being driven (curvature driven) passes a keep-out it
    misses by keep_out_slack less: a pose that shifts a centimetre as the corners swing
    must not close and open it on alternate votes.

    An out-of-service wheel (dead_wheels: contact points in base_link) is pushed or
    dragged, not driven, and a rock the map passes (within the rover's limits) can hold
    it: an arc whose such wheel's track meets a cell of dead_wheel_cost or more is vetoed
    too, but only while another arc is open; with none, they are scored as if it were not
    there (the rover must not be fenced in by small rocks). The track is a band
    dead_wheel_band either side of the contact point, and for the arc being driven its
    centre line only: a pose that shifts a centimetre as the corners swing must not veto
    it and open it on alternate votes.

    An arc whose newly entered ground is more than max_unseen unseen by the map is vetoed
    (the rear leading: the cameras look forward, and the ground behind is known only
    where they saw it before; navigation/leading.py).
    """
    x, y, yaw = pose
    pts = footprint.samples(spacing)
    ground = grid        # the wheels' tracks are judged on it all: a rock under the
    grid = grid.clear_under(pose, pts)   # footprint's margin is still ahead of the wheel
    d0 = math.hypot(goal[0] - x, goal[1] - y)
    start = nav.value(x, y) if nav is not None else math.inf
    votes, soft = [], []
    wheels = np.asarray(dead_wheels, dtype=np.float64).reshape(-1, 2)
    band = np.concatenate([wheels + (0.0, dy) for dy in (-dead_wheel_band, 0.0, dead_wheel_band)])
    for k in curvatures:
        poses = arc_poses(x, y, yaw, float(k), min(length_m, max(d0, spacing)), spacing)
        here = wheels if driven is not None and float(k) == driven else band
        track = float(swept_costs(ground, poses, here).max()) if len(wheels) and len(poses) \
            else 0.0          # unknown ground (-1) is the footprint's hazard, not a rock
        costs = swept_costs(grid, poses, pts).astype(np.float64)
        costs[costs < 0] = unknown_cost
        worst = float(costs.max()) if costs.size else 0.0
        end = poses[-1]
        if math.isfinite(start):
            progress = start - nav.value(float(end[0]), float(end[1]))
        else:
            progress = d0 - math.hypot(goal[0] - end[0], goal[1] - end[1])
        slack = keep_out_slack if driven is not None and float(k) == driven else 0.0
        unseen = unseen_share(ground, pose, poses, footprint, pts) if max_unseen < 1.0 else 0.0
        vetoed = (worst >= veto_cost or unseen > max_unseen
                  or any(ko.met(pose, poses, slack) for ko in keep_outs))
        score = progress / length_m - hazard_weight * worst / UNTRAVERSABLE
        votes.append(Vote(float(k), -math.inf if vetoed else score, worst / UNTRAVERSABLE,
                          progress, vetoed, max(0.0, track) / UNTRAVERSABLE, unseen))
        soft.append(not vetoed and track >= dead_wheel_cost)
    if any(not v.vetoed and not s for v, s in zip(votes, soft)):
        votes = [replace(v, score=-math.inf, vetoed=True) if s else v
                 for v, s in zip(votes, soft)]
    return sorted(votes, key=lambda v: v.score, reverse=True)
