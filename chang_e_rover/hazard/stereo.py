"""Stereo: rectify, match, triangulate. Pure numpy, with OpenCV's semi-global matcher.

Why StereoSGBM: semi-global matching (Hirschmueller 2008) is the standard
dense matcher of planetary rover stereo (e.g. the Mars 2020 and ExoMars
pipelines use SGM variants); OpenCV's is optimised C++, and a numpy matcher
would be tens of times slower for the same disparities. Everything around it
(rectification maps from camera_info, triangulation, the height map and the
traversability analysis) is here and in the sibling modules.

Two scales, as far and near ground need. The whole frame is matched at `scale`
of the camera resolution (half by default: at 1024 x 1024 the full-resolution
matcher over the near range's disparities cannot reach 1 Hz on one core of the
target machine). Beyond `far_from_m` a half-resolution pixel of disparity is
0.18 m of depth or more (0.49 m at 5 m), and a 0.2 m rock 5 m away is a dozen
pixels across: there the step heights came out low (a 0.22 m rock seen at 4.5-5 m
measured 0.15 m). So the band of rows that holds the far ground (found from
the half-resolution disparities) is matched again at full resolution, over the
few disparities that far ground needs, and its points replace the
half-resolution ones beyond far_from_m. A full-resolution disparity is taken
only where the half-resolution match does not put the pixel nearer than
0.75 far_from_m, so that near surfaces whose disparity lies past the short
search range cannot alias into far points. See docs/hazard.md for the figures.
"""
from __future__ import annotations

