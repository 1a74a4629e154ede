"""Resident memory of the whole stack: one process versus one process per node.

Starts `chang-e-rover sim` both ways on flat terrain, lets it run, and sums the
RSS (from /proc) of every process in the tree. Writes bench/results/rss.json: one
process per node, with one process (the default) as its peer. Not a test: nothing
asserted.
  ./dev bench rss [--settle 20]
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path
import signal
import subprocess
import sys
import time

from results import write_results


def tree_rss_mib(root_pid: int) -> tuple[float, int]:
    """Return (sum of RSS in MiB, process count) of root_pid and all its descendants."""
    children: dict[int, list[int]] = {}
    for stat in Path('/proc').glob('[0-9]*/stat'):
        try:
            fields = stat.read_text().rsplit(')', 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    total_kib, count, todo = 0, 0, [root_pid]
    while todo:
        pid = todo.pop()
        try:
            for line in Path(f'/proc/{pid}/status').read_text().splitlines():
                if line.startswith('VmRSS:'):
                    total_kib += int(line.split()[1])
                    count += 1
        except OSError:
            pass
        todo.extend(children.get(pid, []))
    return total_kib / 1024, count


def measure(extra: list[str], settle: float) -> tuple[float, int]:
    env = {'ROS_DOMAIN_ID': str(150 + os.getpid() % 50), **os.environ,
           'ROS_AUTOMATIC_DISCOVERY_RANGE': 'LOCALHOST'}
    proc = subprocess.Popen([sys.executable, '-m', 'chang_e_rover.cli', 'sim', '--terrain', 'flat',
                             *extra], env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(settle)
        return tree_rss_mib(proc.pid)
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument('--settle', type=float, default=20.0, help='seconds before measuring')
    args = ap.parse_args()
    one, n1 = measure([], args.settle)
    many, n2 = measure(['--processes'], args.settle)
    print(f'{"mode":<28}{"processes":>10}{"RSS MiB":>10}')
    print(f'{"one process":<28}{n1:>10}{one:>10.0f}')
    print(f'{"one process per node":<28}{n2:>10}{many:>10.0f}')
    print(f'per-node processes use {many / one:.1f}x the memory of one process')
    write_results('rss', {'one process per node: RSS MiB': round(many),
                          'one process per node: processes': n2},
                  {'one process: RSS MiB': round(one), 'one process: processes': n1},
                  setup={'terrain': 'flat', 'settle s': args.settle})


if __name__ == '__main__':
    main()
