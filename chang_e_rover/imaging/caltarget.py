"""The colour calibration target: the detectors' response from patches of known reflectance.

Pure numpy and OpenCV (polygon fill); no rclpy. As on the Mars rovers' Pancam
and Mastcam calibration targets, a plate of uniform matte patches of
reflectance measured before flight sits in a camera's view. Under one light,
each channel's count over a patch is reflectance x illumination x the
channel's response, so over the grey patches the counts of a channel lie on a
line through the origin whose slope is that channel's illumination x response.
The slopes, normalised so the strongest channel is 1, are the relative
response that imaging/colour.py's correct divides by; the colour patches,
left out of the fit, check it.

The patches are found by geometry: their corners in the target's frame
(config/hardware.yaml `calibration_target`), moved into the camera's optical
frame by the target's pose there (from the URDF), projected through the
pinhole K. Each patch's inner half is sampled (clear of its blurred edges) and
its median taken per channel.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from chang_e_rover import config
from chang_e_rover.imaging.colour import CalibrationError

SATURATED_DN = 250          # counts at or over this are clipped or close to it
INNER = 0.5                 # side of the sampled square, as a share of the patch's
MIN_PIXELS = 12             # per patch, inside the frame
MAX_SPREAD = 0.08           # patch pixels' spread (IQR / median): more is not one patch
MAX_SPREAD_DN = 6.0         # ... or in counts, for dark channels (read noise: IQR 1.35 sigma)
MAX_FIT_ERROR = 0.06        # any patch: |measured - fit| / the fit's white (shadow, occluder)
MIN_WHITE_DN = 20.0         # the fit's white in its weakest channel: less is too dark to fit


@dataclass(frozen=True)
class Target:
    """Patches of known reflectance on a plate; positions in the target's frame (m)."""

    names: tuple[str, ...]
    centres: np.ndarray          # (n, 2) x, y on the plate (its normal is +z)
    reflectance: np.ndarray      # (n, 3) per channel, 0..1
    grey: np.ndarray             # (n,) bool: fitted on (the neutral patches)
    patch_m: float

    @classmethod
    def from_params(cls, p: dict) -> Target:
        """Build from the flat `calibration_target` section of config/hardware.yaml."""
        names = tuple(p['layout'])
        cols, pitch = int(p['columns']), float(p['pitch_m'])
        rows = -(-len(names) // cols)
        centres = np.array([((i % cols - (cols - 1) / 2) * pitch,
                             (i // cols - (rows - 1) / 2) * pitch) for i in range(len(names))])
        refl = np.array([p[f'reflectance.{n}'] for n in names], dtype=np.float64)
        grey = np.array([n in p['grey_patches'] for n in names])
        if refl.shape != (len(names), 3) or grey.sum() < 2:
            raise ValueError('a calibration target needs 3 reflectances per patch and at '
                             'least 2 grey patches')
        return cls(names, centres, refl, grey, float(p['patch_m']))

    def corners(self, share: float = 1.0) -> np.ndarray:
        """(n, 4, 3) corners of each patch's centred square of side share x patch_m."""
        h = share * self.patch_m / 2
        offsets = np.array([[-h, -h], [h, -h], [h, h], [-h, h]])
        xy = self.centres[:, None, :] + offsets[None]
        return np.concatenate([xy, np.zeros(xy.shape[:2] + (1,))], axis=2)

    def extent(self, margin_m: float = 0.0) -> np.ndarray:
        """(2, 3) min and max corner of the patches' box in the target frame, plus margin."""
        c = self.corners().reshape(-1, 3)
        return np.array([c.min(axis=0) - margin_m, c.max(axis=0) + margin_m])


@dataclass(frozen=True)
class Calibration:
    """The detectors' response from one frame of the target."""

    response: np.ndarray         # (3,) relative response, strongest channel 1
    slope: np.ndarray            # (3,) counts per unit reflectance (illumination x response)
    measured: np.ndarray         # (n, 3) patch medians, counts
    grey_error: float            # worst grey patch: |measured - fit| / the fit's white
    colour_error: float          # worst colour patch, same units


def project(points: np.ndarray, k: np.ndarray, d: np.ndarray | None = None) -> np.ndarray:
    """Pixel coordinates (..., 2) of points (..., 3) in an optical frame (z forward).

    :param d: distortion coefficients (OpenCV's order, camera_info's plumb_bob); none: pinhole.
    """
    pts = np.asarray(points, dtype=np.float64)
    if np.any(pts[..., 2] <= 1e-6):
        raise CalibrationError('calibration target not in view: behind the camera')
    if d is not None and np.any(d):
        uv, _ = cv2.projectPoints(pts.reshape(-1, 1, 3), np.zeros(3), np.zeros(3),
                                  np.asarray(k, dtype=np.float64), np.asarray(d, np.float64))
        return uv.reshape(pts.shape[:-1] + (2,))
    uvw = pts @ np.asarray(k, dtype=np.float64).T
    return uvw[..., :2] / uvw[..., 2:3]


def patch_medians(image: np.ndarray, target: Target, cam_from_target: np.ndarray,
                  k: np.ndarray, d: np.ndarray | None = None) -> np.ndarray:
    """Return (n, 3) per-channel medians over each patch's inner square in image.

    :param cam_from_target: 4x4 pose of the target frame in the camera's optical frame.
    :raises CalibrationError: a patch out of the frame, saturated or not uniform
        (occluded, or the target not where its pose puts it).
    """
    img = np.asarray(image)
    if img.ndim != 3 or img.shape[2] != 3:
        raise CalibrationError(f'expected an RGB image, got shape {img.shape}')
    h, w = img.shape[:2]
    pose = np.asarray(cam_from_target, dtype=np.float64)
    quads = target.corners(INNER) @ pose[:3, :3].T + pose[:3, 3]
    uv = project(quads, k, d)
    out = np.empty((len(target.names), 3))
    for i, name in enumerate(target.names):
        if uv[i, :, 0].min() < 0 or uv[i, :, 1].min() < 0 or uv[i, :, 0].max() > w - 1 \
                or uv[i, :, 1].max() > h - 1:
            raise CalibrationError(f'calibration target not in view: patch {name} falls '
                                   f'outside the {w} x {h} frame')
        mask = np.zeros((h, w), np.uint8)
        cv2.fillConvexPoly(mask, np.round(uv[i]).astype(np.int32), 1)
        pix = img[mask.astype(bool)].astype(np.float64)
        if len(pix) < MIN_PIXELS:
            raise CalibrationError(f'patch {name} covers {len(pix)} pixels, under '
                                   f'{MIN_PIXELS}: the target is too far or edge-on')
        if np.mean(pix.max(axis=1) >= SATURATED_DN) > 0.05:
            raise CalibrationError(f'patch {name} is saturated (counts at {SATURATED_DN} '
                                   f'or over)')
        med = np.median(pix, axis=0)
        q1, q3 = np.percentile(pix, [25, 75], axis=0)
        if np.any(q3 - q1 > np.maximum(MAX_SPREAD * med, MAX_SPREAD_DN)):
            raise CalibrationError(f'patch {name} is not uniform (quartiles {q1.round()} to '
                                   f'{q3.round()}): occluded, or the target not in view')
        out[i] = med
    return out


def fit(measured: np.ndarray, target: Target) -> Calibration:
    """Fit each channel's slope through the origin over the grey patches; check the rest.

    :raises CalibrationError: a dark fit, or patches that do not follow it.
    """
    m, r = np.asarray(measured, dtype=np.float64), target.reflectance
    g = target.grey
    slope = (m[g] * r[g]).sum(axis=0) / (r[g] ** 2).sum(axis=0)
    if np.any(slope <= 0) or slope.min() * r[g].max() < MIN_WHITE_DN:
        raise CalibrationError(f'calibration target too dark to fit (slopes {slope.round(1)} '
                               'counts per unit reflectance)')
    scale = slope * r[g].max()                   # the fit's counts on the brightest grey
    err = np.abs(m - r * slope) / scale
    grey_error = float(err[g].max())
    colour_error = float(err[~g].max()) if (~g).any() else 0.0
    if max(grey_error, colour_error) > MAX_FIT_ERROR:
        worst = target.names[int(np.argmax(err.max(axis=1)))]
        raise CalibrationError(f'patch {worst} is off the fit by {err.max():.1%} of white '
                               f'(limit {MAX_FIT_ERROR:.0%}): shadowed, occluded or '
                               'not the target')
    return Calibration(slope / slope.max(), slope, m, grey_error, colour_error)


def calibrate(image: np.ndarray, target: Target, cam_from_target: np.ndarray,
              k: np.ndarray, d: np.ndarray | None = None) -> Calibration:
    """Return the detectors' response from one raw frame showing the target."""
    return fit(patch_medians(image, target, cam_from_target, k, d), target)


def load_target() -> Target:
    """The target as config/hardware.yaml describes it (the one source of its figures)."""
    return Target.from_params(config.section(config.load_params('hardware.yaml', 'hardware'),
                                             'calibration_target'))
