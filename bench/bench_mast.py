"""What the mast's navcams save a rover led by its rear: the flight cores on the simulator.

The flight-core harness (test/harness.py: the simulator's physics and cameras, the wheel
units, the DriveCore and the HazardMapper on the rendered stereo pairs; no DDS) drives a
goal on flat ground with lf seized from the start, so the rear leads. Measured: the goal
drive with the navcams on the mast looking the way on (as flown), against the same drive
with them never asked for (the peer: the hazcams alone, and a body turn to look where the
ground they saw runs out), in the same run. Writes bench/results/mast.json.
  ./dev bench mast [--goal-m 12] [--cap-s 600]
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path
import sys
import time

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / 'test'))
from results import write_results  # noqa: E402


def drive(goal_m: float, cap_s: float, navcams: bool) -> dict:
    """One goal drive; returns sim seconds to the goal (cap if not), looks, navcam pairs."""
    os.environ.setdefault('MUJOCO_GL', 'egl')
    from harness import Rover
    rover = Rover('flat', hazcams=True)
    if not navcams:
        rover.hazcams.navcams = lambda core, on: None
    rover.inject('lf', 'stall')
    start = rover.world.time
    reached = rover.drive_to(goal_m, 0.0, timeout=cap_s)
    looks = [e for e in rover.core.events if e.what.endswith('turning to look')]
    goal = [e.t for e in rover.core.events if e.what.startswith('goal reached')]
    rover.hazcams.close()
    return {'s': round((goal[0] if reached and goal else start + cap_s) - start, 1),
            'looks': len(looks), 'pairs': rover.hazcams.navcam_pairs, 'reached': reached}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--goal-m', type=float, default=12.0)
    ap.add_argument('--cap-s', type=float, default=600.0)
    args = ap.parse_args()
    start = time.monotonic()
    mast = drive(args.goal_m, args.cap_s, True)
    body = drive(args.goal_m, args.cap_s, False)
    for what, r in (('with the navcams', mast), ('hazcams alone', body)):
        print(f'lf seized, {what}: {"reached" if r["reached"] else "not reached"} in {r["s"]} s '
              f'of sim, {r["looks"]} looks, {r["pairs"]} navcam pairs mapped')
    print(f'({time.monotonic() - start:.0f} s of wall)')
    write_results('mast', {
        'lf seized, with the navcams: s to the goal': mast['s'],
        'lf seized, with the navcams: looks': mast['looks'],
    }, {
        'lf seized, hazcams alone: s to the goal': body['s'],
        'lf seized, hazcams alone: looks': body['looks'],
    }, {'goal m': args.goal_m, 'cap s': args.cap_s,
        'model': 'flight-core harness, flat ground, stereo map, no DDS',
        'navcam pairs mapped': mast['pairs']})


if __name__ == '__main__':
    main()
