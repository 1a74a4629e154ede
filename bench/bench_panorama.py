"""Lander panorama: 80 full-size terrain-camera frames to a 360 degree panorama.

The simulator slews the lander's terrain camera through the campaign of
config/lander.yaml and renders the 80 frames at full size (2352 x 1728) with the
detector's red cast and noise; they are saved once under a scratch folder.
Then, each in a fresh process so that peak memory (VmHWM) is its own:

- ours: frames read one at a time as they would arrive from the camera,
  area-reduced, then stitched from the known pointing (lander/panorama.py);
- cv2.Stitcher (PANORAMA mode, its defaults) on the same 80 frames, which it
  needs all in memory.

Quality of ours against the simulator's true-colour panorama (PSNR) and the
seam misalignment are printed; the Stitcher picks its own projection and
orientation, so it is judged on time, memory and whether it succeeds.
Not a test: nothing asserted. Writes bench/results/panorama.json.
  ./dev bench panorama [--stitcher-timeout 1800] [--frames-dir DIR]
"""
from __future__ import annotations

import argparse
import json
import math
import os
from pathlib import Path
import resource
import subprocess
import sys
import tempfile
import time

os.environ.setdefault('MUJOCO_GL', 'egl')
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from chang_e_rover import config  # noqa: E402
from chang_e_rover.imaging.caltarget import load_target  # noqa: E402
from chang_e_rover.lander.panorama import (  # noqa: E402
    Campaign, Frame, Layout, psnr, reduce, rotation, seam_misalignment, stitch, TargetView)
from chang_e_rover.robot_description import load_urdf  # noqa: E402
from results import write_results  # noqa: E402


def peak_mib() -> float:
    """This process's peak resident memory (VmHWM: unlike ru_maxrss, not inherited from
    the parent across exec)."""
    for line in Path('/proc/self/status').read_text().splitlines():
        if line.startswith('VmHWM:'):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def lander_params() -> dict:
    return config.load_params('lander.yaml', 'camera')


def layout_of(p: dict) -> Layout:
    return Layout(p['panorama.px_per_deg'], p['panorama.el_top_deg'], p['panorama.el_bottom_deg'])


def capture(folder: Path) -> None:
    """Render the campaign's 80 frames and the true panorama into folder."""
    from chang_e_rover.sim.camera import (CameraRig, intrinsics, optical_centre,
                                          point_and_capture, truth_panorama)
    from chang_e_rover.sim.world import World
    sp = config.load_params('sim.yaml', 'sim')
    world = World(overrides={'terrain.name': 'rocks', 'terrain.rock_abundance': 0.1})
    rig = CameraRig(world.model, world.cameras)
    p = lander_params()
    campaign = Campaign.from_params(config.section(p, 'campaign'))
    t0 = time.perf_counter()
    poses = []
    for i, (raw, pan, tilt) in enumerate(point_and_capture(
            world, rig, campaign.pointings(), sp['camera.response_rgb'],
            float(sp['camera.noise_dn']), np.random.default_rng(1))):
        np.save(folder / f'frame_{i:02d}.npy', raw)
        poses.append((pan, tilt))
    k = intrinsics(world.cameras['tcam'])
    truth = truth_panorama(rig, world.data, optical_centre(world, 'tcam'),
                           float(sp['lander.yaw']), layout_of(p))
    np.save(folder / 'truth.npy', truth)
    (folder / 'meta.json').write_text(json.dumps({'k': k.tolist(), 'poses': poses}))
    print(f'captured {len(poses)} frames of {raw.shape[1]} x {raw.shape[0]} in '
          f'{time.perf_counter() - t0:.0f} s wall ({world.time:.0f} s simulated slewing)')


