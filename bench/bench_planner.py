"""The planner's cost to go (hazard/planner.py): milliseconds per search of the 16 m window.

navigation_function as the drive controller runs it on each new map (SciPy's Dijkstra on
the graph of moves between open cells), beside the same search written out cell by cell
in pure Python (heapq; test_hazard_planner's reference, which it must equal) on the same
maps in the same run. The maps: the 160 x 160 cell window at 0.1 m the controller gets,
random costs with rocks (veto cost) on a share of the cells and a band of unseen ground,
the goal on the map and off it. Not a test: nothing asserted. Writes
bench/results/planner.json.
  ./dev bench planner [--maps 20]
"""
from __future__ import annotations

import argparse
from pathlib import Path
import sys
import time

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / 'test'))

import numpy as np  # noqa: E402

from chang_e_rover.hazard.gate import Grid  # noqa: E402
from chang_e_rover.hazard.planner import navigation_function  # noqa: E402
from results import write_results  # noqa: E402
from test_hazard_planner import cost_to_go_by_heap, HALF_WIDTH, P  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument('--maps', type=int, default=20)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    plan = (P['planner.cell_m'], HALF_WIDTH, P['arcs.veto_cost'], P['arcs.hazard_weight'],
            P['arcs.unknown_cost'])
    cases = []
    for i in range(args.maps):
        cost = rng.integers(0, 60, (160, 160)).astype(np.int8)
        cost[rng.random((160, 160)) < 0.002] = 100
        cost[:, :30] = -1                               # behind the rover: not seen
        goal = (5.0, 3.0) if i % 2 == 0 else (20.0, -4.0)   # on the map, off it
        cases.append((Grid(cost, -8.0, -8.0, 0.1), goal))
    navigation_function(*cases[0], *plan)               # warm: the moves' tables
    times = {'graph': 0.0, 'cells': 0.0}
    for grid, goal in cases:
        t0 = time.perf_counter()
        got = navigation_function(grid, goal, *plan).to_go
        t1 = time.perf_counter()
        want = cost_to_go_by_heap(grid, goal, *plan)
        t2 = time.perf_counter()
        times['graph'] += t1 - t0
        times['cells'] += t2 - t1
        if not np.allclose(got, want, rtol=1e-12):
            raise SystemExit('the two searches disagree: see test_hazard_planner')
    ms = {k: v / len(cases) * 1e3 for k, v in times.items()}
    print(f'cost to go over a 160 x 160 window at {P["planner.cell_m"]} m cells: graph search '
          f'{ms["graph"]:.1f} ms, cell by cell (pure Python) {ms["cells"]:.1f} ms, '
          f'{ms["cells"] / ms["graph"]:.1f}x')
    write_results('planner', {'cost to go, 16 m window: ms': round(ms['graph'], 2)},
                  {'cost to go, 16 m window, cell by cell (pure Python): ms':
                   round(ms['cells'], 2)},
                  setup={'maps': args.maps, 'cell m': P['planner.cell_m'],
                         'rocks share': 0.002, 'goals': 'on the map and off it, alternately'})


if __name__ == '__main__':
    main()
