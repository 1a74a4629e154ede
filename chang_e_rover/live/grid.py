"""An occupancy grid (the hazard map) as the cells of a Foxglove Grid: colour and cost.

Pure numpy. Each cell carries red, green, blue, alpha (so Foxglove draws it as it
comes, in its RGBA fields colour mode) and the cost itself: -1 unknown, 0..99
cost, 100 untraversable, as on rover/hazard/map (docs/interfaces.md).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from chang_e_rover.hazard.costs import UNKNOWN, UNTRAVERSABLE

# name, byte offset in a cell, numeric type
FIELDS = (('red', 0, 'uint8'), ('green', 1, 'uint8'), ('blue', 2, 'uint8'),
          ('alpha', 3, 'uint8'), ('cost', 4, 'int8'))
CELL_STRIDE = 5
# Colours: a traversable cell from green (free) through yellow to red (at the limits),
# half transparent so the ground shows through; untraversable dark red and opaque;
# unknown not drawn.
COST_ALPHA = 140
UNTRAVERSABLE_RGBA = (110, 0, 0, 230)


@dataclass(frozen=True)
class GridCells:
    column_count: int
    row_count: int
    cell_stride: int                              # bytes per cell
    row_stride: int                               # bytes per row
    fields: tuple[tuple[str, int, str], ...]      # name, byte offset, numeric type
    data: bytes                                   # row-major, row 0 at the grid's origin


def occupancy_cells(width: int, height: int, values: Sequence[int]) -> GridCells:
    """Return the cells of a width x height occupancy grid (values row-major, as in
    nav_msgs/OccupancyGrid); raise ValueError for a size or a value out of its range."""
    cost = np.asarray(values, dtype=np.int16)
    if width <= 0 or height <= 0 or cost.shape != (width * height,):
        raise ValueError(f'occupancy grid of {cost.size} cells is not {width} x {height}')
    if cost.size and (cost.min() < UNKNOWN or cost.max() > UNTRAVERSABLE):
        raise ValueError(f'occupancy values {cost.min()}..{cost.max()} are outside -1..100')
    cells = np.zeros((cost.size, CELL_STRIDE), np.uint8)
    known = (cost >= 0) & (cost < UNTRAVERSABLE)
    c = cost[known].astype(float) / (UNTRAVERSABLE - 1)
    cells[known, 0] = np.round(255 * np.minimum(1.0, 2 * c))
    cells[known, 1] = np.round(255 * np.minimum(1.0, 2 * (1 - c)))
    cells[known, 3] = COST_ALPHA
    cells[cost == UNTRAVERSABLE, :4] = UNTRAVERSABLE_RGBA
    cells[:, 4] = cost.astype(np.int8).view(np.uint8)
    return GridCells(width, height, CELL_STRIDE, CELL_STRIDE * width, FIELDS, cells.tobytes())
