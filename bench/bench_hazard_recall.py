"""Hazard map quality over seeded rock fields: rock recall, false hazards, height RMSE.

Each run: a 'rocks' terrain from its seed at the issue's rock abundance (k = 0.1),
the rover driving a goal 15 m ahead with the map its own hazcam pair builds
(rendered, red-tinted, calibrated, stereo-matched, mapped in odom by odometry: the
whole pipeline), then the map against the simulator's true heightfield and rocks
(harness.map_quality): recall of rocks of 0.20 m and more whose top came within
5 m of the left hazcam inside its frame (a hazard cell within the odometry's
largest error of the rock counts), the same over every such rock within 5 m of
the path, false hazards among cells the truth calls free, and height RMSE within
5 m of the path. One seeded field holds 5 to 20 such rocks; the issue's 0.99 is a
claim over rocks in general, so the recall is pooled over the seeds.

Two ways to cross a field (--stack):
- flown: the flown stack, every node over DDS in a process of its own (its own
  domain), the map from its own stereo, odometry and attitude estimate
  (test/flown_stack.py cross_rock_field; test_hazard_stack.py asserts seed 3);
- harness: the flight cores in a harness without DDS (test/harness.py), the same
  pipeline on the same fields.
With --stack both (the default) each seed is crossed both ways in the same run,
and the harness's figures are the flown ones' peer; bench/results/hazard_recall_flown.json
and hazard_recall.json. The drive's arrival is printed too (it is not what this
measures).
  ./dev bench hazard_recall [--seeds 1 2 4 5] [--stack both|flown|harness] [--jobs 2]
"""
from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
from pathlib import Path
import subprocess
import sys
import time
import traceback

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / 'test'))

from harness import map_quality, Rover  # noqa: E402
from results import write_results  # noqa: E402

ABUNDANCE = 0.1          # the rock field
GOAL = (15.0, 0.0)


def one_run(seed: int, timeout: float) -> dict:
    rover = Rover('rocks', hazcams=True,
                  **{'terrain.seed': seed, 'terrain.rock_abundance': ABUNDANCE})
    w = rover.world
    path = []

    def watch(_):
        p = tuple(float(v) for v in w.ground_truth().position[:2])
        if not path or math.dist(path[-1], p) > 0.1:
            path.append(p)

    t0 = time.monotonic()
    reached = rover.drive_to(*GOAL, timeout, during=watch)
    h = rover.hazcams
    q = map_quality(h.mapper.map, h.mapper.limits, w, path, views=h.views, K=h.K, size=h.size,
                    registration_m=rover.odom_error_max)
    x, y = rover.position()
    q.update(seed=seed, reached=reached, error=math.hypot(x - GOAL[0], y - GOAL[1]),
             sim_s=w.time, wall_s=time.monotonic() - t0, pairs=h.mapper.processed,
             odom_error_m=rover.odom_error_max,
             ms_per_pair=h.mapper.ms_per_pair)
    rover.hazcams.close()
    return q


def flown_child(seed: int, timeout: float) -> None:
    """In a process of its own: cross the field with the flown stack; print RESULT json."""
    from flown_stack import cross_rock_field, HazardStack, RosSession
    ros = RosSession()
    stack = HazardStack(ros, 'rocks', seed=seed, rock_abundance=ABUNDANCE)
    try:
        q = cross_rock_field(stack, goal_x=GOAL[0], cap_s=timeout)
    finally:
        stack.close()
        ros.close()
    x, y = q['position']
    q.update(seed=seed, error=math.hypot(x - GOAL[0], y - GOAL[1]))
    print('RESULT ' + json.dumps(q, default=float), flush=True)


def one_flown(seed: int, timeout: float) -> dict:
    env = {**os.environ, 'ROS_DOMAIN_ID': str(60 + seed % 40 + os.getpid() % 2 * 40),
           'ROS_AUTOMATIC_DISCOVERY_RANGE': 'LOCALHOST', 'MUJOCO_GL': 'egl'}
    env.setdefault('FASTDDS_BUILTIN_TRANSPORTS', 'LARGE_DATA')
    env.setdefault('RMW_IMPLEMENTATION', 'rmw_fastrtps_cpp')
    try:
        out = subprocess.run([sys.executable, __file__, '--flown-child', str(seed), str(timeout)],
                             capture_output=True, text=True, env=env, timeout=timeout * 10 + 300)
    except subprocess.TimeoutExpired as exc:
        return {'seed': seed, 'crash': f'no result within {exc.timeout:.0f} s of wall time'}
    lines = [x for x in out.stdout.splitlines() if x.startswith('RESULT ')]
    if not lines:
        return {'seed': seed, 'crash': (out.stderr or out.stdout)[-3000:]}
    return json.loads(lines[-1][len('RESULT '):])


def _run(job: tuple) -> dict:
    """One crossing's row; a crossing that crashes is a row with its traceback."""
    kind, seed, timeout = job
    try:
        row = (one_flown if kind == 'flown' else one_run)(seed, timeout)
    except Exception:  # noqa: BLE001 - one crossing's crash must not end the run
        row = {'seed': seed, 'crash': traceback.format_exc()[-3000:]}
    return {**row, 'stack': kind}


def found(share: float, rocks: int) -> int:
    """Rocks found, from a recall share and the rocks it is over."""
    return round(share * rocks) if rocks else 0


