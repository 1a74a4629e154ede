"""Visual odometry from the hazcam pairs: how far the rover really moved between two frames.

Wheel odometry cannot see the wheels slip. A rover dragging a seized wheel, or held
by a rock while its wheels turn, counts travel it never made (Monte Carlo seed 23,
k = 2: 4.2 m counted while the rover stood still). The Mars Exploration Rovers met
the same problem on slopes and answered it with visual odometry from their hazcam
pairs (Maimone, Cheng and Matthies 2007); so does this module, in the same way:

1. Features: corners (Shi-Tomasi) in the left image, spread over the frame.
2. Stereo: each corner is found in the right image along its row (normalised
   cross-correlation over the disparities of min_range_m..max_range_m, parabolic
   sub-pixel peak, refused when a second peak is nearly as good); the disparity
   gives its 3-D position in the left camera's frame.
3. Tracking: the previous frame's corners are followed into this frame's left image
   (pyramidal Lucas-Kanade) and back again; a corner that does not come back to
   within max_track_error_px of where it started is dropped.
4. Motion: the previous frame's 3-D points and this frame's pixels give the camera's
   motion by perspective-n-point in RANSAC (EPnP, then Levenberg-Marquardt on the
   inliers). Points on the rover's own body or wheels (which move with the camera)
   are outliers, and so is anything that moved in the scene.
5. The camera's motion is carried to base_link through the camera's mounting.

A frame is linked to the one before only with min_inliers inliers, no more
than max_reprojection_px of residual and a translation a rover could make
(max_speed_m_s times the interval). Otherwise the motion is unknown, and the
next frame starts a new chain. Plain numpy and OpenCV (its pyramidal tracker
and PnP solver are the standard tools for this, and are native code); the
hazard node and the flight-core harness wrap it.
"""
from __future__ import annotations

from dataclasses import dataclass
import math

import cv2
import numpy as np


@dataclass(frozen=True)
class VOParams:
    max_features: int = 400
    feature_quality: float = 0.01
    feature_spacing_px: int = 12        # at the camera's full resolution
    min_range_m: float = 0.6
    max_range_m: float = 4.0
    stereo_window_px: int = 11
    stereo_min_score: float = 0.8       # normalised cross-correlation of the best match
    stereo_uniqueness: float = 0.03     # the second peak must score this much lower
    track_window_px: int = 21
    track_levels: int = 3
    max_track_error_px: float = 0.5     # forward-backward
    ransac_px: float = 1.0
    min_inliers: int = 25
    max_reprojection_px: float = 0.8    # RMS over the inliers
    max_speed_m_s: float = 0.2          # a step longer than this times the interval is refused


def vo_params(p: dict) -> VOParams:
    """The VOParams of a hazard_camera parameter set (its vo.* keys)."""
    from chang_e_rover import config
    return VOParams(**{k: v for k, v in config.section(p, 'vo').items() if k != 'enabled'})


@dataclass(frozen=True)
class Motion:
    """The rover's motion between two frames, in base_link at the first frame."""
    t0: float
    t1: float
    transform: np.ndarray    # 4x4: base_link at t1 expressed in base_link at t0
    inliers: int
    residual_px: float

    @property
    def translation(self) -> np.ndarray:
        return self.transform[:3, 3]

    @property
    def yaw(self) -> float:
        return math.atan2(self.transform[1, 0], self.transform[0, 0])


@dataclass
class _Frame:
    t: float
    grey: np.ndarray
    pixels: np.ndarray      # (N, 2) float32 left-image corners with a stereo match
    points: np.ndarray      # (N, 3) their positions in the left optical frame


