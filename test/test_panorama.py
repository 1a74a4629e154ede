"""Panorama stitching from known pointing, on an analytic scene (no simulator)."""
import dataclasses
import math

import cv2
import numpy as np
import pytest

from chang_e_rover.imaging.caltarget import load_target
from chang_e_rover.lander.panorama import (
    Campaign, Frame, Layout, PanoramaError, psnr, reduce, rotation, seam_misalignment, stitch,
    TargetView)
from chang_e_rover.robot_description import origin_matrix

REGOLITH = np.array([0.55, 0.53, 0.50])
RESPONSE = np.array([1.0, 0.72, 0.55])        # red-heavy, as the simulated detectors
CAMPAIGN = {'azimuths': 20, 'first_azimuth_deg': 0.0,
            'elevations_deg': [4.0, -10.0, -24.0, -38.0]}
# The calibration target 1.5 m out at azimuth -36 deg, elevation -38 deg, facing the
# camera (whose centre is the origin here); 2.5 times the flight target's size for the
# test's small frames.
_T = load_target()
TARGET = dataclasses.replace(_T, centres=2.5 * _T.centres, patch_m=2.5 * _T.patch_m)
_AZ, _EL = math.radians(-36.0), math.radians(-38.0)
VIEW = TargetView(TARGET, origin_matrix(
    1.5 * np.array([math.cos(_EL) * math.cos(_AZ), math.cos(_EL) * math.sin(_AZ), math.sin(_EL)]),
    (0.0, math.pi / 2 - _EL, _AZ + math.pi)), np.zeros(3))


def target_colour(d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mask, reflectance) of lander-frame directions that meet a patch of the target."""
    inv = np.linalg.inv(VIEW.lander_from_target)
    o, dt = inv[:3, 3], d @ inv[:3, :3].T
    with np.errstate(divide='ignore', invalid='ignore'):
        s = -o[2] / dt[..., 2]
    p = o[:2] + s[..., None] * dt[..., :2]
    hit, refl = np.zeros(d.shape[:-1], bool), np.zeros(d.shape)
    for c, r in zip(TARGET.centres, TARGET.reflectance):
        inside = (s > 0) & np.all(np.abs(p - c) <= TARGET.patch_m / 2, axis=-1)
        hit |= inside
        refl[inside] = r
    return hit, refl


def scene(d: np.ndarray) -> np.ndarray:
    """True colour (0..255) of lander-frame directions: regolith grey with a texture, and
    the calibration target's patches."""
    az = np.arctan2(d[..., 1], d[..., 0])
    el = np.arctan2(d[..., 2], np.hypot(d[..., 0], d[..., 1]))
    shade = (1.0 + 0.25 * np.sin(7 * az) * np.cos(5 * el) + 0.15 * np.sin(31 * az + 3 * el)
             + 0.1 * np.cos(53 * el - 11 * az)
             + 0.08 * np.sin(173 * az + 41 * el) + 0.08 * np.sin(157 * el - 97 * az)
             + 0.06 * np.sin(229 * az - 181 * el))
    out = np.clip(200.0 * shade[..., None] * REGOLITH, 0, 255)
    hit, refl = target_colour(d)
    out[hit] = 200.0 * refl[hit]
    return out


def frame_of(pan, tilt, width, height, hfov_deg, gain=1.0):
    f = width / 2 / math.tan(math.radians(hfov_deg) / 2)
    k = np.array([[f, 0, (width - 1) / 2], [0, f, (height - 1) / 2], [0, 0, 1.0]])
    v, u = np.mgrid[0:height, 0:width].astype(np.float64)
    rays = np.stack([(u - k[0, 2]) / f, (v - k[1, 2]) / f, np.ones_like(u)], axis=-1)
    d = rays @ rotation(pan, tilt).T
    raw = np.clip(scene(d) * RESPONSE * gain + 0.5, 0, 255).astype(np.uint8)
    return raw, k


@pytest.fixture(scope='module')
def frames():
    camp = Campaign.from_params(CAMPAIGN)
    out = []
    for i, (pan, tilt) in enumerate(camp.pointings()):
        raw, k = frame_of(pan, tilt, 470, 345, 22.9, gain=1.3 if i == 7 else 1.0)
        small, kk = reduce(raw, k, 2)
        out.append(Frame(small, kk, rotation(pan, tilt), pan, tilt))
    return camp, out


def test_pointing_conventions():
    r = rotation(0.0, 0.0)
    assert np.allclose(r[:, 2], [1, 0, 0]), 'optical axis along the lander +x at rest'
    assert np.allclose(r[:, 0], [0, -1, 0]) and np.allclose(r[:, 1], [0, 0, -1])
    assert rotation(0.0, 0.3)[2, 2] == pytest.approx(-math.sin(0.3)), 'positive tilt looks down'
    assert rotation(0.3, 0.0)[1, 2] == pytest.approx(math.sin(0.3)), 'positive pan looks left'
    camp = Campaign.from_params(CAMPAIGN)
    assert len(camp.pointings()) == 80 and len(set(camp.pointings())) == 80


