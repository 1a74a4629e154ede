"""The cost to go to a goal over the hazard map (a navigation function). Pure Python and numpy.

Arc voting alone is myopic: it scores arcs of 2 m by how much nearer they bring
the rover to the goal in a straight line, so a crater rim or a line of rocks
across that line is a trap the rover backs out of and drives into again (Monte
Carlo seed 10: held 11 m from the goal until the cap). The Mars rovers met the
same limit of GESTALT and added a global cost to go, Field D* (Carsten, Rankin,
Ferguson and Stentz 2007), that each arc's end is scored by. This is that idea
on a coarse grid: Dijkstra from the goal over the map the rover has, so that
an arc's progress is how much it lowers the cost to go, and a turn in place
faces the way the cost falls.

Cells: the hazard map max-pooled to `cell_m` (the worst cost in each coarse
cell wins). Cells of veto cost or more, and every cell nearer to one than the
rover's half-width, are closed: the rover's centre cannot pass there without
its side meeting the hazard. So are the cells within a dead end's radius (`closed_discs`:
places where the drive found no way on that the map does not show, navigation/
recovery.py), unless the goal lies within it. An open cell costs its length times
(1 + hazard_weight * cost / 100); an unseen one counts unknown_cost. Beyond the
map the ground is unknown: the cost to go from a map edge cell is the straight
line to the goal at the unknown rate.
"""
from __future__ import annotations

from dataclasses import dataclass
import heapq
import math

import cv2
import numpy as np

from chang_e_rover.hazard.gate import Grid

