"""Render bench/results/<name>.json as the tables the docs quote, and keep the docs in step.

A doc quotes a results file in a generated region:

    <!-- bench:sim -->
    ...provenance line and table, written by this script...
    <!-- /bench:sim -->

  .venv/bin/python bench/docs_tables.py           rewrite every region in docs/
  .venv/bin/python bench/docs_tables.py --check   print a diff and exit 1 if any differs

A table has a row per key of the results' `figure`, with the figure, its peer
(measured in the same run) and their ratio. PEERS says, per results name, which
peer each figure is measured against.
"""
from __future__ import annotations

import argparse
import difflib
import json
from pathlib import Path
import re
import sys

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / 'results'
DOCS = BENCH.parent / 'docs'

# Per results name: (figure key pattern, peer key template) rules, the first match wins; a
# figure no rule matches has no peer. Every peer of the results must be some figure's peer.
PEERS: dict[str, tuple[tuple[str, str], ...]] = {
    'sim': (
        (r'^(.*): real-time factor$', r'\1: raw mj_step real-time factor'),
    ),
    'relay': (
        (r'^store .*packets/s$', 'spacepackets SpacePacket.pack, packets/s'),
        (r'^goodput .*: kbit/s$', 'link kbit/s'),
        (r'^goodput (.*): % of link$', r'goodput \1: % the packet headers leave'),
    ),
    'stack': (
        (r'^.*: real-time factor$', 'World.step alone, no ROS: real-time factor'),
    ),
    'board': (
        (r'^(.*): CPU s per sim s$', r'\1: the simulator process, CPU s per sim s'),
    ),
    'latency': (
        (r'^(.*): (p\d+) ms$', r'\1: echo \2 ms'),
    ),
    'hazard': (
        (r'^pipeline, .*: ms$', 'StereoSGBM alone, full resolution: ms'),
        (r'^visual odometry, .*: ms$', 'StereoSGBM alone, working scale: ms'),
        (r'^visual odometry step: m$', "visual odometry step: simulator's m"),
    ),
    'panorama': (
        (r'^(time for the \d+ frames): s$', r'\1: cv2.Stitcher s'),
        (r'^(peak memory, own process): MiB$', r'\1: cv2.Stitcher MiB'),
        (r'^result: px$', 'result: cv2.Stitcher px'),
    ),
    'montecarlo': (
        (r'^k = [1-9]\d*: (.*)$', r'k = 0: \1'),
    ),
    'rss': (
        (r'^one process per node: (.*)$', r'one process: \1'),
    ),
    'hazard_recall_flown': (
        (r'^(.*)$', r'harness: \1'),
    ),
    'look': (
        (r'^lf seized, the rear leading: (.*)$', r'every wheel in service: \1'),
    ),
    'mast': (
        (r'^lf seized, with the navcams: (.*)$', r'lf seized, hazcams alone: \1'),
    ),
    # hazard_recall: no rule, no peer (no other stereo mapper runs on its frames)
}

REGION = re.compile(r'(<!-- bench:(?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- /bench:(?P=name) -->)',
                    re.S)


class TableError(ValueError):
    """A results file is missing, or its figures and peers do not fit the renderer's rules."""


def load(name: str) -> dict:
    """Return bench/results/<name>.json."""
    path = RESULTS / f'{name}.json'
    if not path.is_file():
        raise TableError(f'{path.relative_to(BENCH.parent)} not found: run ./dev bench {name}')
    return json.loads(path.read_text())


def cell(value) -> str:
    """Format a figure as the results hold it: thousands separated, lists joined with /."""
    if isinstance(value, list):
        return ' / '.join(cell(v) for v in value)
    if isinstance(value, int) and not isinstance(value, bool):
        return f'{value:,}'
    return str(value)


def ratio(figure, peer) -> str:
    """Return figure / peer to two places (two digits under 0.1); '' unless both are numbers."""
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (figure, peer))
    if not numbers or not peer:
        return ''
    share = figure / peer
    return f'{share:.2f}x' if abs(share) >= 0.1 else f'{share:.2g}x'


