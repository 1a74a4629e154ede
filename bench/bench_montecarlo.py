"""Monte Carlo: share of runs reaching a 20 m goal on seeded rough terrain with k wheels failed.

Each run: a 'rocks' terrain from its seed (craters and a Golombek-Rapp rock
field), a goal 20 m ahead (moved to the nearest open ground when a crater or a
rock lies within 1.6 m of that point, or when the ground there cannot be reached
from the start within the limits, as a ground team places goals), and k
wheels failed with random faults at random moments during the drive. Runs the flight
cores on the simulator through the test harness (no DDS). Prints the table and the
odometry drift, and writes bench/results/montecarlo.json: each k's figures, with the
same seeds' runs with no wheel failed (k = 0, always run) as their peer.
  ./dev bench montecarlo [--seeds 30] [--k 0 1 2 3] [--rock-abundance 0.03]
                         [--perception truth|none] [--odometry visual|wheels]
                         [--vo-width 512] [--jobs 2]

The drive avoids hazards with the map it is given (arc voting and the gate):
by default the GESTALT cost of the simulator's true terrain (perfect
perception: this measures the drive and its fault tolerance, not the
stereo; test_hazard_stack.py measures the cameras' map on the flown stack), or none at all
(`--perception none`, blind). The table says which runs failed and why.

Odometry: wheels, gyro and visual odometry on the hazcam pairs (the flight
configuration), or wheels and gyro alone (`--odometry wheels`). For speed the
pairs for visual odometry are rendered at --vo-width pixels square (same field
of view) rather than the cameras' 1024.
"""
from __future__ import annotations

import argparse
import math
import multiprocessing
from pathlib import Path
import random
import sys
import time

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / 'test'))

from harness import CONTROLLER, GEOMETRY, Rover, TruthMap  # noqa: E402
import numpy as np  # noqa: E402

from chang_e_rover.hazard.gate import Grid  # noqa: E402
from chang_e_rover.hazard.planner import navigation_function  # noqa: E402
from chang_e_rover.robot_description import WHEEL_IDS  # noqa: E402
from results import write_results  # noqa: E402

FAULTS = ('stall', 'open_circuit', 'encoder_dropout', 'overcurrent', 'overtemperature')
GOAL_M = 20.0
TOLERANCE_M = 0.5
# No cell of cost >= arcs.veto_cost within this of a goal: the footprint's front (0.8 m)
# plus the gate's clearance (hazard.clearance_m, 0.8 m). With 1.0 m (the sweep of
# 2026-12-01) 3 of 30 goals still had an untraversable cell within the gate's reach,
# which refuses the last metres whatever the drive does.
GOAL_CLEAR_M = 1.6
DRIFT_TOLERANCE_M = 1.0   # 5 % of the 20 m: the odometry bound on the rock field


def benign_goal(truth: TruthMap, veto_cost: float) -> tuple[float, float]:
    """The nearest point to (GOAL_M, 0) with no hazard within GOAL_CLEAR_M of it, reachable.

    As a ground team would: a goal is placed on open ground, not in a crater or on a
    rock (with the nominal goal fixed, 4 of 30 seeds put it in a crater or on a rock
    the arc vote never lets the rover drive onto), and on ground the rover can reach:
    the planner's cost to go from the start over the whole true map is finite there
    (seed 29's open ground nearest the nominal goal is the floor of a crater whose walls
    are beyond the limits all round).
    """
    res, n = truth.resolution, truth.cost.shape[0]
    c = truth.origin + (np.arange(n) + 0.5) * res
    X, Y = np.meshgrid(c, c)
    bad = truth.cost >= veto_cost
    from_start = navigation_function(
        Grid(truth.cost, truth.origin, truth.origin, res), (0.0, 0.0), CONTROLLER['planner.cell_m'],
        GEOMETRY.outline(CONTROLLER['hazard.footprint_end_margin_m'],
                         CONTROLLER['hazard.footprint_side_margin_m'])[1],
        veto_cost, CONTROLLER['arcs.hazard_weight'],
        CONTROLLER['arcs.unknown_cost'])
    for r in np.arange(0.0, 5.0 + 1e-9, res):
        for a in np.linspace(0.0, 2 * math.pi, max(1, int(2 * math.pi * r / res)), endpoint=False):
            gx, gy = GOAL_M + r * math.cos(a), r * math.sin(a)
            near = np.hypot(X - gx, Y - gy) < GOAL_CLEAR_M
            if not bad[near].any() and math.isfinite(from_start.value(gx, gy)):
                return gx, gy
    raise RuntimeError('no open, reachable ground within 5 m of the nominal goal')


