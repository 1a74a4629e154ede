"""Height map and GESTALT-style traversability. Pure numpy (OpenCV box filters).

The height map is a fixed grid in `odom`: each cell keeps the weighted mean of
the stereo points that fell in it (weight 1 / range^2, so near, precise views
outweigh far ones as the rover comes closer).

Traversability follows the Mars rovers' GESTALT (Goldberg, Maimone and
Matthies 2002), on the ground as the wheels meet it: pits a wheel bridges are
filled first (`wheel_closing`).
Then a plane is fitted to the rover-sized patch around every cell,
giving its slope and roughness (RMS residual); the step is the largest height
difference among cells within a wheel-sized window. A cell is untraversable
(100) when any of them exceeds its limit by more than the measurement margin;
otherwise its cost (0..99) grows with the worst ratio to a limit. Cells whose
patch is mostly unseen are unknown (-1).
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from chang_e_rover.hazard.costs import TRAVERSABLE_MAX, UNKNOWN, UNTRAVERSABLE


class HeightMap:
    """A square grid of size_m x size_m centred on the odom origin."""

    def __init__(self, size_m: float, resolution_m: float, min_points: int = 4):
        if not (size_m > 0 and resolution_m > 0):
            raise ValueError('map size and resolution must be positive')
        self.n = int(round(size_m / resolution_m))
        self.resolution = resolution_m
        self.origin = -self.n * resolution_m / 2.0         # x, y of the grid's corner
        self.min_points = min_points     # fewer points in a cell: a stray match, not ground
        self.sum_w = np.zeros((self.n, self.n))
        self.sum_wz = np.zeros((self.n, self.n))
        self.count = np.zeros((self.n, self.n), np.int32)

    def add(self, xyz: np.ndarray, weights: np.ndarray) -> int:
        """Add odom points (N, 3) with weights; return how many fell inside the map."""
        ix = np.floor((xyz[:, 0] - self.origin) / self.resolution).astype(np.int64)
        iy = np.floor((xyz[:, 1] - self.origin) / self.resolution).astype(np.int64)
        ok = (ix >= 0) & (ix < self.n) & (iy >= 0) & (iy < self.n) & np.isfinite(xyz[:, 2])
        flat = iy[ok] * self.n + ix[ok]
        size = self.n * self.n
        self.sum_w += np.bincount(flat, weights[ok], size).reshape(self.n, self.n)
        self.sum_wz += np.bincount(flat, weights[ok] * xyz[ok, 2], size).reshape(self.n, self.n)
        self.count += np.bincount(flat, None, size).reshape(self.n, self.n).astype(np.int32)
        return int(np.count_nonzero(ok))

    def heights(self) -> np.ndarray:
        """Return the mean height of each cell (rows = y, columns = x); NaN where unseen."""
        with np.errstate(invalid='ignore', divide='ignore'):
            return np.where(self.count >= self.min_points, self.sum_wz / self.sum_w, np.nan)

    def cell_centres(self) -> tuple[np.ndarray, np.ndarray]:
        c = self.origin + (np.arange(self.n) + 0.5) * self.resolution
        return np.meshgrid(c, c)


@dataclass(frozen=True)
class Limits:
    max_slope_deg: float
    max_step_m: float
    max_roughness_m: float
    slope_margin_deg: float      # measurement error allowed before a limit counts as exceeded
    step_margin_m: float
    patch_m: float               # rover-sized patch for the plane fit
    step_window_m: float         # wheel-sized window for the step
    min_coverage: float          # share of a patch that must be seen
    wheel_radius_m: float        # pits narrower than the wheel bridges are filled


@dataclass
class Analysis:
    cost: np.ndarray             # int8: -1 unknown, 0..99 cost, 100 untraversable
    slope_deg: np.ndarray
    roughness_m: np.ndarray
    step_m: np.ndarray


def _box(a: np.ndarray, k: int) -> np.ndarray:
    return cv2.boxFilter(a, cv2.CV_64F, (k, k), normalize=False,
                         borderType=cv2.BORDER_CONSTANT)


def wheel_closing(heights: np.ndarray, resolution_m: float, wheel_radius_m: float,
                  margin_m: float) -> np.ndarray:
    """Return the grid with the pits a wheel bridges filled; NaN (unseen) stays NaN.

    A wheel of radius r over a gap g wide sinks into it by r - sqrt(r^2 - (g/2)^2). Gaps
    it sinks into by no more than margin_m (the step's measurement margin) are no step
    for it: a flat grey-scale closing by a square of 2k + 1 cells, k = floor(g / 2 /
    resolution) for the widest such g, fills every pit up to 2k cells across (0.25 m
    wheel, 2.5 cm margin: 0.21 m, two 10 cm cells). A closing never lowers a cell, and a
    rock, a wider pit or a slope keeps its heights.
    """
    widest = 2.0 * np.sqrt(max(0.0, 2.0 * wheel_radius_m * margin_m - margin_m ** 2))
    k = int(widest / 2.0 / resolution_m)
    if k == 0:
        return heights
    ny, nx = heights.shape
    seen = np.isfinite(heights)

    def sweep(grid, pad, pick):
        padded = np.pad(grid, k, constant_values=pad)
        out = np.full((ny, nx), pad)
        for dy in range(2 * k + 1):
            for dx in range(2 * k + 1):
                pick(out, padded[dy:dy + ny, dx:dx + nx], out=out)
        return out

    high = sweep(np.where(seen, heights, -np.inf), -np.inf, np.maximum)
    closed = sweep(np.where(np.isfinite(high), high, np.inf), np.inf, np.minimum)
    return np.where(seen, closed, np.nan)


def analyse(heights: np.ndarray, resolution_m: float, limits: Limits) -> Analysis:
    """Return slope, roughness, step and cost of every cell of a height grid (any ny x nx)."""
    heights = wheel_closing(heights, resolution_m, limits.wheel_radius_m,
                            limits.step_margin_m)
    seen = np.isfinite(heights)
    m = seen.astype(np.float64)
    z = np.where(seen, heights, 0.0)
    k = max(3, int(round(limits.patch_m / resolution_m)) | 1)
    # Any rectangle: a window clipped at the map's edge is not square (a mission run
    # crashed the hazard node there when the analysis assumed it was).
    ny, nx = heights.shape
    ys, xs = np.mgrid[0:ny, 0:nx].astype(np.float64) * resolution_m
    # Local coordinates keep the sums well conditioned: subtract each patch's centre.
    s1 = _box(m, k)
    sx, sy, sz = _box(m * xs, k), _box(m * ys, k), _box(z, k)
    sxx, syy, sxy = _box(m * xs * xs, k), _box(m * ys * ys, k), _box(m * xs * ys, k)
    sxz, syz, szz = _box(xs * z, k), _box(ys * z, k), _box(z * z, k)
    with np.errstate(invalid='ignore', divide='ignore'):
        cxx = sxx - sx * sx / s1
        cyy = syy - sy * sy / s1
        cxy = sxy - sx * sy / s1
        cxz = sxz - sx * sz / s1
        cyz = syz - sy * sz / s1
        czz = szz - sz * sz / s1
        det = cxx * cyy - cxy * cxy
        a = (cyy * cxz - cxy * cyz) / det
        b = (cxx * cyz - cxy * cxz) / det
        slope = np.degrees(np.arctan(np.hypot(a, b)))
        rough = np.sqrt(np.clip((czz - a * cxz - b * cyz) / s1, 0.0, None))
    w = max(3, int(round(limits.step_window_m / resolution_m)) | 1)
    # A disc, so that a uniform slope adds the same rise whatever its direction.
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (w, w))
    high = cv2.dilate(np.where(seen, heights, -1e6).astype(np.float32), kernel)
    low = cv2.erode(np.where(seen, heights, 1e6).astype(np.float32), kernel)
    seen_w = cv2.filter2D(m, cv2.CV_64F, kernel.astype(np.float64),
                          borderType=cv2.BORDER_CONSTANT)
    step = np.where(seen_w >= 2, high - low, 0.0)
    known = seen & (s1 >= limits.min_coverage * k * k) & (det > 1e-12)
    ratio = np.maximum.reduce([slope / limits.max_slope_deg, step / limits.max_step_m,
                               rough / limits.max_roughness_m])
    bad = ((slope > limits.max_slope_deg + limits.slope_margin_deg)
           | (step > limits.max_step_m + limits.step_margin_m)
           | (rough > limits.max_roughness_m))
    cost = np.clip(np.round(TRAVERSABLE_MAX * np.nan_to_num(ratio, nan=0.0, posinf=1.0)), 0,
                   TRAVERSABLE_MAX).astype(np.int8)
    cost[bad] = UNTRAVERSABLE
    cost[~known] = UNKNOWN
    return Analysis(cost, np.where(known, slope, np.nan), np.where(known, rough, np.nan),
                    np.where(known, step, np.nan))