def peer_of(name: str, key: str, peers: dict) -> str | None:
    """Return the key in peers that figure key is measured against, or None."""
    for pattern, template in PEERS.get(name, ()):
        if re.match(pattern, key):
            peer = re.sub(pattern, template, key)
            if peer not in peers:
                raise TableError(f'{name}.json: peer {peer!r} of {key!r} is not in its peers')
            return peer
    return None


def peer_label(key: str, peer: str) -> str:
    """Name the peer without the 'what: ' its figure already names."""
    what = key.split(': ', 1)[0] + ': '
    return peer[len(what):] if ': ' in key and peer.startswith(what) else peer


def render(name: str, results: dict | None = None) -> str:
    """Return the body of the region bench:<name>: a provenance line and the table."""
    results = load(name) if results is None else results
    figure, peers = results['figure'], results['peer']
    rows, used = [], set()
    for key, value in figure.items():
        peer = peer_of(name, key, peers)
        if peer is None:
            rows.append(f'| {key} | {cell(value)} | | | |')
            continue
        used.add(peer)
        rows.append(f'| {key} | {cell(value)} | {peer_label(key, peer)} | {cell(peers[peer])} '
                    f'| {ratio(value, peers[peer])} |')
    unused = [p for p in peers if p not in used]
    if unused:
        raise TableError(f'{name}.json: peers {unused} are no figure\'s peer: add a rule to '
                         f'PEERS[{name!r}] in bench/docs_tables.py')
    machine = results['machine']
    setup = ', '.join(f'{k} {cell(v)}' for k, v in results.get('setup', {}).items())
    setup = f' ({setup})' if setup else ''
    bench = results.get('bench', name)
    provenance = (f'`./dev bench {bench}`{setup}, commit {results["commit"]}, {results["date"]}, '
                  f'{machine["cpus"]} cpus ({machine["processor"]}, Python {machine["python"]}); '
                  f'generated from `bench/results/{name}.json` by `bench/docs_tables.py`:')
    header = ['| what | figure | peer | peer figure | figure / peer |',
              '| --- | --- | --- | --- | --- |']
    return '\n'.join([provenance, '', *header, *rows, '', ''])


def regions(text: str) -> list[tuple[str, str]]:
    """Return (results name, body) of every generated region in a doc's text."""
    return [(m.group('name'), m.group('body')) for m in REGION.finditer(text)]


def regenerate(text: str) -> str:
    """Return text with every generated region's body rendered afresh."""
    return REGION.sub(lambda m: m.group(1) + render(m.group('name')) + m.group(4), text)


def stale_docs(docs: Path = DOCS) -> dict[Path, tuple[str, str]]:
    """Return {doc: (text, regenerated text)} for each doc whose regions are out of date."""
    stale = {}
    for path in sorted(docs.glob('*.md')):
        text = path.read_text()
        fresh = regenerate(text)
        if fresh != text:
            stale[path] = (text, fresh)
    return stale


def diff(path: Path, text: str, fresh: str) -> str:
    """Return a unified diff from the doc as it is to the doc regenerated."""
    rel = path.relative_to(DOCS.parent)
    return ''.join(difflib.unified_diff(text.splitlines(True), fresh.splitlines(True),
                                        f'{rel} (as written)', f'{rel} (from bench/results)'))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--check', action='store_true',
                    help='change nothing; print a diff and exit 1 if a region is out of date')
    args = ap.parse_args(argv)
    try:
        stale = stale_docs()
    except TableError as exc:
        print(f'error: {exc}', file=sys.stderr)
        return 2
    for path, (text, fresh) in stale.items():
        if args.check:
            sys.stdout.write(diff(path, text, fresh))
        else:
            path.write_text(fresh)
            print(f'rewrote {path.relative_to(DOCS.parent)}')
    if args.check and stale:
        print(f'{len(stale)} doc(s) out of date with bench/results: run '
              f'.venv/bin/python bench/docs_tables.py', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