def figures(results: list[dict]) -> dict:
    """The results file's figures: each field's counts, then pooled and worst cases."""
    figure = {}
    for r in results:
        figure[f"seed {r['seed']}: rocks found / within the cameras' 5 m"] = [
            found(r['recall'], r['rocks']), r['rocks']]
    hits = sum(found(r['recall'], r['rocks']) for r in results)
    rocks = sum(r['rocks'] for r in results)
    near_hits = sum(found(r['recall_near_path'], r['rocks_near_path']) for r in results)
    near = sum(r['rocks_near_path'] for r in results)
    figure.update({
        "pooled: rocks found / within the cameras' 5 m": [hits, rocks],
        "pooled: recall within the cameras' 5 m": round(hits / max(rocks, 1), 3),
        'pooled: rocks found / within 5 m of the path': [near_hits, near],
        'pooled: recall within 5 m of the path': round(near_hits / max(near, 1), 3),
        'false hazards, least / most: % of free cells': [
            round(100 * min(r['false_hazard_share_as_placed'] for r in results), 2),
            round(100 * max(r['false_hazard_share_as_placed'] for r in results), 2)],
        'height RMSE, least / most: m': [round(min(r['rmse_m'] for r in results), 3),
                                         round(max(r['rmse_m'] for r in results), 3)],
        'odometry error, least / most: m': [round(min(r['odom_error_m'] for r in results), 3),
                                            round(max(r['odom_error_m'] for r in results), 3)],
        'goals reached / crossings': [sum(bool(r['reached']) for r in results), len(results)]})
    return figure


def table(kind: str, results: list[dict]) -> None:
    print(f'{kind}:')
    for r in (r for r in results if 'crash' in r):
        print(f'{r["seed"]:>5}  crashed:\n' + '\n'.join('        ' + line
                                                        for line in r['crash'].splitlines()))
    results = [r for r in results if 'crash' not in r]
    if not results:
        return
    print(f'{"seed":>5}{"in 5 m":>9}{"recall":>8}{"near path":>11}{"recall":>8}'
          f'{"false":>8}{"RMSE m":>8}{"cells":>7}  drive')
    for r in results:
        f, nf = found(r['recall'], r['rocks']), found(r['recall_near_path'], r['rocks_near_path'])
        drive = (f'reached, {r["error"]:.2f} m off' if r['reached'] else 'not reached') + \
            f' in {r["sim_s"]:.0f} s sim'
        in5, near = f'{f}/{r["rocks"]}', f'{nf}/{r["rocks_near_path"]}'
        print(f'{r["seed"]:>5}{in5:>9}{r["recall"]:>8.3f}'
              f'{near:>11}{r["recall_near_path"]:>8.3f}'
              f'{100 * r["false_hazard_share_as_placed"]:>7.2f}%'
              f'{r["rmse_m"]:>8.3f}{r["cells"]:>7}  {drive}',
              flush=True)
        for x, y, h in r['missed']:
            print(f'        missed within 5 m: {h:.2f} m rock at ({x:.2f}, {y:.2f})')
    fig = figures(results)
    recall = fig["pooled: recall within the cameras' 5 m"]
    print(f"pooled: recall within the cameras' 5 m {recall} (aim 0.99); near the path "
          f"{fig['pooled: recall within 5 m of the path']}; false hazards, least / most "
          f"{fig['false hazards, least / most: % of free cells']} % (aim <= 1 %); RMSE "
          f"{fig['height RMSE, least / most: m']} m")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument('--seeds', type=int, nargs='+', default=[1, 2, 4, 5])
    ap.add_argument('--stack', choices=('both', 'flown', 'harness'), default='both')
    ap.add_argument('--timeout', type=float, default=450.0, help='sim seconds per crossing')
    ap.add_argument('--jobs', type=int, default=1, help='runs in parallel (processes)')
    ap.add_argument('--flown-child', nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.flown_child:
        flown_child(int(args.flown_child[0]), float(args.flown_child[1]))
        return
    kinds = ('flown', 'harness') if args.stack == 'both' else (args.stack,)
    print(f'{len(args.seeds)} seeded rock fields (k_rock={ABUNDANCE}), goal {GOAL} m, the map '
          f'built by the hazcam pipeline in closed loop ({" and ".join(kinds)}); rocks of '
          '0.20 m and more', flush=True)
    jobs = [(kind, seed, args.timeout) for seed in args.seeds for kind in kinds]
    t0 = time.monotonic()
    if args.jobs > 1:
        with multiprocessing.get_context('spawn').Pool(args.jobs) as pool:
            results = list(pool.imap_unordered(_run, jobs))
    else:
        results = [_run(j) for j in jobs]
    by_kind = {k: sorted((r for r in results if r['stack'] == k), key=lambda r: r['seed'])
               for k in kinds}
    for kind in kinds:
        table(kind, by_kind[kind])
    print(f'{len(jobs)} crossings in {time.monotonic() - t0:.0f} s of wall time '
          f'({args.jobs} jobs)')
    setup = {'seeds': ' '.join(map(str, args.seeds)), 'jobs': args.jobs,
             'rock abundance': ABUNDANCE, 'goal m': GOAL[0], 'sim s per crossing': args.timeout}
    crashed = {k: sum('crash' in r for r in rows) for k, rows in by_kind.items()}
    by_kind = {k: [r for r in rows if 'crash' not in r] for k, rows in by_kind.items()}
    if not all(by_kind.values()):
        raise SystemExit(f'no results written: every crossing of a stack crashed ({crashed})')
    if any(crashed.values()):
        setup['crossings crashed'] = ', '.join(f'{k} {n}' for k, n in crashed.items())
    if 'harness' in by_kind:
        write_results('hazard_recall', figures(by_kind['harness']), {}, setup=setup)
    if 'flown' in by_kind:
        flown = figures(by_kind['flown'])
        peer = {f'harness: {k}': v for k, v in figures(by_kind['harness']).items()} \
            if 'harness' in by_kind else {}
        write_results('hazard_recall_flown', flown, peer, setup=setup, bench='hazard_recall')


if __name__ == '__main__':
    main()
