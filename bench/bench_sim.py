"""Simulator real-time factor on a 50 x 50 m terrain, beside raw mj_step of the same model.

Prints, for each load, sim seconds per wall second and the share of the raw
MuJoCo step rate measured in the same run, and writes them to
bench/results/sim.json. The hazcam load is run twice: with 4x multisampling and with
none; the other loads with the configured multisampling (camera.antialias_samples).
Not a test: nothing is asserted.
  ./dev bench sim [--seconds 60] [--rock-abundance 0.05]
"""
from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault('MUJOCO_GL', 'egl')

import mujoco  # noqa: E402
import numpy as np  # noqa: E402

from chang_e_rover.sim.camera import CameraRig, detector_response  # noqa: E402
from chang_e_rover.sim.world import World  # noqa: E402
from results import write_results  # noqa: E402


def raw_rate(world: World, seconds: float) -> float:
    """Sim seconds per wall second of bare mj_step on the world's model."""
    m, d = world.model, world.data
    steps = int(seconds / m.opt.timestep)
    start = time.perf_counter()
    mujoco.mj_step(m, d, nstep=steps)
    return steps * m.opt.timestep / (time.perf_counter() - start)


def stack_rate(world: World, seconds: float, cameras: dict[str, float], rig) -> float:
    """Sim seconds per wall second of World.step at the control period, with cameras."""
    period = float(world.params['physics.control_period_s'])
    response = world.params['camera.response_rgb']
    rng = np.random.default_rng(0)
    due = {c: world.time for c in cameras}
    for wid in ('lf', 'lm', 'lr', 'rf', 'rm', 'rr'):
        world.set_wheel_torque(wid, 2.0)
    t_end = world.time + seconds
    start = time.perf_counter()
    while world.time < t_end:
        world.step(period)
        for cam, rate in cameras.items():
            if world.time >= due[cam]:
                due[cam] += 1.0 / rate
                detector_response(rig.render(world.data, cam), response, 1.5, rng)
    return seconds / (time.perf_counter() - start)


def aa_label(samples: int) -> str:
    return f'{samples}x AA' if samples else 'no AA'


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument('--seconds', type=float, default=60.0, help='sim seconds per load')
    ap.add_argument('--rock-abundance', type=float, default=0.05)
    args = ap.parse_args()
    world = World(overrides={'terrain.name': 'rocks', 'terrain.rock_abundance': args.rock_abundance})
    samples = world.model.vis.quality.offsamples
    rig = CameraRig(world.model, world.cameras)
    print(f'terrain rocks 50 x 50 m, k={args.rock_abundance}: {len(world.terrain.rocks)} rocks, '
          f'{world.model.ngeom} geoms, timestep {world.model.opt.timestep * 1e3:.0f} ms')
    world.step(2.0)
    hazcams = {'hazcam_left': 1.0, 'hazcam_right': 1.0}
    loads = [('physics only', {}, samples),
             (f'hazcams at 1 Hz, {aa_label(4)}', hazcams, 4),
             (f'hazcams at 1 Hz, {aa_label(0)}', hazcams, 0),
             (f'every camera at 1 Hz, {aa_label(samples)}',
              {**hazcams, 'pancam': 1.0, 'tcam': 1.0}, samples)]
    print(f'{"load":<30}{"real-time factor":>18}{"raw mj_step RTF":>18}{"share of raw":>14}')
    figure, peer = {}, {}
    for label, cams, aa in loads:
        if aa != world.model.vis.quality.offsamples:    # renderers take it when made
            rig.close()
            world.model.vis.quality.offsamples = aa
            rig = CameraRig(world.model, world.cameras)
        raw = raw_rate(world, min(args.seconds, 20.0))
        rate = stack_rate(world, args.seconds if cams else args.seconds * 2, cams, rig)
        print(f'{label:<30}{rate:>17.1f}x{raw:>17.1f}x{100 * rate / raw:>13.0f}%')
        figure[f'{label}: real-time factor'] = round(rate, 2)
        peer[f'{label}: raw mj_step real-time factor'] = round(raw, 2)
    rig.close()
    write_results('sim', figure, peer, setup={'sim seconds per load': args.seconds,
                                             'rock abundance': args.rock_abundance})

if __name__ == '__main__':
    main()
