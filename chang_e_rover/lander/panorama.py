"""The terrain camera's 360 degree panorama, stitched from known pointing. numpy + cv2.remap.

Mission mosaics are not made by matching features: the camera's pointing is
known from the mount's encoders, so every frame is placed by geometry alone.
Here each panorama pixel is a ray (azimuth, elevation) from the camera's
optical centre in the lander's frame; for every frame the ray is turned into
that frame's camera coordinates by the pan/tilt rotation and projected through
the pinhole; the frame is sampled there (cv2.remap: bilinear resampling is what
it is for), weighted by a feather that falls to zero at the frame's edges, and
the weighted frames are averaged, a tile of columns at a time (stitch). Before that:

- each frame is area-averaged down to the panorama's scale as it arrives
  (anti-aliasing, and 25x less memory than full frames);
- exposure is balanced by gain compensation (Brown and Lowe, 2007): one gain
  per frame minimising intensity differences over all pairwise overlaps (measured
  at a quarter of the panorama's scale), with a prior pulling gains to 1;
- the red cast is removed with the detectors' response measured on the
  calibration target on the deck, in the frames that show it (imaging/caltarget.py).

The mount must turn about the optical centre (a nodal mount, urdf/lander.urdf),
else near terrain shows parallax at the seams.

Cylindrical projection: column = azimuth * px_per_rad (azimuth 0 at the lander's
+x, increasing anticlockwise seen from above, so the panorama reads left to
right as the camera pans right: column increases with decreasing azimuth);
row = (tan(el_top) - tan(el)) * px_per_rad.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
import math

import cv2
import numpy as np

from chang_e_rover.imaging.caltarget import calibrate, Target
from chang_e_rover.imaging.colour import CalibrationError, correct


class PanoramaError(ValueError):
    """A campaign or a frame that cannot make a panorama."""


@dataclass(frozen=True)
class Campaign:
    """Where the camera points: azimuths x elevations, pan and tilt in radians."""

    pans: tuple[float, ...]       # pan joint angle per column of frames
    tilts: tuple[float, ...]      # tilt joint angle per row (positive looks down)

    @classmethod
    def from_params(cls, p: dict) -> Campaign:
        n = int(p['azimuths'])
        if n < 2:
            raise PanoramaError('a 360 degree campaign needs at least 2 azimuths')
        start = math.radians(float(p['first_azimuth_deg']))
        pans = tuple(start - 2 * math.pi * i / n for i in range(n))   # pan right
        tilts = tuple(-math.radians(float(e)) for e in p['elevations_deg'])
        return cls(pans, tilts)

    def pointings(self) -> list[tuple[float, float]]:
        """(pan, tilt) in capture order: row by row, serpentine to save slewing."""
        out = []
        for r, tilt in enumerate(self.tilts):
            pans = self.pans if r % 2 == 0 else self.pans[::-1]
            out += [(pan, tilt) for pan in pans]
        return out


def rotation(pan: float, tilt: float) -> np.ndarray:
    """Return R (lander <- optical): columns are the optical x (right), y (down), z (forward).

    The mount: pan about the lander's z, then tilt about the pan head's y
    (urdf/lander.urdf: positive tilt looks down).
    """
    cp, sp, ct, st = math.cos(pan), math.sin(pan), math.cos(tilt), math.sin(tilt)
    rz = np.array([[cp, -sp, 0.0], [sp, cp, 0.0], [0.0, 0.0, 1.0]])
    ry = np.array([[ct, 0.0, st], [0.0, 1.0, 0.0], [-st, 0.0, ct]])
    link = rz @ ry
    # optical frame in the camera link: x_opt = -y_link, y_opt = -z_link, z_opt = x_link
    return link @ np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])


@dataclass
class Frame:
    """One frame reduced to the panorama's scale, with its pointing."""

    image: np.ndarray        # uint8 (h, w, 3), raw detector counts
    k: np.ndarray            # 3x3 intrinsics at this scale
    r: np.ndarray            # lander <- optical
    pan: float
    tilt: float


