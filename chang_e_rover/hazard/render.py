"""A cost map as a picture: unknown grey, free green through amber, untraversable red. Pure numpy."""
from __future__ import annotations

import numpy as np

UNKNOWN_RGB = (90, 90, 90)


def render_cost_map(cost: np.ndarray, origin_x: float, origin_y: float, resolution: float,
                    path: list[tuple[float, float]] = (), scale: int = 4) -> np.ndarray:
    """Return an RGB uint8 image (north up: row 0 is the largest y) of a cost grid."""
    c = cost.astype(np.float32)
    t = np.clip(c / 99.0, 0.0, 1.0)[..., None]
    free = (1 - t) * np.array([40, 170, 60]) + t * np.array([230, 170, 30])
    img = np.where(c[..., None] < 0, np.array(UNKNOWN_RGB), free)
    img = np.where(c[..., None] >= 100, np.array([210, 30, 30]), img).astype(np.uint8)
    img = np.repeat(np.repeat(img, scale, axis=0), scale, axis=1)
    for x, y in path:
        col = int((x - origin_x) / resolution * scale)
        row = int((y - origin_y) / resolution * scale)
        if 0 <= row < img.shape[0] - 1 and 0 <= col < img.shape[1] - 1:
            img[row:row + 2, col:col + 2] = (255, 255, 255)
    return img[::-1].copy()
