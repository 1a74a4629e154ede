"""Write a benchmark's figures to bench/results/<name>.json with where and when they were taken."""
from __future__ import annotations

import datetime
import json
import os
from pathlib import Path
import platform
import subprocess

RESULTS = Path(__file__).resolve().parent / 'results'


def _commit() -> str:
    try:
        return subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], capture_output=True,
                              text=True, cwd=RESULTS.parent, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return 'unknown'


def write_results(name: str, figure: dict, peer: dict) -> Path:
    """Record figure and its peer (measured in the same run) with commit, date and machine."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f'{name}.json'
    path.write_text(json.dumps({
        'commit': _commit(), 'date': datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec='seconds'),
        'machine': {'cpus': os.cpu_count(), 'processor': platform.processor() or
                    platform.machine(), 'python': platform.python_version()},
        'figure': figure, 'peer': peer}, indent=2) + '\n')
    print(f'written to {path.relative_to(RESULTS.parent.parent)}')
    return path
