"""The mission's report page: one self-contained report.html for an operator.

Pure (no rclpy): drawn from the summary dict (mission/report.py, schema in
docs/mission.md) and the time series the mission recorded (mission/timeline.py), the
figures drawn by mission/report_plots.py; its key figures are the lines the mission
prints (report.key_lines). Every picture is inside the page as a base64 data: URI, the
style is inline, and there is no script and no external reference, so the file can be
mailed or archived alone. A part the run did not have is shown as "not in this run".
"""
from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import Any

import numpy as np

from chang_e_rover.mission import report, report_plots
from chang_e_rover.mission.timeline import Timeline

FILE_NAME = 'report.html'
# The image products embedded (title, file in the folder), when the run wrote them.
IMAGES = (('the lander\'s 360 deg panorama', 'panorama.png'),
          ('the lander sees the rover', 'lander_sees_rover.png'),
          ('the rover sees the lander', 'rover_sees_lander.png'))
IMAGE_MAX_WIDTH_PX = 1600   # embedded copies are scaled down to this; the originals stay
CSS = """
body { font-family: sans-serif; margin: 1.5em auto; max-width: 1200px; color: #222; }
h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #ccc; margin-top: 1.6em; }
table { border-collapse: collapse; margin: 0.5em 0; }
td, th { border: 1px solid #ccc; padding: 0.2em 0.6em; text-align: left; vertical-align: top; }
th { background: #f0f0f0; }
img { max-width: 100%; display: block; margin: 0.5em 0; }
.missing { color: #888; font-style: italic; }
.bad { color: #c62828; font-weight: bold; } .good { color: #2e7d32; }
"""


class ReportPageError(OSError):
    """The report page could not be written where it was asked to be."""


def write(folder: Path, summary: dict[str, Any], timeline: Timeline,
          hazard_map: tuple[np.ndarray, tuple[float, float], float] | None = None,
          images: tuple[tuple[str, str], ...] = IMAGES) -> Path:
    """Write folder/report.html; return its path.

    :param summary: the mission report (report.build)
    :param timeline: what the mission recorded as it ran
    :param hazard_map: (cost per cell, -1 unknown; origin x, y in m; m per cell), or None
    :param images: (title, file name in folder) of the PNGs to embed when present
    """
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ReportPageError(f'{folder}: cannot make the report page\'s folder: {exc}') from exc
    page = render(folder, summary, timeline, hazard_map, images)
    path = folder / FILE_NAME
    try:
        path.write_text(page, encoding='utf-8')
    except OSError as exc:
        raise ReportPageError(f'{path}: cannot write the report page: {exc}') from exc
    return path


def render(folder: Path, summary: dict[str, Any], timeline: Timeline,
           hazard_map=None, images: tuple[tuple[str, str], ...] = IMAGES) -> str:
    """The page as HTML text (files named in images are read from folder)."""
    parts = ['<!DOCTYPE html>', '<html lang="en"><head><meta charset="utf-8">',
             '<title>Mission report</title>', f'<style>{CSS}</style></head><body>',
             '<h1>Mission report</h1>',
             '<h2>Key figures</h2>', _table(('what', 'figure'), key_figures(summary)),
             '<h2>Phases</h2>', _phases(timeline),
             '<h2>Traverse</h2>', _traverse(summary, timeline, hazard_map),
             '<h2>Wheels</h2>', _wheels(summary, timeline),
             '<h2>Deployment</h2>', _deployment(summary, timeline),
             '<h2>Relay</h2>', _relay(timeline),
             '<h2>Images</h2>', _images(folder, images),
             '<h2>Telecommands</h2>', _telecommands(summary, timeline),
             '</body></html>']
    return '\n'.join(parts) + '\n'


# ---- key figures ---------------------------------------------------------------------------
def key_figures(summary: dict[str, Any]) -> list[tuple[str, str]]:
    """(what, figure) rows: the summary's key lines as the mission prints them
    (report.key_lines), a part the run did not have reading 'not in this run'. Files are
    named as the summary names them, relative to the page's folder."""
    return [(label, _missing_text() if value is None else value)
            for label, value in report.key_lines(summary)]


def _phases(tl: Timeline) -> str:
    if not tl.phases.items:
        return _missing('phases')
    return _table(('phase', 'from (s)'), [(name, f'{tl.since_start(t):.1f}')
                                          for t, name, _ in tl.phases.items])


# ---- figures -------------------------------------------------------------------------------
def _traverse(s: dict, tl: Timeline, hazard_map) -> str:
    if not (len(tl.truth) or len(tl.odom) or hazard_map is not None):
        return _missing('the traverse (no positions recorded and no hazard map)')
    png, notes = report_plots.traverse(s, tl, hazard_map)
    return (_img(png, 'image/png', 'the traverse over the hazard map') +
            ''.join(f'<p class="missing">{html.escape(n)}</p>' for n in notes))


