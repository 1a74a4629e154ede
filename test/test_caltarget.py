"""The calibration target's flight core on synthetic frames (no simulator, no ROS)."""
import numpy as np
import pytest

from chang_e_rover.imaging.caltarget import calibrate, fit, load_target, patch_medians, project
from chang_e_rover.imaging.colour import CalibrationError

TARGET = load_target()
K = np.array([[500.0, 0.0, 319.5], [0.0, 500.0, 239.5], [0.0, 0.0, 1.0]])
POSE = np.eye(4)
POSE[:3, 3] = [0.0, 0.0, 0.4]          # the target 0.4 m ahead, facing the camera
GAINS = np.array([1.0, 0.72, 0.55])


def render(gains=GAINS, light=230.0, noise=1.5, seed=0) -> np.ndarray:
    """A frame of the target on a black plate before a textured background."""
    rng = np.random.default_rng(seed)
    img = rng.uniform(30, 120, (480, 640, 3))               # anything but a patch
    corners = TARGET.corners() @ POSE[:3, :3].T + POSE[:3, 3]
    uv = project(corners, K)
    lo, hi = uv.reshape(-1, 2).min(axis=0) - 15, uv.reshape(-1, 2).max(axis=0) + 15
    img[int(lo[1]):int(hi[1]), int(lo[0]):int(hi[0])] = 0.05 * light * gains
    for quad, refl in zip(uv, TARGET.reflectance):
        (u0, v0), (u1, v1) = quad.min(axis=0), quad.max(axis=0)
        img[int(np.ceil(v0)):int(v1), int(np.ceil(u0)):int(u1)] = light * refl * gains
    img += rng.normal(0.0, noise, img.shape)
    return np.clip(img + 0.5, 0, 255).astype(np.uint8)


def test_the_fit_recovers_the_gains_and_checks_the_colour_patches():
    cal = calibrate(render(), TARGET, POSE, K)
    assert np.abs(cal.response - GAINS).max() < 0.01
    assert cal.grey_error < 0.02 and cal.colour_error < 0.02
    # a dimmer light changes the slopes, not the relative response
    dim = calibrate(render(light=90.0), TARGET, POSE, K)
    assert np.abs(dim.response - GAINS).max() < 0.02
    assert dim.slope[0] == pytest.approx(cal.slope[0] * 90 / 230, rel=0.02)


def test_a_patch_that_breaks_the_fit_is_named():
    measured = patch_medians(render(), TARGET, POSE, K)
    measured[TARGET.names.index('red')] *= [0.6, 1.0, 1.0]    # a shadow on one patch
    with pytest.raises(CalibrationError, match='patch red is off the fit'):
        fit(measured, TARGET)


def test_frames_without_the_target_are_refused_with_the_reason():
    frame = render()
    with pytest.raises(CalibrationError, match='not in view'):
        aside = POSE.copy()
        aside[0, 3] = 0.3
        calibrate(frame, TARGET, aside, K)
    with pytest.raises(CalibrationError, match='behind the camera'):
        behind = POSE.copy()
        behind[2, 3] = -0.4
        calibrate(frame, TARGET, behind, K)
    with pytest.raises(CalibrationError, match='saturated'):
        calibrate(render(light=400.0), TARGET, POSE, K)
    covered = frame.copy()
    covered[:, :, :] = np.random.default_rng(1).uniform(20, 200, frame.shape)   # occluded
    with pytest.raises(CalibrationError, match='not uniform'):
        calibrate(covered, TARGET, POSE, K)
    with pytest.raises(CalibrationError, match='too dark'):
        calibrate(np.zeros_like(frame), TARGET, POSE, K)
    with pytest.raises(CalibrationError, match='RGB'):
        calibrate(frame[..., 0], TARGET, POSE, K)