def one_run(seed: int, k: int, abundance: float, timeout: float, perception: str,
            odometry: str = 'visual', vo_width: int = 512) -> dict:
    rng = random.Random(seed * 10 + k)
    overrides = {'terrain.seed': seed, 'terrain.rock_abundance': abundance}
    if odometry == 'visual':
        overrides.update({'camera.hazcam.width': vo_width, 'camera.hazcam.height': vo_width})
    rover = Rover('rocks', truth_map=perception == 'truth', odom_from_truth=True,
                  visual_odometry=odometry == 'visual', **overrides)
    plan = sorted((rng.uniform(20.0, 300.0), w, rng.choice(FAULTS))
                  for w in rng.sample(WHEEL_IDS, k))

    def inject(r: Rover):
        for at, wheel, fault in plan:
            if r.world.time >= at and wheel not in r.fault_injected:
                r.inject(wheel, fault)

    # The rover starts at the origin facing +x (odom = terrain frame at the start).
    gx, gy = benign_goal(rover.truth_map or TruthMap(rover.world), CONTROLLER['arcs.veto_cost'])
    reached = rover.drive_to(gx, gy, timeout, during=inject)
    x, y = rover.position()
    error = math.hypot(x - gx, y - gy)
    travelled = sum(math.dist(a[1:3], b[1:3]) for a, b in zip(rover.truth, rover.truth[1:]))
    odo = rover.core.odometry
    drift = math.hypot(odo.x - x, odo.y - y) / max(travelled, 1e-9)
    missed = [w for _, w, _ in plan if w in rover.fault_injected and w not in rover.detected]
    spurious = {w: d for w, d in rover.detected.items() if w not in rover.fault_injected}
    recent = [s for t, _, _, s in rover.truth if t > rover.world.time - 10.0]
    return {'ok': reached and error <= TOLERANCE_M, 'ok_drift': reached and error <= DRIFT_TOLERANCE_M,
            'error': error, 'drift': drift,
            'sim_s': rover.world.time, 'missed': missed, 'plan': plan,
            'progress': x, 'goal': (gx, gy), 'moving': bool(recent) and max(recent) > 0.005,
            'timed_out': not reached, 'spurious': spurious,
            'short_m': rover.core.goal.short_m if rover.core.goal is not None else 0.0,
            'visual_steps': rover.core.visual_steps,
            'visual_unlinked': rover.visual.vo.unlinked if rover.visual else 0}


def _run(job: tuple) -> tuple:
    return job[:2], one_run(*job)