def run_ours(folder: Path) -> dict:
    p = lander_params()
    layout = layout_of(p)
    meta = json.loads((folder / 'meta.json').read_text())
    k = np.array(meta['k'])
    factor = max(1, int(k[0, 0] * math.pi / 180 // layout.px_per_deg))
    reduce_s = 0.0
    frames = []
    for i, (pan, tilt) in enumerate(meta['poses']):
        raw = np.load(folder / f'frame_{i:02d}.npy')      # the frame arriving: not timed
        t0 = time.perf_counter()
        small, kk = reduce(raw, k, factor)
        reduce_s += time.perf_counter() - t0
        frames.append(Frame(small, kk, rotation(pan, tilt), pan, tilt))
        del raw
    target = TargetView.from_urdf(load_urdf(config.urdf_path('lander.urdf')), load_target())
    t0 = time.perf_counter()
    out = stitch(frames, layout, target, p['panorama.feather_px'])
    stitch_s = time.perf_counter() - t0
    peak = peak_mib()
    truth = np.load(folder / 'truth.npy')
    shifts = seam_misalignment(frames, layout)
    cv2.imwrite(str(folder / 'ours.png'), out.image[:, :, ::-1])
    return {'seconds': reduce_s + stitch_s, 'reduce_s': reduce_s, 'stitch_s': stitch_s,
            'peak_mib': peak, 'psnr_db': psnr(out.image, truth), 'coverage': out.coverage,
            'seam_median_px': float(np.median(shifts)), 'seam_max_px': float(shifts.max()),
            'seams': int(len(shifts)), 'size': list(out.image.shape[:2])}


def run_stitcher(folder: Path) -> dict:
    meta = json.loads((folder / 'meta.json').read_text())
    frames = [np.load(folder / f'frame_{i:02d}.npy')[:, :, ::-1].copy()
              for i in range(len(meta['poses']))]            # BGR, all in memory
    stitcher = cv2.Stitcher.create(cv2.Stitcher_PANORAMA)
    t0 = time.perf_counter()
    status, pano = stitcher.stitch(frames)
    seconds = time.perf_counter() - t0
    peak = peak_mib()
    names = {getattr(cv2, n): n for n in dir(cv2) if n.startswith('Stitcher_ERR') or n == 'Stitcher_OK'}
    result = {'seconds': seconds, 'peak_mib': peak, 'status': names.get(status, str(status))}
    if status == cv2.Stitcher_OK:
        cv2.imwrite(str(folder / 'stitcher.png'), pano)
        result['size'] = list(pano.shape[:2])
    return result


def child(method: str, folder: Path, timeout: float) -> dict:
    try:
        out = subprocess.run([sys.executable, __file__, '--child', method, '--frames-dir',
                              str(folder)], capture_output=True, text=True, timeout=timeout,
                             check=False)
    except subprocess.TimeoutExpired:
        return {'status': f'gave up after {timeout:.0f} s', 'seconds': math.inf,
                'peak_mib': math.nan}
    if out.returncode != 0:
        return {'status': f'crashed (exit {out.returncode}): {out.stderr.strip()[-300:]}',
                'seconds': math.inf, 'peak_mib': math.nan}
    return json.loads(out.stdout.strip().splitlines()[-1])


def figures(ours: dict, peer: dict, frames: int) -> tuple[dict, dict]:
    """The results file's figure and peer: ours and cv2.Stitcher's on the same frames."""
    time_key = f'time for the {frames} frames'
    size = f"{ours['size'][1]} x {ours['size'][0]}"
    figure = {f'{time_key}: s': round(ours['seconds'], 2),
              f'{time_key}: reduce / stitch s': [round(ours['reduce_s'], 2),
                                                 round(ours['stitch_s'], 2)],
              'peak memory, own process: MiB': round(ours['peak_mib']),
              'result: px': size, 'result: coverage %': round(100 * ours['coverage'], 1),
              "PSNR against the simulator's true panorama: dB": round(ours['psnr_db'], 1),
              f"seam misalignment, {ours['seams']} overlaps: median / max px": [
                  round(ours['seam_median_px'], 2), round(ours['seam_max_px'], 2)]}
    finite = math.isfinite(peer['seconds'])
    stitcher = f"{peer['status']}, {peer['size'][1]} x {peer['size'][0]}" if 'size' in peer \
        else peer['status']
    peers = {f'{time_key}: cv2.Stitcher s': round(peer['seconds'], 2) if finite
             else peer['status'],
             'peak memory, own process: cv2.Stitcher MiB': round(peer['peak_mib']) if finite
             else peer['status'],
             'result: cv2.Stitcher px': stitcher}
    return figure, peers


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--frames-dir', type=Path, default=None,
                    help='reuse frames captured there (captured if missing)')
    ap.add_argument('--stitcher-timeout', type=float, default=1800.0)
    ap.add_argument('--child', choices=('ours', 'stitcher'), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        fn = run_ours if args.child == 'ours' else run_stitcher
        print(json.dumps(fn(args.frames_dir)))
        return
    folder = args.frames_dir or Path(tempfile.mkdtemp(prefix='panorama_bench_'))
    folder.mkdir(parents=True, exist_ok=True)
    if not (folder / 'meta.json').is_file():
        capture(folder)
    ours = child('ours', folder, 1800.0)
    peer = child('stitcher', folder, args.stitcher_timeout)
    print(f"{'method':<28}{'time s':>10}{'peak MiB':>10}  result")
    print(f"{'ours (known pointing)':<28}{ours['seconds']:>10.2f}{ours['peak_mib']:>10.0f}  "
          f"{ours['size'][1]} x {ours['size'][0]} px, PSNR {ours['psnr_db']:.1f} dB, seams "
          f"median {ours['seam_median_px']:.2f} / max {ours['seam_max_px']:.2f} px over "
          f"{ours['seams']} overlaps, coverage {ours['coverage']:.1%}")
    print(f"{'  of which reduce / stitch':<28}{ours['reduce_s']:>5.2f} /{ours['stitch_s']:>5.2f}")
    size = f"{peer['size'][1]} x {peer['size'][0]} px" if 'size' in peer else ''
    print(f"{'cv2.Stitcher (PANORAMA)':<28}{peer['seconds']:>10.2f}{peer['peak_mib']:>10.0f}  "
          f"{peer['status']} {size}")
    if math.isfinite(peer['seconds']):
        print(f"ratio: ours is {peer['seconds'] / ours['seconds']:.1f}x faster, "
              f"{peer['peak_mib'] / ours['peak_mib']:.1f}x less peak memory")
    print(f'frames and outputs in {folder}')
    frames = len(json.loads((folder / 'meta.json').read_text())['poses'])
    figure, peers = figures(ours, peer, frames)
    write_results('panorama', figure, peers, setup={'stitcher': 'cv2.Stitcher PANORAMA mode',
                                                    'stitcher timeout s': args.stitcher_timeout})


if __name__ == '__main__':
    main()
