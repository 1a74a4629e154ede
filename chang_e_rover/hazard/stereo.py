"""Stereo: rectify, match, triangulate. Pure numpy, with OpenCV's semi-global matcher.

Why StereoSGBM: semi-global matching (Hirschmueller 2008) is the standard
dense matcher of planetary rover stereo (e.g. the Mars 2020 and ExoMars
pipelines use SGM variants); OpenCV's is optimised C++, and a numpy matcher
would be tens of times slower for the same disparities. Everything around it
(rectification maps from camera_info, triangulation, the height map and the
traversability analysis) is here and in the sibling modules.

Matching runs at `scale` of the camera resolution (half by default): at 1024 x
1024 the full-resolution matcher cannot reach 1 Hz on one core of the target
machine, and half resolution still resolves 0.2 m at 5 m (ICD: depth error
under 0.2 m at 5 m; see docs/hazard.md for the figures).
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class CameraModel:
    """What the pipeline needs from a sensor_msgs/CameraInfo."""
    width: int
    height: int
    K: np.ndarray           # 3x3
    D: np.ndarray           # distortion (plumb_bob), may be empty
    R: np.ndarray           # 3x3 rectification rotation
    P: np.ndarray           # 3x4 projection; P[0, 3] = -f * baseline for the right camera

    @property
    def rectified(self) -> bool:
        """True if the images are already rectified (no distortion, R = I, P = [K|t])."""
        return (not np.any(self.D) and np.allclose(self.R, np.eye(3))
                and np.allclose(self.P[:, :3], self.K))


@dataclass(frozen=True)
class StereoParams:
    scale: float = 0.5
    num_disparities: int = 160
    block_size: int = 5
    uniqueness: int = 10
    speckle_window: int = 100
    speckle_range: int = 2
    min_range_m: float = 0.5
    max_range_m: float = 6.0
    stride: int = 2            # triangulate every stride-th pixel of the disparity map
    min_brightness: int = 12   # grey level under which a pixel is sky, never matched


class StereoPipeline:
    """Disparity and 3-D points (left optical frame) from a rectified or raw pair."""

    def __init__(self, left: CameraModel, right: CameraModel, params: StereoParams):
        if (left.width, left.height) != (right.width, right.height):
            raise ValueError('left and right images differ in size')
        self.p = params
        fx = right.P[0, 0]
        if not fx > 0 or right.P[0, 3] >= 0:
            raise ValueError('right camera_info P must carry Tx = -f * baseline < 0')
        self.baseline_m = -right.P[0, 3] / fx
        self.maps = None
        if not (left.rectified and right.rectified):
            size = (left.width, left.height)
            self.maps = [cv2.initUndistortRectifyMap(c.K, c.D, c.R, c.P[:, :3], size,
                                                     cv2.CV_16SC2) for c in (left, right)]
        s = params.scale
        self.size = (round(left.width * s), round(left.height * s))
        self.f = left.P[0, 0] * s
        self.cx = (left.P[0, 2] + 0.5) * s - 0.5
        self.cy = (left.P[1, 2] + 0.5) * s - 0.5
        bs = params.block_size
        self.matcher = cv2.StereoSGBM.create(
            minDisparity=0, numDisparities=params.num_disparities, blockSize=bs,
            P1=8 * bs * bs, P2=32 * bs * bs, disp12MaxDiff=1,
            uniquenessRatio=params.uniqueness, speckleWindowSize=params.speckle_window,
            speckleRange=params.speckle_range, mode=cv2.StereoSGBM_MODE_SGBM)
        h, w = self.size[1], self.size[0]
        v, u = np.mgrid[0:h:params.stride, 0:w:params.stride]
        self._u = (u.astype(np.float32) - self.cx) / self.f
        self._v = (v.astype(np.float32) - self.cy) / self.f

    def prepare(self, image: np.ndarray, which: int) -> np.ndarray:
        """Rectify (if needed), convert to grey and scale one image."""
        img = image
        if self.maps is not None:
            img = cv2.remap(img, *self.maps[which], cv2.INTER_LINEAR)
        if img.ndim == 3:
            img = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
        if self.size != (img.shape[1], img.shape[0]):
            img = cv2.resize(img, self.size, interpolation=cv2.INTER_AREA)
        return img

    def disparity(self, left: np.ndarray, right: np.ndarray) -> np.ndarray:
        """Return the disparity (px at the working scale, float32; <= 0 where unknown)."""
        # SGBM leaves the left num_disparities columns empty; padding both images on
        # the left lets it match every pixel whose partner is inside the right image.
        pad = self.p.num_disparities
        grey = [self.prepare(img, i) for i, img in enumerate((left, right))]
        imgs = [cv2.copyMakeBorder(g, 0, 0, pad, 0, cv2.BORDER_REPLICATE) for g in grey]
        disp = self.matcher.compute(*imgs)[:, pad:].astype(np.float32) / 16.0
        # Black sky has only read noise, which the matcher would happily match.
        dark = cv2.blur(grey[0], (5, 5)) < self.p.min_brightness
        disp[dark] = -1.0
        return disp

    def points(self, disparity: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return (N, 3) points in the left optical frame and their weights (1 / range^2)."""
        s = self.p.stride
        d = disparity[::s, ::s]
        ok = d > 0
        z = np.zeros_like(d)
        z[ok] = self.f * self.baseline_m / d[ok]
        ok &= (z >= self.p.min_range_m) & (z <= self.p.max_range_m)
        zs = z[ok]
        pts = np.stack([self._u[ok] * zs, self._v[ok] * zs, zs], axis=1)
        return pts, 1.0 / (zs * zs)

    def depth_step_m(self, range_m: float) -> float:
        """Depth change per pixel of disparity at range_m (the quantum before sub-pixel)."""
        return range_m * range_m / (self.f * self.baseline_m)


def seen_through(points: np.ndarray, eye: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Return a mask of points whose line of sight from eye crosses one of the boxes.

    A point that a camera could only see through the rover's own wheel is a
    mismatch (typically where one camera of the pair sees the wheel and the
    other the ground beside it), wherever it was triangulated.

    :param points: (N, 3) in the frame of the boxes.
    :param eye: (3,) camera centre in that frame.
    :param boxes: (M, 2, 3) axis-aligned boxes as (min corner, max corner).
    """
    d = points - eye
    hit = np.zeros(len(points), dtype=bool)
    with np.errstate(divide='ignore', invalid='ignore'):
        inv = 1.0 / d
        for lo, hi in boxes:
            t1, t2 = (lo - eye) * inv, (hi - eye) * inv
            near = np.nanmax(np.minimum(t1, t2), axis=1)
            far = np.nanmin(np.maximum(t1, t2), axis=1)
            hit |= (near <= far) & (far >= 0.0) & (near <= 1.0)
    return hit