def summary(results: list[dict]) -> dict:
    """A k's row: runs, arrivals, medians and counts over its runs."""
    errors = sorted(r['error'] for r in results)
    drifts = sorted(r['drift'] for r in results)
    return {'runs': len(results), 'ok': sum(r['ok'] for r in results),
            'ok_drift': sum(r['ok_drift'] for r in results),
            'error': errors[len(errors) // 2], 'drift': drifts[len(drifts) // 2],
            'spurious': sum(len(r['spurious']) for r in results),
            'held': sum(r['short_m'] > 0 for r in results)}


def figures(rows: dict[int, dict]) -> dict:
    """A k's row as the results file's figures, keyed 'k = <k>: <what and unit>'."""
    out = {}
    for k, row in rows.items():
        out.update({
            f'k = {k}: within {TOLERANCE_M} m, % of runs': round(100 * row['ok'] / row['runs']),
            f'k = {k}: within {DRIFT_TOLERANCE_M} m, % of runs':
                round(100 * row['ok_drift'] / row['runs']),
            f'k = {k}: median error m': round(row['error'], 3),
            f'k = {k}: median drift %': round(100 * row['drift'], 1),
            f'k = {k}: spurious stalls': row['spurious'],
            f'k = {k}: held short': row['held']})
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument('--seeds', type=int, default=30)
    ap.add_argument('--k', type=int, nargs='+', default=[0, 1, 2, 3])
    ap.add_argument('--rock-abundance', type=float, default=0.03)
    ap.add_argument('--timeout', type=float, default=1200.0,
                    help='sim seconds per run (20 m at the top speed, 0.055 m/s, is 364 s)')
    ap.add_argument('--perception', choices=('truth', 'none'), default='truth')
    ap.add_argument('--odometry', choices=('visual', 'wheels'), default='visual')
    ap.add_argument('--vo-width', type=int, default=512,
                    help='pixels square of the pairs rendered for visual odometry')
    ap.add_argument('--jobs', type=int, default=1, help='runs in parallel (processes)')
    args = ap.parse_args()
    if args.vo_width < 128:
        ap.error('--vo-width must be at least 128 pixels')
    print(f'{args.seeds} seeded rocks terrains (k_rock={args.rock_abundance}), goal {GOAL_M} m '
          f'(moved to open ground {GOAL_CLEAR_M} m clear), hazard map: {args.perception}, '
          f'success = goal reached within {TOLERANCE_M} m by ground truth (and within '
          f'{DRIFT_TOLERANCE_M} m, the odometry bound); odometry: {args.odometry}; '
          'spurious = faults latched on wheels with none injected; held short = goal drives ended '
          'held within goal_held_tolerance_m of the goal')
    ks = sorted(set(args.k) | {0})      # k = 0: the peer of every other k
    jobs = [(seed, k, args.rock_abundance, args.timeout, args.perception, args.odometry,
             args.vo_width)
            for k in ks for seed in range(1, args.seeds + 1)]
    t0 = time.monotonic()
    done = {}

    def collect(results) -> None:     # a line per run as it ends: a long sweep shows progress
        for (seed, k), r in results:
            done[(seed, k)] = r
            print(f'  run {len(done)}/{len(jobs)}: seed {seed} k={k} '
                  f'goal ({r["goal"][0]:.1f}, {r["goal"][1]:.1f}) '
                  f'{"reached" if r["ok"] else "NOT reached"}, error {r["error"]:.2f} m, '
                  f'{"ended %.2f m short, held, " % r["short_m"] if r["short_m"] else ""}'
                  f'{r["sim_s"]:.0f} s sim, drift {100 * r["drift"]:.1f} %, '
                  f'{r["visual_steps"]} visual steps ({r["visual_unlinked"]} unlinked), '
                  f'{time.monotonic() - t0:.0f} s wall, about '
                  f'{(time.monotonic() - t0) / len(done) * (len(jobs) - len(done)):.0f} s left',
                  flush=True)

    if args.jobs > 1:
        with multiprocessing.get_context('spawn').Pool(args.jobs) as pool:
            collect(pool.imap_unordered(_run, jobs))
    else:
        collect(map(_run, jobs))
    print(f'{"wheels failed":>14}{"runs":>6}{"reached":>9}{"share":>8}'
          f'{f"within {DRIFT_TOLERANCE_M} m":>14}{"median err m":>14}'
          f'{"median drift":>14}{"spurious":>10}{"held short":>12}')
    rows = {}
    for k in ks:
        results = [done[(seed, k)] for seed in range(1, args.seeds + 1)]
        row = rows[k] = summary(results)
        print(f'{k:>14}{row["runs"]:>6}{row["ok"]:>9}{100 * row["ok"] / row["runs"]:>7.0f}%'
              f'{100 * row["ok_drift"] / row["runs"]:>13.0f}%'
              f'{row["error"]:>14.3f}{100 * row["drift"]:>13.1f}%'
              f'{row["spurious"]:>10}{row["held"]:>12}', flush=True)
        for seed, r in enumerate(results, 1):
            if not r['ok'] or r['missed'] or r['spurious']:
                why = ('reached' if r['ok'] else
                       'timed out still driving' if r['timed_out'] and r['moving'] else
                       'stuck' if r['timed_out'] else 'stopped off the goal')
                faults = ', '.join(f'{w} {f} at {t:.0f} s' for t, w, f in r['plan']) or 'none'
                spur = ', '.join(f'{w} {f} at {t:.0f} s' for w, (t, f) in r['spurious'].items())
                print(f'    seed {seed}: {why} after {r["progress"]:.1f} m, error {r["error"]:.2f} m;'
                      f' faults: {faults}; undetected {r["missed"] or "none"};'
                      f' spurious {spur or "none"}', flush=True)
    print(f'{len(jobs)} runs in {time.monotonic() - t0:.0f} s of wall time ({args.jobs} jobs)')
    peer = figures({0: rows.pop(0)}) if len(rows) > 1 else {}
    write_results('montecarlo', figures(rows), peer, setup={
        'seeds': f'1-{args.seeds}', 'rock abundance': args.rock_abundance,
        'perception': args.perception, 'odometry': args.odometry, 'vo width px': args.vo_width,
        'sim s cap': args.timeout, 'jobs': args.jobs})


if __name__ == '__main__':
    main()