# 16-connected: the 8 neighbours and the knight's moves, whose straight line also crosses
# the two cells beside it (both must be open). A path's length is then within 3 % of the
# straight line in any direction (8-connected: 8 %).
def _beside(dx: int, dy: int) -> tuple[tuple[int, int], ...]:
    """The two cells a knight's move crosses on its way (none for a neighbour)."""
    if abs(dx) == 2:
        return (dx // 2, 0), (dx // 2, dy)
    if abs(dy) == 2:
        return (0, dy // 2), (dx, dy // 2)
    return ()


_STEPS = tuple((dx, dy, math.hypot(dx, dy), _beside(dx, dy))
               for dx in range(-2, 3) for dy in range(-2, 3)
               if (dx or dy) and max(abs(dx), abs(dy)) == 1 or {abs(dx), abs(dy)} == {1, 2})


@dataclass(frozen=True)
class NavField:
    """Cost to go (metres of open, known, hazard-free ground) per coarse cell; inf if closed."""
    to_go: np.ndarray           # rows = y, columns = x
    origin_x: float
    origin_y: float
    cell: float
    goal: tuple[float, float]
    outside_rate: float         # cost per metre beyond the map (unknown ground)

    def value(self, x: float, y: float) -> float:
        """Cost to go from a point: the best of the open cells within 2 cells, plus the way there.

        Reaching 2 cells out lets a rover that stands in a closed cell (near a hazard, not
        on it) find the way out; off the map, the straight line at the unknown rate.
        """
        h, w = self.to_go.shape
        fx, fy = (x - self.origin_x) / self.cell, (y - self.origin_y) / self.cell
        if not (0.0 <= fx < w and 0.0 <= fy < h):
            return self.outside_rate * math.hypot(self.goal[0] - x, self.goal[1] - y)
        ix, iy = int(fx), int(fy)
        i0, i1, j0, j1 = max(0, iy - 2), min(h, iy + 3), max(0, ix - 2), min(w, ix + 3)
        block = self.to_go[i0:i1, j0:j1]
        cy = self.origin_y + (np.arange(i0, i1) + 0.5) * self.cell
        cx = self.origin_x + (np.arange(j0, j1) + 0.5) * self.cell
        way = np.hypot(cx[None, :] - x, cy[:, None] - y)
        return float(np.min(block + way))

    def heading(self, x: float, y: float, radius: float, samples: int = 36) -> float | None:
        """Direction (rad, odom) of the lowest cost to go on a circle round (x, y); None if
        no point of the circle has a finite one."""
        best, where = math.inf, None
        for a in np.linspace(-math.pi, math.pi, samples, endpoint=False):
            v = self.value(x + radius * math.cos(a), y + radius * math.sin(a))
            if v < best:
                best, where = v, float(a)
        return where


def navigation_function(grid: Grid, goal: tuple[float, float], cell_m: float,
                        half_width_m: float, veto_cost: float, hazard_weight: float,
                        unknown_cost: float,
                        closed_discs: tuple[tuple[float, float, float], ...] = ()) -> NavField:
    """Dijkstra from the goal over a coarse copy of the hazard map; closed_discs (x, y,
    radius, odom) are closed too."""
    f = max(1, int(round(cell_m / grid.resolution)))
    h, w = (s // f for s in grid.cost.shape)
    if h < 1 or w < 1:
        raise ValueError('hazard map smaller than one planning cell')
    cell = grid.resolution * f
    # The worst cost in each coarse cell (unknown, -1, only where nothing is known).
    coarse = grid.cost[:h * f, :w * f].astype(np.int16).reshape(h, f, w, f).max(axis=(1, 3))
    # Closed within the half-width and one cell more: the coarse cells' own quantisation,
    # and the arcs' swept rectangle, wider than the centre line when the rover yaws.
    radius = int(math.ceil(half_width_m / cell)) + 1
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    closed = cv2.dilate((coarse >= veto_cost).astype(np.uint8), disc).astype(bool)
    if closed_discs:
        cx = grid.origin_x + (np.arange(w) + 0.5) * cell
        cy = grid.origin_y + (np.arange(h) + 0.5) * cell
        for x, y, r in closed_discs:
            if math.hypot(goal[0] - x, goal[1] - y) >= r:     # never one round the goal
                closed |= np.hypot(cx[None, :] - x, cy[:, None] - y) < r
    rate = 1.0 + hazard_weight * np.where(coarse < 0, unknown_cost, coarse) / 100.0
    outside = 1.0 + hazard_weight * unknown_cost / 100.0
    to_go = [math.inf] * (h * w)
    heap: list[tuple[float, int]] = []
    gx, gy = (goal[0] - grid.origin_x) / cell, (goal[1] - grid.origin_y) / cell
    if 0.0 <= gx < w and 0.0 <= gy < h:
        i = int(gy) * w + int(gx)
        to_go[i] = 0.0
        heap.append((0.0, i))
    else:   # the goal is off the map: each open edge cell is the straight line away from it
        for iy in range(h):
            for ix in ((0, w - 1) if 0 < iy < h - 1 else range(w)):
                if not closed[iy, ix]:
                    cx = grid.origin_x + (ix + 0.5) * cell
                    cy = grid.origin_y + (iy + 0.5) * cell
                    d = outside * math.hypot(goal[0] - cx, goal[1] - cy)
                    to_go[iy * w + ix] = d
                    heap.append((d, iy * w + ix))
        heapq.heapify(heap)
    # Per move: offsets in the flat grid to the cell reached and the two it crosses (for a
    # neighbour, the cell itself), and its length in metres.
    moves = [(dx, dy, length * cell, dy * w + dx,
              *((by * w + bx for bx, by in beside) if beside else (dy * w + dx,) * 2))
             for dx, dy, length, beside in _STEPS]
    open_flat = (~closed).ravel().tolist()
    rate_flat = rate.ravel().tolist()
    done = bytearray(h * w)
    while heap:
        d, i = heapq.heappop(heap)
        if done[i]:
            continue
        done[i] = 1
        iy, ix = divmod(i, w)
        for dx, dy, length, dj, b1, b2 in moves:
            jx, jy = ix + dx, iy + dy
            if 0 <= jx < w and 0 <= jy < h:
                j = i + dj
                if open_flat[j] and not done[j] and open_flat[i + b1] and open_flat[i + b2]:
                    nd = d + length * 0.5 * (rate_flat[i] + rate_flat[j])
                    if nd < to_go[j]:
                        to_go[j] = nd
                        heapq.heappush(heap, (nd, j))
    return NavField(np.array(to_go).reshape(h, w), grid.origin_x, grid.origin_y, cell,
                    (float(goal[0]), float(goal[1])), outside)
