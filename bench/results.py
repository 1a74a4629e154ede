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


def _check_flat(what: str, figures: dict) -> None:
    """Refuse figures bench/docs_tables.py could not put in a table row: name -> value(s)."""
    for key, value in figures.items():
        values = value if isinstance(value, list) else [value]
        if not isinstance(key, str) or not all(
                isinstance(v, (int, float, str)) and not isinstance(v, bool) for v in values):
            raise TypeError(f'{what} {key!r}: {value!r}; expected a name and a number, a string '
                            'or a list of them')


def write_results(name: str, figure: dict, peer: dict, setup: dict | None = None,
                  bench: str | None = None) -> Path:
    """Record figure and its peer (measured in the same run) with commit, date and machine.

    :param figure: 'what: unit' -> value; a row of the docs' tables each
    :param peer: the peers' figures, keyed the same way
    :param setup: conditions of the run that are not figures (options, executor)
    :param bench: the `./dev bench` name that writes it, when that is not name
    """
    _check_flat('figure', figure)
    _check_flat('peer', peer)
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f'{name}.json'
    record = {
        'bench': bench or name, 'commit': _commit(),
        'date': datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'),
        'machine': {'cpus': os.cpu_count(), 'processor': platform.processor() or
                    platform.machine(), 'python': platform.python_version()},
        'figure': figure, 'peer': peer}
    if setup:
        record['setup'] = setup
    path.write_text(json.dumps(record, indent=2) + '\n')
    print(f'written to {path.relative_to(RESULTS.parent.parent)}')
    return path