def reduce(image: np.ndarray, k: np.ndarray, factor: int) -> tuple[np.ndarray, np.ndarray]:
    """Area-average image by an integer factor; return it (uint8) and its intrinsics.

    Eight bits, as the detector gives them: the 80 reduced frames are 39 MB, where
    float32 would be 156 MB; rounding the averages adds 0.3 DN rms, under the
    detector's own noise.
    """
    img = np.asarray(image)
    if img.ndim != 3 or img.shape[2] != 3:
        raise PanoramaError(f'expected an RGB frame, got shape {img.shape}')
    if factor < 1:
        raise PanoramaError(f'reduction factor must be >= 1, got {factor}')
    if img.dtype != np.uint8:
        img = np.clip(img + 0.5, 0, 255).astype(np.uint8)
    h, w = (img.shape[0] // factor) * factor, (img.shape[1] // factor) * factor
    if factor == 1:
        small = img[:h, :w].copy()
    else:
        small = cv2.resize(img[:h, :w], (w // factor, h // factor), interpolation=cv2.INTER_AREA)
    kk = np.array(k, dtype=np.float64).copy()
    # pixel j of the small image covers pixels factor*j .. factor*j+factor-1
    kk[0, 0] /= factor
    kk[1, 1] /= factor
    kk[0, 2] = (kk[0, 2] - (factor - 1) / 2) / factor
    kk[1, 2] = (kk[1, 2] - (factor - 1) / 2) / factor
    return small, kk


@dataclass
class Layout:
    """The cylindrical panorama's pixel grid."""

    px_per_deg: float
    el_top_deg: float
    el_bottom_deg: float
    width: int = field(init=False)
    height: int = field(init=False)

    def __post_init__(self):
        if not (-80.0 < self.el_bottom_deg < self.el_top_deg < 80.0):
            raise PanoramaError('elevation range must satisfy -80 < bottom < top < 80 deg')
        if not (0.5 <= self.px_per_deg <= 200.0):
            raise PanoramaError(f'px_per_deg {self.px_per_deg} out of 0.5..200')
        self.f = self.px_per_deg * 180.0 / math.pi       # pixels per radian
        self.width = int(round(360.0 * self.px_per_deg))
        self.t_top = math.tan(math.radians(self.el_top_deg))
        t_bottom = math.tan(math.radians(self.el_bottom_deg))
        self.height = int(round((self.t_top - t_bottom) * self.f))

    def rays(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Unit-free ray directions (..., 3) in the lander frame for pixel centres."""
        az = -(cols + 0.5) / self.f                  # column grows as azimuth falls
        t = self.t_top - (rows + 0.5) / self.f       # tan(elevation)
        return np.stack(np.broadcast_arrays(np.cos(az), np.sin(az), t), axis=-1)

    def pixel(self, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Panorama (col, row), continuous, of lander-frame directions (..., 3)."""
        az = np.arctan2(d[..., 1], d[..., 0])
        t = d[..., 2] / np.hypot(d[..., 0], d[..., 1])
        return (-az * self.f) % self.width - 0.5, (self.t_top - t) * self.f - 0.5


def footprint(frame: Frame, layout: Layout, samples: int = 24) -> tuple[int, int, int, int]:
    """(c0, c1, r0, r1): the columns (unwrapped, may pass the width) and rows a frame covers."""
    h, w = frame.image.shape[:2]
    u = np.concatenate([np.linspace(0, w - 1, samples), np.full(samples, w - 1),
                        np.linspace(w - 1, 0, samples), np.zeros(samples)])
    v = np.concatenate([np.zeros(samples), np.linspace(0, h - 1, samples),
                        np.full(samples, h - 1), np.linspace(h - 1, 0, samples)])
    kinv = np.linalg.inv(frame.k)
    d = (frame.r @ (kinv @ np.stack([u, v, np.ones_like(u)])))
    col, row = layout.pixel(d.T)
    # unwrap columns around the frame's centre
    centre_col, _ = layout.pixel(frame.r[:, 2])
    dc = (col - centre_col + layout.width / 2) % layout.width - layout.width / 2
    c0 = int(math.floor(centre_col + dc.min())) - 1
    c1 = int(math.ceil(centre_col + dc.max())) + 2
    r0 = max(int(math.floor(row.min())) - 1, 0)
    r1 = min(int(math.ceil(row.max())) + 2, layout.height)
    return c0, c1, r0, r1


def warp(frame: Frame, layout: Layout, feather_px: float,
         box: tuple[int, int, int, int] | None = None):
    """Resample a frame into the panorama over box = (c0, c1, r0, r1), by default its
    footprint (columns unwrapped, as footprint gives them).

    Returns (c0, r0, image (h, w, 3) float32, weight (h, w) float32); columns
    start at c0 and may run past the panorama's width (wrap them).

    A panorama pixel's ray is (cos az, sin az, tan el) with az from the column and
    tan el from the row, so each of its optical coordinates is a function of the
    column plus one of the row: two vectors and an outer sum, not a 3-vector per
    pixel turned by a matrix.
    """
    c0, c1, r0, r1 = footprint(frame, layout) if box is None else box
    if r1 <= r0 or c1 <= c0:
        return c0, r0, np.zeros((0, 0, 3), np.float32), np.zeros((0, 0), np.float32)
    az = -(np.arange(c0, c1) + 0.5) / layout.f                 # column grows as az falls
    t = layout.t_top - (np.arange(r0, r1) + 0.5) / layout.f    # tan(elevation)
    r = frame.r                                                # optical = r.T @ lander
    cos_az, sin_az = np.cos(az), np.sin(az)
    x, y, z = ((r[0, i] * cos_az + r[1, i] * sin_az).astype(np.float32)[None, :]
               + (r[2, i] * t).astype(np.float32)[:, None] for i in range(3))
    ahead = z > 1e-6
    inv_z = 1.0 / np.maximum(z, np.float32(1e-6))
    k = frame.k
    map_u = x * inv_z * np.float32(k[0, 0]) + np.float32(k[0, 2])
    map_v = y * inv_z * np.float32(k[1, 1]) + np.float32(k[1, 2])
    h, w = frame.image.shape[:2]
    img = cv2.remap(frame.image.astype(np.float32), map_u, map_v, cv2.INTER_LINEAR,
                    borderMode=cv2.BORDER_REFLECT)
    # feather: rises linearly from 0 at the frame's edge over feather_px
    edge = np.minimum(np.minimum(map_u, (w - 1) - map_u), np.minimum(map_v, (h - 1) - map_v))
    weight = np.clip((edge + 0.5) * np.float32(1.0 / feather_px), 0.0, 1.0)
    weight[~ahead | (edge < 0)] = 0.0
    return c0, r0, img, weight


def gain_compensation(warped, layout: Layout, sigma_n: float = 10.0,
                      sigma_g: float = 0.5) -> np.ndarray:
    """Per-frame gains minimising overlap intensity differences (Brown & Lowe 2007, eq. 29).

    sigma_n: intensity noise (counts); sigma_g: the prior on gains (about 1). Brown and
    Lowe used 0.1, which leaves a 30 % exposure step a third uncorrected; 0.5 lets the
    overlaps decide and still fixes the overall level.
    """
    n = len(warped)
    # pairwise overlaps by footprint columns and rows
    a = np.zeros((n, n))
    b = np.zeros(n)
    grey = []
    for c0, r0, img, wgt in warped:
        grey.append((c0, r0, img.mean(axis=2) if img.size else img, wgt > 0))
    for i in range(n):
        ci, ri, gi, mi = grey[i]
        for j in range(i + 1, n):
            cj, rj, gj, mj = grey[j]
            # shift j's columns into i's unwrapped frame
            shift = (cj - ci + layout.width // 2) % layout.width - layout.width // 2
            cj_u = ci + shift
            x0, x1 = max(ci, cj_u), min(ci + mi.shape[1], cj_u + mj.shape[1])
            y0, y1 = max(ri, rj), min(ri + mi.shape[0], rj + mj.shape[0])
            if x1 <= x0 or y1 <= y0:
                continue
            si = (slice(y0 - ri, y1 - ri), slice(x0 - ci, x1 - ci))
            sj = (slice(y0 - rj, y1 - rj), slice(x0 - cj_u, x1 - cj_u))
            both = mi[si] & mj[sj]
            count = int(np.count_nonzero(both))
            if count < 50:
                continue
            mean_i, mean_j = float(gi[si][both].mean()), float(gj[sj][both].mean())
            for p, q, mp, mq in ((i, j, mean_i, mean_j), (j, i, mean_j, mean_i)):
                a[p, p] += count * (mp * mp / sigma_n ** 2 + 1.0 / sigma_g ** 2)
                a[p, q] -= count * mp * mq / sigma_n ** 2
                b[p] += count / sigma_g ** 2
    for i in range(n):
        if a[i, i] == 0.0:          # a frame overlapping nothing keeps its gain
            a[i, i], b[i] = 1.0, 1.0
    return np.linalg.solve(a, b)


@dataclass(frozen=True)
class TargetView:
    """The calibration target as the terrain camera sees it: known geometry, no search."""

    target: Target
    lander_from_target: np.ndarray     # 4x4 (urdf/lander.urdf caltarget)
    centre: np.ndarray                 # the optical centre in the lander frame (nodal mount)

    @classmethod
    def from_urdf(cls, lander, target: Target) -> TargetView:
        return cls(target, lander.transform_to_root('caltarget'),
                   lander.transform_to_root('tcam_optical_frame')[:3, 3])

    def cam_from_target(self, frame: Frame) -> np.ndarray:
        pose = np.eye(4)
        pose[:3, :3] = frame.r.T
        pose[:3, 3] = -frame.r.T @ self.centre
        return pose @ self.lander_from_target


def target_response(frames: list[Frame], view: TargetView) -> np.ndarray:
    """The detectors' response: the median over the frames that show the whole target."""
    found, reasons = [], set()
    for f in frames:
        try:
            found.append(calibrate(f.image, view.target, view.cam_from_target(f), f.k).response)
        except CalibrationError as exc:
            reasons.add(str(exc).split(':')[0])
    if not found:
        raise PanoramaError('no frame shows the calibration target usable ('
                            + '; '.join(sorted(reasons)) + ')')
    return np.median(found, axis=0)


@dataclass
class Stitched:
    image: np.ndarray          # uint8 (height, width, 3), colour corrected
    coverage: float            # share of panorama pixels seen by at least one frame
    gains: np.ndarray          # exposure gain per frame
    response: np.ndarray       # detector response used for the colour correction


def stitch(frames: list[Frame], layout: Layout, target: TargetView | None,
           feather_px: float = 12.0, response: np.ndarray | None = None,
           tile_px: int = 480, threads: int = 2) -> Stitched:
    """Stitch frames into the cylindrical panorama of layout.

    :param target: where the calibration target is; the detectors' response is
        measured on it (target_response), unless response is given.
    :param tile_px: the panorama is blended tile_px columns at a time: each frame
        warped over the part of its footprint in the tile, the tile averaged,
        corrected and written as 8 bits. Only the output is held whole, never the
        float sums over the whole panorama.
    :param threads: tiles blended at once (numpy and OpenCV release the GIL).
    """
    if not frames:
        raise PanoramaError('no frames to stitch')
    if tile_px < 1 or threads < 1:
        raise PanoramaError(f'tile_px and threads must be >= 1, got {tile_px}, {threads}')
    # Gains from the overlaps at a quarter of the scale (cheap: the frames' full-scale
    # warps are never all held at once).
    coarse = Layout(max(0.5, layout.px_per_deg / 4), layout.el_top_deg, layout.el_bottom_deg)
    gains = gain_compensation([warp(f, coarse, max(1.0, feather_px / 4)) for f in frames], coarse)
    if response is None:
        if target is None:
            raise PanoramaError('neither a detector response nor a calibration target given')
        response = target_response(frames, target)
    boxes = [footprint(f, layout) for f in frames]
    out = np.empty((layout.height, layout.width, 3), np.uint8)

    def blend(a: int) -> int:
        """Blend the tile of columns a .. a + tile_px into out; return its pixels seen."""
        b = min(a + tile_px, layout.width)
        acc = np.zeros((layout.height, b - a, 3), np.float32)
        wsum = np.zeros((layout.height, b - a), np.float32)
        for frame, g, (c0, c1, r0, r1) in zip(frames, gains, boxes):
            for shift in (-layout.width, 0, layout.width):     # the frame, wrapped round
                lo, hi = max(a, c0 + shift), min(b, c1 + shift)
                if hi <= lo:
                    continue
                _, _, img, wgt = warp(frame, layout, feather_px, (lo - shift, hi - shift, r0, r1))
                if img.size:
                    rows, cols = slice(r0, r0 + img.shape[0]), slice(lo - a, hi - a)
                    acc[rows, cols] += img * (wgt * np.float32(g))[..., None]
                    wsum[rows, cols] += wgt
        inv = np.divide(1.0, wsum, out=np.zeros_like(wsum), where=wsum > 0)
        acc *= inv[..., None]
        # rounded and saturated to 8 bits in one pass, then the red cast removed
        out[:, a:b] = correct(cv2.convertScaleAbs(acc), response)
        return int(np.count_nonzero(wsum))

    with ThreadPoolExecutor(threads) as pool:
        seen = sum(pool.map(blend, range(0, layout.width, tile_px)))
    return Stitched(out, seen / (layout.height * layout.width), gains, np.asarray(response))


def seam_misalignment(frames: list[Frame], layout: Layout, min_overlap_px: int = 24,
                      feather_px: float = 12.0) -> np.ndarray:
    """Measured shift (px) between neighbouring frames over their overlaps.

    For every pair of frames whose warped footprints overlap by a block at least
    min_overlap_px on each side, the two warped images of that block are
    compared by phase correlation; returns the shift magnitudes.
    """
    warped = [warp(f, layout, feather_px) for f in frames]
    shifts = []
    for i in range(len(warped)):
        ci, ri, ii, wi = warped[i]
        for j in range(i + 1, len(warped)):
            cj, rj, ij, wj = warped[j]
            shift = (cj - ci + layout.width // 2) % layout.width - layout.width // 2
            cj_u = ci + shift
            x0, x1 = max(ci, cj_u), min(ci + wi.shape[1], cj_u + wj.shape[1])
            y0, y1 = max(ri, rj), min(ri + wi.shape[0], rj + wj.shape[0])
            if x1 - x0 < min_overlap_px or y1 - y0 < min_overlap_px:
                continue
            si = (slice(y0 - ri, y1 - ri), slice(x0 - ci, x1 - ci))
            sj = (slice(y0 - rj, y1 - rj), slice(x0 - cj_u, x1 - cj_u))
            both = (wi[si] > 0) & (wj[sj] > 0)
            block = _inscribed_block(both, min_overlap_px)
            if block is None:
                continue
            # cv2.phaseCorrelate is biased by half a pixel along an odd or padded side
            rr, cc = block
            rr, cc = rr[:_dft_size(rr.size)], cc[:_dft_size(cc.size)]
            a = ii[si].mean(axis=2)[np.ix_(rr, cc)]
            b = ij[sj].mean(axis=2)[np.ix_(rr, cc)]
            if a.std() < 1.0 or b.std() < 1.0:      # featureless (sky): nothing to measure
                continue
            win = cv2.createHanningWindow((a.shape[1], a.shape[0]), cv2.CV_64F)
            (dx, dy), response = cv2.phaseCorrelate(a.astype(np.float64), b.astype(np.float64), win)
            if response > 0.05:
                shifts.append(math.hypot(dx, dy))
    return np.array(shifts)


def _dft_size(n: int) -> int:
    """The largest even n' <= n that the DFT takes without padding."""
    while n > 2 and (n % 2 or cv2.getOptimalDFTSize(n) != n):
        n -= 1
    return n


def _inscribed_block(mask: np.ndarray, min_px: int):
    """Rows and columns of a large all-true block of mask (overlaps are not rectangles)."""
    counts = mask.sum(axis=1)
    if counts.max(initial=0) < min_px:
        return None
    best = None
    for share in (0.5, 0.7, 0.85, 0.95):
        rr = np.flatnonzero(counts >= share * counts.max())
        # the longest run of consecutive rows
        runs = np.split(rr, np.flatnonzero(np.diff(rr) != 1) + 1)
        rr = max(runs, key=len)
        cc = np.flatnonzero(mask[rr].all(axis=0))
        if cc.size:
            runs = np.split(cc, np.flatnonzero(np.diff(cc) != 1) + 1)
            cc = max(runs, key=len)
        if rr.size >= min_px and cc.size >= min_px and (
                best is None or rr.size * cc.size > best[0].size * best[1].size):
            best = (rr, cc)
    return best


def psnr(image: np.ndarray, truth: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Peak signal-to-noise ratio in dB (peak 255) over mask."""
    diff = image.astype(np.float64) - truth.astype(np.float64)
    if mask is not None:
        diff = diff[mask]
    mse = float(np.mean(diff ** 2))
    return math.inf if mse == 0 else 10.0 * math.log10(255.0 ** 2 / mse)
