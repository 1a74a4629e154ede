"""The mission's image products: the lander panorama and the hazard map, as PNG files.

numpy and OpenCV, no rclpy: the node hands over arrays; each writer returns what the
mission report says of the file (its name inside the folder, and its figures).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from chang_e_rover.hazard.costs import UNTRAVERSABLE

PANORAMA_FILE = 'panorama.png'
HAZARD_MAP_FILE = 'hazard_map.png'


def write_rgb(folder: Path, name: str, rgb: np.ndarray) -> Path:
    """Write an RGB uint8 image as folder/name; return its path."""
    import cv2
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f'{name}: an H x W x 3 uint8 image expected, got {rgb.shape} '
                         f'{rgb.dtype}')
    path = Path(folder) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), rgb[:, :, ::-1]):
        raise OSError(f'{path}: not written')
    return path


def write_panorama(folder: Path, rgb: np.ndarray) -> dict:
    """Write the lander's panorama; return width_px, height_px, file."""
    write_rgb(folder, PANORAMA_FILE, rgb)
    return {'width_px': int(rgb.shape[1]), 'height_px': int(rgb.shape[0]), 'file': PANORAMA_FILE}


def write_hazard_map(folder: Path, cost: np.ndarray, origin: tuple[float, float],
                     resolution: float, path: list[tuple[float, float]]) -> dict:
    """Write a hazard map (cost per cell, -1 unknown) with the driven path (odom) drawn on it;
    return cells_seen, untraversable, file."""
    from chang_e_rover.hazard.render import render_cost_map
    write_rgb(folder, HAZARD_MAP_FILE, render_cost_map(cost, origin[0], origin[1], resolution,
                                                       path))
    return {'cells_seen': int(np.count_nonzero(cost >= 0)),
            'untraversable': int(np.count_nonzero(cost == UNTRAVERSABLE)),
            'file': HAZARD_MAP_FILE}
