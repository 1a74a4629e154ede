"""Lunar terrain from a seed: craters, rocks and the named test terrains of the ICD.

Pure numpy. Craters follow the steady-state cumulative size-frequency
N(>D) = c D^-2; rocks follow Golombek and Rapp (1997): the cumulative fraction
of area covered by rocks of diameter D or larger is F(D) = k exp(-q(k) D) with
q(k) = 1.79 + 0.152 / k. A rock is a half-buried ellipsoid whose height above
the ground is half its diameter (Golombek and Rapp's height-to-diameter ratio).
"""
from __future__ import annotations

from dataclasses import dataclass, field
import math

import numpy as np

NAMED_TERRAINS = ('flat', 'ramp20', 'ramp25', 'step20', 'step25', 'rocks')
FEATURE_START_X = 3.0   # ICD: ramps and steps begin 3 m ahead of the start pose
ROCK_HEIGHT_RATIO = 0.5


class TerrainError(ValueError):
    """A terrain was asked for with a name or parameter outside what is supported."""


@dataclass(frozen=True)
class Box:
    """A solid block: centre (m), half sizes (m) and pitch about +y (rad)."""

    center: tuple[float, float, float]
    half: tuple[float, float, float]
    pitch: float = 0.0


@dataclass
class Terrain:
    name: str
    size_m: float
    resolution_m: float
    heights: np.ndarray | None            # (n, n) metres, row = y, column = x; None: flat plane
    boxes: list[Box] = field(default_factory=list)
    rocks: np.ndarray = field(default_factory=lambda: np.zeros((0, 4)))  # x, y, diameter, base z
    craters: np.ndarray = field(default_factory=lambda: np.zeros((0, 4)))  # x, y, D, depth

    def ground_height(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Return the surface height without rocks (bilinear on the heightfield, plus boxes)."""
        x = np.asarray(x, dtype=float)
        y = np.asarray(y, dtype=float)
        z = np.zeros(np.broadcast(x, y).shape)
        if self.heights is not None:
            z = z + _bilinear(self.heights, self.size_m, x, y)
        for box in self.boxes:
            z = np.maximum(z, _box_top(box, x, y))
        return z

    def true_height(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Return the surface height including rocks: the ground truth for hazard maps."""
        z = self.ground_height(x, y)
        for rx, ry, d, base in self.rocks:
            r2 = ((x - rx) ** 2 + (y - ry) ** 2) / (d / 2) ** 2
            inside = r2 < 1.0
            top = base + ROCK_HEIGHT_RATIO * d * np.sqrt(np.clip(1.0 - r2, 0.0, None))
            z = np.where(inside, np.maximum(z, top), z)
        return z


def _bilinear(h: np.ndarray, size: float, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    n = h.shape[0]
    fx = np.clip((x + size / 2) / size * (n - 1), 0, n - 1 - 1e-9)
    fy = np.clip((y + size / 2) / size * (n - 1), 0, n - 1 - 1e-9)
    i, j = fy.astype(int), fx.astype(int)
    ty, tx = fy - i, fx - j
    return (h[i, j] * (1 - tx) * (1 - ty) + h[i, j + 1] * tx * (1 - ty)
            + h[i + 1, j] * (1 - tx) * ty + h[i + 1, j + 1] * tx * ty)


def _box_top(box: Box, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Height of a box's top face over (x, y); -inf outside its footprint.

    A box pitched by `pitch` about +y (negative: nose up) has its top face rising
    along x with slope -tan(pitch); its footprint half-length is hx cos(pitch).
    """
    cx, cy, cz = box.center
    hx, hy, hz = box.half
    c = math.cos(box.pitch)
    top = cz + hz / c - (x - cx) * math.tan(box.pitch)
    inside = (np.abs(x - cx) <= hx * c) & (np.abs(y - cy) <= hy)
    return np.where(inside, top, -np.inf)


def golombek_rapp_q(k: float) -> float:
    """Return q(k) = 1.79 + 0.152 / k of the Golombek-Rapp rock model (per m)."""
    return 1.79 + 0.152 / k


def rock_area_fraction_model(k: float, d: np.ndarray | float, d_max: float = math.inf
                             ) -> np.ndarray:
    """Return the model's fraction of area covered by rocks with diameter in [d, d_max]."""
    q = golombek_rapp_q(k)
    return k * (np.exp(-q * np.asarray(d, dtype=float)) - math.exp(-q * d_max))


def rock_diameter_cdf(k: float, d_min: float, d_max: float):
    """Return (grid, cdf) of rock diameters by number between d_min and d_max."""
    q = golombek_rapp_q(k)
    grid = np.linspace(d_min, d_max, 4001)
    # number density = area density / area of one rock: k q e^(-qD) / (pi D^2 / 4)
    density = k * q * np.exp(-q * grid) / (math.pi * grid ** 2 / 4)
    cum = np.concatenate([[0.0], np.cumsum((density[1:] + density[:-1]) / 2 * np.diff(grid))])
    return grid, cum


def sample_rocks(rng: np.random.Generator, k: float, area_m2: float, d_min: float,
                 d_max: float) -> np.ndarray:
    """Draw rock diameters from the Golombek-Rapp model for a given area (Poisson count)."""
    if not 0.0 <= k <= 0.4:
        raise TerrainError(f'rock abundance k={k} is outside 0 to 0.4')
    if k == 0.0:
        return np.zeros(0)
    grid, cum = rock_diameter_cdf(k, d_min, d_max)
    count = rng.poisson(cum[-1] * area_m2)
    return np.interp(rng.uniform(0.0, cum[-1], count), cum, grid)


def sample_craters(rng: np.random.Generator, density: float, area_m2: float, d_min: float,
                   d_max: float) -> np.ndarray:
    """Draw crater diameters from N(>D) = density D^-2, truncated to [d_min, d_max]."""
    expected = density * area_m2 * (d_min ** -2 - d_max ** -2)
    u = rng.uniform(0.0, 1.0, rng.poisson(expected))
    # inverse of the truncated Pareto (alpha = 2) CDF
    return (d_min ** -2 - u * (d_min ** -2 - d_max ** -2)) ** -0.5


def _crater_profile(r: np.ndarray, diameter: float, depth: float) -> np.ndarray:
    """Bowl with a raised rim (rim height 4 % of D) that decays outside as (R/r)^3."""
    radius = diameter / 2
    rim = 0.04 * diameter
    inside = (depth + rim) * (r / radius) ** 2 - depth
    outside = rim * (radius / np.maximum(r, radius)) ** 3
    return np.where(r < radius, inside, outside)


def generate(name: str, seed: int = 1, rock_abundance: float = 0.05, size_m: float = 50.0,
             resolution_m: float = 0.05, crater_density: float = 0.01,
             crater_min_m: float = 1.0, crater_max_m: float = 12.0, rock_min_m: float = 0.10,
             rock_max_m: float = 1.5, keep_clear_m: float = 2.0,
             keep_clear_xy: tuple[tuple[float, float], ...] = ((0.0, 0.0),)) -> Terrain:
    """Build a named terrain; 'rocks' is drawn from the seed, the others are exact shapes."""
    if name not in NAMED_TERRAINS:
        raise TerrainError(f'unknown terrain {name!r}; expected one of {NAMED_TERRAINS}')
    for label, value in (('size_m', size_m), ('resolution_m', resolution_m)):
        if not (math.isfinite(value) and value > 0):
            raise TerrainError(f'{label} must be positive and finite, got {value}')
    if name == 'flat':
        return Terrain(name, size_m, resolution_m, None)
    if name.startswith('ramp'):
        slope = math.radians(float(name[4:]))
        length, thick = 20.0, 0.5
        # Box pitched nose-up; its top edge line passes through (FEATURE_START_X, 0).
        cx = FEATURE_START_X + length / 2 * math.cos(slope) + thick * math.sin(slope)
        cz = length / 2 * math.sin(slope) - thick * math.cos(slope)
        return Terrain(name, size_m, resolution_m, None,
                       boxes=[Box((cx, 0.0, cz), (length / 2, size_m / 2, thick), -slope)])
    if name.startswith('step'):
        height = float(name[4:]) / 100.0
        length = size_m / 2 - FEATURE_START_X
        return Terrain(name, size_m, resolution_m, None,
                       boxes=[Box((FEATURE_START_X + length / 2, 0.0, height / 2),
                                  (length / 2, size_m / 2, height / 2))])
    rng = np.random.default_rng(seed)
    n = int(round(size_m / resolution_m)) + 1
    axis = np.linspace(-size_m / 2, size_m / 2, n)
    gx, gy = np.meshgrid(axis, axis)
    heights = _undulation(rng, gx, gy)
    area = size_m ** 2
    clear = np.asarray(keep_clear_xy, dtype=float)
    craters = []
    for d in np.sort(sample_craters(rng, crater_density, area, crater_min_m, crater_max_m))[::-1]:
        x, y = rng.uniform(-size_m / 2, size_m / 2, 2)
        if np.min(np.hypot(clear[:, 0] - x, clear[:, 1] - y)) < keep_clear_m + 0.75 * d:
            continue
        depth = d * rng.uniform(0.05, 0.15)   # degraded to fresh-ish; fresh bowls reach 0.2 D
        reach = 1.5 * d
        sl = (slice(max(0, int((y - reach + size_m / 2) / resolution_m)),
                    min(n, int((y + reach + size_m / 2) / resolution_m) + 2)),
              slice(max(0, int((x - reach + size_m / 2) / resolution_m)),
                    min(n, int((x + reach + size_m / 2) / resolution_m) + 2)))
        heights[sl] += _crater_profile(np.hypot(gx[sl] - x, gy[sl] - y), d, depth)
        craters.append((x, y, d, depth))
    diameters = sample_rocks(rng, rock_abundance, area, rock_min_m, rock_max_m)
    xy = rng.uniform(-size_m / 2, size_m / 2, (len(diameters), 2))
    dist = np.min(np.hypot(xy[:, None, 0] - clear[None, :, 0], xy[:, None, 1] - clear[None, :, 1]),
                  axis=1)
    keep = dist > keep_clear_m + diameters / 2
    xy, diameters = xy[keep], diameters[keep]
    terrain = Terrain(name, size_m, resolution_m, heights,
                      craters=np.array(craters).reshape(-1, 4))
    base = terrain.ground_height(xy[:, 0], xy[:, 1]) if len(xy) else np.zeros(0)
    terrain.rocks = np.column_stack([xy, diameters, base]).reshape(-1, 4)
    return terrain


def _undulation(rng: np.random.Generator, gx: np.ndarray, gy: np.ndarray) -> np.ndarray:
    """Gentle regolith undulation: a few random long-wave sinusoids, 2-3 cm high."""
    z = np.zeros_like(gx)
    for wavelength in (8.0, 4.0, 2.0):
        for _ in range(3):
            theta, phase = rng.uniform(0, 2 * math.pi, 2)
            kx, ky = np.cos(theta) * 2 * math.pi / wavelength, np.sin(theta) * 2 * math.pi / wavelength
            z += 0.004 * wavelength ** 0.5 * np.sin(kx * gx + ky * gy + phase)
    return z


def downsample(heights: np.ndarray, factor: int) -> np.ndarray:
    """Return a coarse copy of a heightfield for the cameras (every factor-th sample)."""
    return np.ascontiguousarray(heights[::factor, ::factor])