def _wheels(s: dict, tl: Timeline) -> str:
    if not tl.wheels:
        return _missing('wheel telemetry')
    rows = sorted(((tl.since_start(t), wheel, state, fault)
                   for wheel, events in tl.wheel_states.items()
                   for t, state, fault in events.items), key=lambda r: r[0])
    return (_img(report_plots.wheels(s, tl), 'image/png', 'wheel speed, current, temperature')
            + '<p>wheel state changes</p>' +
            _table(('t (s)', 'wheel', 'state', 'fault'), [(f'{t:.1f}', *r) for t, *r in rows]))


def _deployment(s: dict, tl: Timeline) -> str:
    if not tl.sequencer.items:
        return _missing('the deployment (the rover did not start on the deck)'
                        if s.get('deployment') is None else 'the sequencer\'s telemetry')
    png, holds = report_plots.deployment(tl)
    return (_img(png, 'image/png', 'the deployment timeline') + '<p>holds</p>' +
            (_table(('from (s)', 'for (s)', 'step', 'reason'), holds) if holds else
             '<p>no holds</p>'))


def _relay(tl: Timeline) -> str:
    if not len(tl.relay) and not len(tl.goodput):
        return _missing('the relay (no relay status heard)')
    return _img(report_plots.relay(tl), 'image/png', 'the relay queue depth and goodput')


def _img(data: bytes, mime: str, alt: str) -> str:
    return (f'<img alt="{html.escape(alt)}" '
            f'src="data:{mime};base64,{base64.b64encode(data).decode("ascii")}">')


# ---- images and tables ---------------------------------------------------------------------
def _images(folder: Path, images: tuple[tuple[str, str], ...]) -> str:
    out = []
    for title, name in images:
        out.append(f'<h3>{html.escape(title)}</h3>')
        path = folder / name
        data = _scaled_jpeg(path) if path.is_file() else None
        out.append(_missing(name) if data is None else _img(data, 'image/jpeg', title))
    return '\n'.join(out)


def _scaled_jpeg(path: Path) -> bytes | None:
    """The image at path as JPEG, at most IMAGE_MAX_WIDTH_PX wide; None if it cannot be read."""
    import cv2
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        return None
    if img.shape[1] > IMAGE_MAX_WIDTH_PX:
        h = max(1, round(img.shape[0] * IMAGE_MAX_WIDTH_PX / img.shape[1]))
        img = cv2.resize(img, (IMAGE_MAX_WIDTH_PX, h), interpolation=cv2.INTER_AREA)
    ok, data = cv2.imencode('.jpg', img, [cv2.IMWRITE_JPEG_QUALITY, 90])
    return data.tobytes() if ok else None


def _telecommands(s: dict, tl: Timeline) -> str:
    ground = s.get('ground')
    if ground is None and not tl.telecommands.items:
        return _missing('the ground station')
    reports = {tc.get('seq'): tc.get('reports') for tc in (ground or {}).get('telecommands', [])}
    rows, listed = [], set()
    for t, leg, name, seq, detail in tl.telecommands.items:
        done = next((f'{tl.since_start(e[0]):.1f}' for e in tl.tc_states.items
                     if e[1:3] == (leg, seq) and e[3] != 'pending'), '')
        rows.append((f'{tl.since_start(t):.1f}', seq, leg, name, detail,
                     _reports(reports.get(seq, ...)), done))
        listed.add(seq)
    for tc in (ground or {}).get('telecommands', []):
        if tc.get('seq') not in listed:
            rows.append(('', tc.get('seq'), tc.get('leg'), tc.get('name'), '',
                         _reports(tc.get('reports')), ''))
    return _table(('sent (s)', 'seq', 'leg', 'telecommand', 'arguments',
                   'reports on the ground', 'finished (s)'), rows)


def _reports(reports) -> str:
    if reports is ...:
        return 'not in the ground\'s record'
    return 'never sent' if reports is None else ', '.join(reports) or 'none yet'


def _table(header: tuple[str, ...], rows: list[tuple]) -> str:
    head = ''.join(f'<th>{html.escape(h)}</th>' for h in header)
    body = ''.join('<tr>' + ''.join(f'<td>{html.escape(str(c))}</td>' for c in row) + '</tr>'
                   for row in rows)
    return f'<table><tr>{head}</tr>{body}</table>'


def _missing(what: str) -> str:
    return f'<p class="missing">{html.escape(what)}: {_missing_text()}</p>'


def _missing_text() -> str:
    return 'not in this run'
