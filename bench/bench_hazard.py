"""Hazard camera pipeline: milliseconds per 1024 x 1024 stereo frame on one core.

The whole pipeline, as the flight core HazardMapper runs it (colour
correction of both frames, semi-global matching at the working scale and of
the far band at full resolution, triangulation, the rover's body and wheels
filtered out, height-map update, GESTALT analysis of the published 16 m
window) beside OpenCV StereoSGBM alone on the same frames in the same run: at
full resolution (the disparity range scaled to keep the same near range: the
matcher that would give the far band's resolution everywhere) and at the
pipeline's working scale. Frames are rendered
by the simulator on the step25 terrain. Also the rover's visual odometry
(hazard/visual_odometry.py, run by the same node on the same pairs): its cost
per pair, linking a pair to one taken 5 cm back, beside the same SGBM, and
its step against the simulator's. Not a test: nothing asserted. Writes
bench/results/hazard.json: the pipeline against SGBM at full resolution, the visual
odometry against SGBM at the working scale, its step against the simulator's.
  ./dev bench hazard [--frames 10]
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path
import sys
import time

os.environ.setdefault('MUJOCO_GL', 'egl')
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / 'test'))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from chang_e_rover import config  # noqa: E402
from chang_e_rover.hazard.mapper import HazardMapper  # noqa: E402
from chang_e_rover.hazard.stereo import StereoParams  # noqa: E402
from chang_e_rover.hazard.visual_odometry import vo_params, VisualOdometry  # noqa: E402
from chang_e_rover.robot_description import load_urdf  # noqa: E402
from results import write_results  # noqa: E402
from test_hazard_pipeline import Scene  # noqa: E402


def sgbm(num_disp: int, bs: int = 5):
    return cv2.StereoSGBM.create(0, num_disp, bs, P1=8 * bs * bs, P2=32 * bs * bs,
                                 disp12MaxDiff=1, uniquenessRatio=10, speckleWindowSize=100,
                                 speckleRange=2, mode=cv2.StereoSGBM_MODE_SGBM)


def timed(fn, frames: int) -> float:
    fn()
    t0 = time.perf_counter()
    for _ in range(frames):
        fn()
    return (time.perf_counter() - t0) / frames * 1e3


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument('--frames', type=int, default=10)
    args = ap.parse_args()
    cv2.setNumThreads(1)                       # one core, as the aim says
    scene = Scene('step25', dx=1.3)
    left, right = scene.raw['hazcam_left'], scene.raw['hazcam_right']
    params = config.load_params('rover.yaml', 'hazard_camera')
    p = StereoParams(**config.section(params, 'stereo'))
    mapper = HazardMapper(params, load_urdf(config.urdf_path('rover.urdf')))
    mapper.cameras(*scene.models())
    mapper.odometry(0.0, 0.0, 0.0)

    def whole():
        mapper.process(left, right)
        mapper.window(0.0, 0.0)

    grey = [cv2.cvtColor(x, cv2.COLOR_RGB2GRAY) for x in (left, right)]
    half = [cv2.resize(g, (512, 512), interpolation=cv2.INTER_AREA) for g in grey]
    full_matcher = sgbm(int(p.num_disparities / p.scale))
    half_matcher = sgbm(p.num_disparities)
    ms_pipe = timed(whole, args.frames)
    ms_full = timed(lambda: full_matcher.compute(*grey), max(2, args.frames // 3))
    ms_half = timed(lambda: half_matcher.compute(*half), args.frames)
    print(f'frames: {left.shape[1]} x {left.shape[0]} pair, one core (cv2.setNumThreads(1))')
    sp = mapper.pipeline
    band = (f'; far band rows {sp.far_rows[0]}-{sp.far_rows[1]} at full resolution, '
            f'{sp.far_num_disparities} disparities' if sp.far_rows else '; no far band')
    print(f'whole pipeline (SGBM at scale {p.scale}, {p.num_disparities} disparities{band}): '
          f'{ms_pipe:7.1f} ms/frame = {1e3 / ms_pipe:4.1f} Hz')
    print(f'StereoSGBM alone, full resolution, {int(p.num_disparities / p.scale)} disparities: '
          f'{ms_full:7.1f} ms/frame   pipeline / SGBM = {ms_pipe / ms_full:4.2f}')
    print(f'StereoSGBM alone, working scale,   {p.num_disparities} disparities: '
          f'{ms_half:7.1f} ms/frame   pipeline / SGBM = {ms_pipe / ms_half:4.2f}')
    # visual odometry: the pair 5 cm back, then this one linked to it
    back = Scene('step25', dx=1.25)
    grey_back = [sp.grey(back.raw[c], i) for i, c in enumerate(('hazcam_left', 'hazcam_right'))]
    grey_now = [sp.grey(x, i) for i, x in enumerate((left, right))]
    vo = VisualOdometry(scene.models()[0].P[:, :3], sp.baseline_m, mapper.base_from_cam,
                        vo_params(params))

    def link():
        vo.reset()
        vo.process(0.0, *grey_back)
        return vo.process(1.0, *grey_now)

    motion = link()
    ms_back = timed(lambda: (vo.reset(), vo.process(0.0, *grey_back)), args.frames)
    ms_vo = timed(link, args.frames) - ms_back     # one pair: its features and the link
    truth = scene.world.ground_truth().position - back.world.ground_truth().position
    step = 'not linked: ' + vo.last_reason if motion is None else (
        f'step {motion.translation[0]:.4f} m ({motion.inliers} inliers) against the '
        f'simulator\'s {truth[0]:.4f} m')
    print(f'visual odometry, a pair linked to the last: {ms_vo:7.1f} ms/pair   '
          f'VO / SGBM working scale = {ms_vo / ms_half:4.2f}; {step}')
    figure = {'pipeline, a 1024 x 1024 pair: ms': round(ms_pipe, 1),
              'visual odometry, a pair linked to the last: ms': round(ms_vo, 1)}
    peer = {'StereoSGBM alone, full resolution: ms': round(ms_full, 1),
            'StereoSGBM alone, working scale: ms': round(ms_half, 1)}
    if motion is None:
        figure['visual odometry step: m'] = 'not linked: ' + vo.last_reason
    else:
        figure['visual odometry step: m'] = round(float(motion.translation[0]), 4)
        figure['visual odometry step: inliers'] = int(motion.inliers)
    peer["visual odometry step: simulator's m"] = round(float(truth[0]), 4)
    write_results('hazard', figure, peer, setup={
        'frames': args.frames, 'terrain': 'step25', 'threads': 1, 'working scale': p.scale,
        'disparities at full resolution / working scale': [int(p.num_disparities / p.scale),
                                                            p.num_disparities],
        'far band rows': '-'.join(map(str, sp.far_rows)) if sp.far_rows else 'none'})


if __name__ == '__main__':
    main()