class VisualOdometry:
    """Frame-to-frame stereo visual odometry.

    :param K: the rectified left camera's 3x3 matrix (camera_info P[:, :3]).
    :param baseline_m: the stereo baseline.
    :param base_from_cam: 4x4 pose of the left optical frame in base_link.
    """

    def __init__(self, K: np.ndarray, baseline_m: float, base_from_cam: np.ndarray,
                 params: VOParams = VOParams()):
        if not baseline_m > 0:
            raise ValueError(f'stereo baseline {baseline_m} m must be positive')
        self.K = np.asarray(K, dtype=np.float64)
        self.f = float(self.K[0, 0])
        self.baseline_m = float(baseline_m)
        self.base_from_cam = np.asarray(base_from_cam, dtype=np.float64)
        self.cam_from_base = np.linalg.inv(self.base_from_cam)
        self.p = params
        self.d_min = self.f * self.baseline_m / params.max_range_m
        self.d_max = self.f * self.baseline_m / params.min_range_m
        self.last: _Frame | None = None
        self.linked = self.unlinked = 0
        self.last_reason = ''

    def reset(self) -> None:
        """Forget the last frame: the next one starts a new chain."""
        self.last = None

    def process(self, t: float, left: np.ndarray, right: np.ndarray) -> Motion | None:
        """Take one rectified grey pair taken at t; return the motion since the last, if known."""
        if left.shape != right.shape or left.ndim != 2:
            raise ValueError(f'need two grey images of one size, got {left.shape} and {right.shape}')
        if not math.isfinite(t):
            raise ValueError(f'frame time {t} is not finite')
        motion = None
        if self.last is not None and t > self.last.t:
            motion = self._link(self.last, t, left)
            if motion is None:
                self.unlinked += 1
            else:
                self.linked += 1
        self.last = self._features(t, left, right)
        return motion

    # ---- steps ---------------------------------------------------------------------------
    def _features(self, t: float, left: np.ndarray, right: np.ndarray) -> _Frame:
        p = self.p
        h, w = left.shape
        corners = cv2.goodFeaturesToTrack(left, p.max_features, p.feature_quality,
                                          p.feature_spacing_px, blockSize=5)
        if corners is None:
            return _Frame(t, left, np.zeros((0, 2), np.float32), np.zeros((0, 3)))
        corners = corners.reshape(-1, 2)
        half = p.stereo_window_px // 2
        d_lo, d_hi = int(math.floor(self.d_min)), int(math.ceil(self.d_max)) + 1
        pixels, points = [], []
        cx, cy = self.K[0, 2], self.K[1, 2]
        for u, v in corners:
            ui, vi = int(round(u)), int(round(v))
            if vi - half < 0 or vi + half >= h or ui - half < 0 or ui + half >= w:
                continue
            lo = max(half, ui - d_hi)          # right-image columns searched
            hi = ui - d_lo
            if hi - lo < 3:
                continue
            tpl = left[vi - half:vi + half + 1, ui - half:ui + half + 1]
            strip = right[vi - half:vi + half + 1, lo - half:hi + half + 1]
            score = cv2.matchTemplate(strip, tpl, cv2.TM_CCOEFF_NORMED)[0]
            best = int(np.argmax(score))
            s = float(score[best])
            if not s >= p.stereo_min_score or best == 0 or best == len(score) - 1:
                continue
            others = np.concatenate([score[:max(0, best - 2)], score[best + 3:]])
            if others.size and others.max() > s - p.stereo_uniqueness:
                continue
            a, c = float(score[best - 1]), float(score[best + 1])
            denom = a - 2 * s + c
            sub = 0.5 * (a - c) / denom if denom < 0 else 0.0
            d = ui - (lo + best + sub)
            if not self.d_min <= d <= self.d_max:
                continue
            z = self.f * self.baseline_m / d
            pixels.append((u, v))
            points.append(((u - cx) * z / self.f, (v - cy) * z / self.f, z))
        return _Frame(t, left, np.asarray(pixels, np.float32).reshape(-1, 2),
                      np.asarray(points, np.float64).reshape(-1, 3))

    def _link(self, prev: _Frame, t: float, left: np.ndarray) -> Motion | None:
        p = self.p
        if len(prev.pixels) < p.min_inliers:
            self.last_reason = f'{len(prev.pixels)} stereo features in the last frame'
            return None
        lk = dict(winSize=(p.track_window_px, p.track_window_px), maxLevel=p.track_levels,
                  criteria=(cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 30, 0.01))
        nxt, st, _ = cv2.calcOpticalFlowPyrLK(prev.grey, left, prev.pixels, None, **lk)
        back, st2, _ = cv2.calcOpticalFlowPyrLK(left, prev.grey, nxt, None, **lk)
        ok = (st.ravel() == 1) & (st2.ravel() == 1)
        ok &= np.linalg.norm(back - prev.pixels, axis=1) < p.max_track_error_px
        if ok.sum() < p.min_inliers:
            self.last_reason = f'{int(ok.sum())} features tracked'
            return None
        obj, img = prev.points[ok], nxt[ok].astype(np.float64)
        found, rvec, tvec, inliers = cv2.solvePnPRansac(
            obj, img, self.K, None, iterationsCount=200, reprojectionError=p.ransac_px,
            confidence=0.999, flags=cv2.SOLVEPNP_EPNP)
        if not found or inliers is None or len(inliers) < p.min_inliers:
            self.last_reason = f'{0 if inliers is None else len(inliers)} inliers'
            return None
        idx = inliers.ravel()
        rvec, tvec = cv2.solvePnPRefineLM(obj[idx], img[idx], self.K, None, rvec, tvec)
        proj, _ = cv2.projectPoints(obj[idx], rvec, tvec, self.K, None)
        residual = float(np.sqrt(np.mean(np.sum((proj.reshape(-1, 2) - img[idx]) ** 2, axis=1))))
        if residual > p.max_reprojection_px:
            self.last_reason = f'residual {residual:.2f} px'
            return None
        # X_cam1 = R X_cam0 + t: the camera at t1 in the camera at t0 is the inverse
        cam1_from_cam0 = np.eye(4)
        cam1_from_cam0[:3, :3] = cv2.Rodrigues(rvec)[0]
        cam1_from_cam0[:3, 3] = tvec.ravel()
        cam0_from_cam1 = np.linalg.inv(cam1_from_cam0)
        base0_from_base1 = self.base_from_cam @ cam0_from_cam1 @ self.cam_from_base
        step = float(np.linalg.norm(base0_from_base1[:3, 3]))
        if step > p.max_speed_m_s * (t - prev.t) + 0.02:
            self.last_reason = f'a step of {step:.3f} m in {t - prev.t:.2f} s'
            return None
        self.last_reason = ''
        return Motion(prev.t, t, base0_from_base1, len(idx), residual)