from dataclasses import dataclass
import math

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
    far_from_m: float = 3.0    # beyond this range, points from a full-resolution match (0: off)
    occlusion_tolerance_px: float = 1.0   # a nearer pixel on the partner: hidden


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
        self.far_matcher = None
        if params.far_from_m > 0 and s < 1.0:
            self.full_size = (left.width, left.height)
            self.f_full = left.P[0, 0]
            self.cx_full, self.cy_full = left.P[0, 2], left.P[1, 2]
            # the far band's search range: 1.5 times the disparity at far_from_m (headroom
            # so that ground just inside it is matched, not clipped), in steps of 16
            d_far = self.f_full * self.baseline_m / params.far_from_m
            self.far_num_disparities = 16 * math.ceil(1.5 * d_far / 16)
            # pixels the half-resolution match puts nearer than this are not taken from
            # the full-resolution one (their disparity may lie past its search range)
            self.alias_guard_px = self.f * self.baseline_m / (0.75 * params.far_from_m)
            self.far_matcher = cv2.StereoSGBM.create(
                minDisparity=0, numDisparities=self.far_num_disparities, blockSize=bs,
                P1=8 * bs * bs, P2=32 * bs * bs, disp12MaxDiff=1,
                uniquenessRatio=params.uniqueness, speckleWindowSize=params.speckle_window,
                speckleRange=params.speckle_range, mode=cv2.StereoSGBM_MODE_SGBM)
            fv, fu = np.mgrid[0:left.height:params.stride, 0:left.width:params.stride]
            self._uf = (fu.astype(np.float32) - self.cx_full) / self.f_full
            self._vf = (fv.astype(np.float32) - self.cy_full) / self.f_full
        self.far_rows: tuple[int, int] | None = None   # the last pair's full-resolution band

    def grey(self, image: np.ndarray, which: int) -> np.ndarray:
        """Rectify (if needed) and convert one image to grey, at full resolution."""
        img = image
        if self.maps is not None:
            img = cv2.remap(img, *self.maps[which], cv2.INTER_LINEAR)
        if img.ndim == 3:
            img = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
        return img

    def prepare(self, image: np.ndarray, which: int) -> np.ndarray:
        """Rectify (if needed), convert to grey and scale one image."""
        img = self.grey(image, which)
        if self.size != (img.shape[1], img.shape[0]):
            img = cv2.resize(img, self.size, interpolation=cv2.INTER_AREA)
        return img

    def _match(self, matcher, grey: list[np.ndarray], pad: int) -> np.ndarray:
        # SGBM leaves the left num_disparities columns empty; padding both images on
        # the left lets it match every pixel whose partner is inside the right image.
        imgs = [cv2.copyMakeBorder(g, 0, 0, pad, 0, cv2.BORDER_REPLICATE) for g in grey]
        disp = matcher.compute(*imgs)[:, pad:].astype(np.float32) / 16.0
        # Black sky has only read noise, which the matcher would happily match.
        disp[cv2.blur(grey[0], (5, 5)) < self.p.min_brightness] = -1.0
        return self._keep_visible_partners(disp)

    def _keep_visible_partners(self, disp: np.ndarray) -> np.ndarray:
        """Drop disparities whose partner pixel the right camera cannot have seen.

        A left pixel at column u with disparity d has its partner at u - d in the right
        image. Where the true partner lies outside the right image (near ground at the
        left edge, often just past the rover's own front wheel) or behind a nearer
        surface (ground beside a plank or a rock), the matcher still returns the best of
        what it can reach: a smaller disparity, a point beyond the ground, which the map
        reads as a pit. Kept: a partner whose matching block lies inside the right image
        (u - d at least the block's half width plus one), and one whose block no other
        pixel of the row lands in with a disparity more than occlusion_tolerance_px
        larger (a nearer surface would hide it: a z-buffer of the right image, widened
        by the block).
        """
        u = np.arange(disp.shape[1], dtype=np.float32)[None, :]
        partner = u - disp
        disp[(disp > 0) & (partner < self.p.block_size // 2 + 1)] = -1.0
        rows, cols = np.nonzero(disp > 0)
        d = disp[rows, cols]
        x = np.rint(partner[rows, cols]).astype(np.intp)
        nearest = np.zeros_like(disp)       # per right pixel: the largest disparity on it
        np.maximum.at(nearest, (rows, x), d)
        nearest = cv2.dilate(nearest, np.ones((1, self.p.block_size), np.uint8))
        hidden = d < nearest[rows, x] - self.p.occlusion_tolerance_px
        disp[rows[hidden], cols[hidden]] = -1.0
        return disp

    def disparity(self, left: np.ndarray, right: np.ndarray) -> np.ndarray:
        """Return the disparity (px at the working scale, float32; <= 0 where unknown)."""
        grey = [self.prepare(img, i) for i, img in enumerate((left, right))]
        return self._match(self.matcher, grey, self.p.num_disparities)

    def points(self, disparity: np.ndarray,
               far_m: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Return (N, 3) points in the left optical frame and their weights (1 / range^2).

        disparity is at the working scale; points beyond far_m (if given) are left out.
        """
        return self._triangulate(disparity[::self.p.stride, ::self.p.stride], self.f,
                                 self._u, self._v, far_m or self.p.max_range_m, 1.0)

    def _triangulate(self, d, f, u, v, max_m: float, weight: float):
        ok = d > 0
        z = np.zeros_like(d)
        z[ok] = f * self.baseline_m / d[ok]
        ok &= (z >= self.p.min_range_m) & (z <= max_m)
        zs = z[ok]
        pts = np.stack([u[ok] * zs, v[ok] * zs, zs], axis=1)
        return pts, weight / (zs * zs)

    def pair_points(self, left: np.ndarray, right: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return the points and weights of a pair: both scales (see the module's doc)."""
        if self.far_matcher is None:
            return self.points(self.disparity(left, right))
        full = [self.grey(img, i) for i, img in enumerate((left, right))]
        half = [cv2.resize(g, self.size, interpolation=cv2.INTER_AREA) for g in full]
        disp = self._match(self.matcher, half, self.p.num_disparities)
        far_m = self.p.far_from_m
        # The far band: half-resolution rows where far ground is a tenth of the row or
        # more (stray far matches at the frame's bottom edge are a few per row).
        far = (disp > 0) & (disp <= self.alias_guard_px)
        rows = np.nonzero(far.sum(axis=1) >= 0.1 * disp.shape[1])[0]
        if rows.size == 0:
            self.far_rows = None
            return self.points(disp)
        k = self.full_size[1] / self.size[1]
        margin = self.p.block_size + 8
        r0 = max(0, int(rows[0] * k) - margin)
        r0 -= r0 % self.p.stride            # keep the stride grid's rows
        r1 = min(self.full_size[1], int((rows[-1] + 1) * k) + margin)
        self.far_rows = (r0, r1)
        near_pts, near_w = self.points(disp, far_m)
        band = self._match(self.far_matcher, [g[r0:r1] for g in full], self.far_num_disparities)
        s = self.p.stride
        d = band[::s, ::s]
        # Only where the half-resolution match puts the pixel's neighbourhood far: near
        # it, or where it found nothing, a disparity past the short search range could
        # alias into a far point (near ground with a failed coarse match did, and
        # doubled the height error).
        coarse = cv2.dilate(disp, np.ones((3, 3), np.uint8))
        hr = np.arange(r0, r1, s) * self.size[1] // self.full_size[1]
        hc = np.arange(0, self.full_size[0], s) * self.size[0] // self.full_size[0]
        coarse = coarse[np.ix_(hr, hc)]
        d = np.where((coarse > 0) & (coarse <= self.alias_guard_px), d, 0.0)
        d = np.where(d >= self.f_full * self.baseline_m / far_m, 0.0, d)    # nearer: half-res
        g0 = r0 // s
        far_pts, far_w = self._triangulate(d, self.f_full, self._uf[g0:g0 + d.shape[0]],
                                           self._vf[g0:g0 + d.shape[0]], self.p.max_range_m,
                                           # a full-resolution view has 1/scale^2 times the
                                           # points: each weighs that much less
                                           (self.size[0] / self.full_size[0]) ** 2)
        # (half-resolution points beyond far_m outside the band, a few per row, are
        # left out: stray matches more often than ground)
        return np.concatenate([near_pts, far_pts]), np.concatenate([near_w, far_w])

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
    d = (points - eye).T            # (3, N): one contiguous row per axis
    hit = np.zeros(len(points), dtype=bool)
    with np.errstate(divide='ignore', invalid='ignore'):
        inv = 1.0 / d
        for lo, hi in boxes:
            # the slab test, axis by axis; an axis whose slab entry is undefined (a ray
            # along the slab's face: 0 * inf) is left out, as np.nanmax would
            near = far = None
            for k in range(3):
                t1, t2 = (lo[k] - eye[k]) * inv[k], (hi[k] - eye[k]) * inv[k]
                a, b = np.minimum(t1, t2), np.maximum(t1, t2)
                near = a if near is None else np.fmax(near, a)
                far = b if far is None else np.fmin(far, b)
            hit |= (near <= far) & (far >= 0.0) & (near <= 1.0)
    return hit