def test_layout_round_trip():
    layout = Layout(10.0, 10.0, -44.0)
    rows, cols = np.mgrid[0:layout.height:7, 0:layout.width:13].astype(np.float64)
    col, row = layout.pixel(layout.rays(rows, cols))
    assert np.allclose(col, cols, atol=1e-6) and np.allclose(row, rows, atol=1e-6)


def test_stitch_matches_the_scene_and_removes_the_red_cast(frames):
    camp, fr = frames
    layout = Layout(9.0, 10.0, -44.0)
    out = stitch(fr, layout, VIEW)
    assert out.coverage == 1.0, 'the 80 frames cover the whole panorama'
    truth = scene(layout.rays(*np.mgrid[0:layout.height, 0:layout.width].astype(np.float64)))
    value = psnr(out.image, np.clip(truth + 0.5, 0, 255).astype(np.uint8))
    assert value > 33.0, f'PSNR {value:.1f} dB against the analytic scene'
    # the frame taken 30 % bright is brought back to its neighbours
    assert out.gains[7] == pytest.approx(1 / 1.3, rel=0.05)
    assert np.allclose(np.delete(out.gains, 7), 1.0, atol=0.03)
    assert np.allclose(out.response, RESPONSE, atol=0.02)
    raw_mean = np.mean([f.image.reshape(-1, 3).mean(axis=0) for f in fr], axis=0)
    assert raw_mean[0] / raw_mean[2] > 1.5, 'raw frames are red'
    ground = ~target_colour(layout.rays(*np.mgrid[0:layout.height, 0:layout.width]
                                        .astype(np.float64)))[0]
    chroma = out.image[ground].mean(axis=0)
    assert np.allclose(chroma / chroma.sum(), REGOLITH / REGOLITH.sum(), atol=0.01)


def test_seams_align_with_true_pointing_and_show_a_pointing_error(frames):
    camp, fr = frames
    layout = Layout(9.0, 10.0, -44.0)
    shifts = seam_misalignment(fr, layout)
    assert len(shifts) >= 130, f"{len(shifts)} overlaps measured; 80 side by side, 60 above"
    assert np.median(shifts) < 0.2 and shifts.max() < 1.0
    # one frame's pan reported 0.3 deg off: its seams show the error (~2.7 px at 9 px/deg)
    bad = list(fr)
    f = bad[5]
    bad[5] = Frame(f.image, f.k, rotation(f.pan + math.radians(0.3), f.tilt), f.pan, f.tilt)
    worse = seam_misalignment(bad, layout)
    assert worse.max() > 2.0


def test_bad_input_is_refused():
    with pytest.raises(PanoramaError):
        reduce(np.zeros((10, 10)), np.eye(3), 2)
    with pytest.raises(PanoramaError):
        reduce(np.zeros((10, 10, 3)), np.eye(3), 0)
    with pytest.raises(PanoramaError):
        Layout(20.0, -10.0, 10.0)
    with pytest.raises(PanoramaError):
        Layout(float('nan'), 10.0, -40.0)
    with pytest.raises(PanoramaError):
        Campaign.from_params({**CAMPAIGN, 'azimuths': 1})
    with pytest.raises(PanoramaError):
        stitch([], Layout(10.0, 10.0, -40.0), VIEW)


def test_tiles_and_threads_change_no_pixel(frames):
    """Blended a tile at a time, in parallel, across the 360 degree wrap: the same
    panorama to the bit as blended in one piece on one thread."""
    camp, fr = frames
    layout = Layout(9.0, 10.0, -44.0)
    whole = stitch(fr, layout, VIEW, tile_px=layout.width, threads=1)
    tiled = stitch(fr, layout, VIEW, tile_px=37, threads=3)
    assert np.array_equal(tiled.image, whole.image)
    assert tiled.coverage == whole.coverage == 1.0
    for bad in ({'tile_px': 0}, {'threads': 0}):
        with pytest.raises(PanoramaError, match='must be >= 1'):
            stitch(fr, layout, VIEW, **bad)


def test_frames_without_the_calibration_target_are_refused(frames):
    camp, fr = frames
    layout = Layout(9.0, 10.0, -44.0)
    with pytest.raises(PanoramaError, match='neither'):
        stitch(fr, layout, None)
    shows = [f for f in fr if abs(f.pan - math.radians(-36)) < 1e-6
             and abs(f.tilt - math.radians(38)) < 1e-6]
    assert len(shows) == 1
    with pytest.raises(PanoramaError, match='calibration target'):
        stitch([f for f in fr if f is not shows[0]], layout, VIEW)
