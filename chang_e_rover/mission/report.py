"""The mission's report: its results as a plain dict, summary.json, and the text summary.

Pure Python (no rclpy): build() gathers what the phase machine recorded and what the
node, the simulator operator and the ground link measured into one dict (the schema
is in docs/mission.md); write() saves it as summary.json; key_lines() renders its
figures as (label, value) rows, which text() prints and the report page
(html_report.py) shows, so none of the three can disagree.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from chang_e_rover.mission.phases import MissionPhases

SCHEMA_VERSION = 1
FILE_NAME = 'summary.json'
Row = tuple[str, str | None]    # a key line: its label and value (None: not in this run)


def build(phases: MissionPhases, *, sequencer: dict[str, str],
          truth: tuple[float, float, float], crossing: dict | None, ground: dict | None,
          panorama: dict | None, hazard_map: dict | None, mutual_files: list[str],
          wall_s: float, pace: list[dict] | None = None,
          waited: dict[str, float] | None = None) -> dict[str, Any]:
    """The report of a finished mission.

    :param sequencer: the lander sequencer's last diagnostics values
    :param truth: the rover's ground-truth position now, m
    :param crossing: the operator's crossing record (SimOperator.crossing_record)
    :param ground: the ground link's record (GroundLink.record), None without a ground
    :param panorama: width_px, height_px, file (None: not written) of the panorama
    :param hazard_map: cells_seen, untraversable, file of the hazard map written
    :param mutual_files: the mutual imaging frames written
    :param wall_s: wall seconds since the mission node started
    :param pace: sim and wall seconds per phase (timeline.Timeline.pace)
    :param waited: wall seconds the simulator's steps waited, by the node of its loop
        answering last (its sim/lockstep status); empty or None without it
    """
    r = phases.results
    if 'sim_s' not in r:
        raise ValueError(f'the mission is not finished: phase {phases.phase}')
    if not (math.isfinite(wall_s) and wall_s > 0):
        raise ValueError(f'wall_s must be finite and > 0, got {wall_s}')
    start = phases.start_t
    end_x, end_y, _ = r['goal_drive_end']
    gx, gy = r['goal_true']
    error = r.get('traverse_odom_error')
    detected = r.get('detected')
    report = {
        'schema_version': SCHEMA_VERSION,
        'deployment': None,
        'mutual_imaging': None,
        'heading': None,
        'traverse': {
            'distance_m': r['traverse_distance'],
            'odometry_error_m': error,
            'odometry_error_percent': (None if error is None else
                                       100 * error / max(r['traverse_distance'], 1e-9))},
        'wheel_failure': {
            'wheel': phases.fault_drive.wheel,
            'fault': phases.fault_drive.fault,
            'injected_at_s': None if 'injected' not in r else r['injected'] - start,
            'detected': detected is not None,
            'reported_fault': detected[1] if detected else None,
            'detected_after_s': detected[2] - r['injected'] if detected else None,
            'healthy_wheels': _count(r['healthy_at_arrival'])},
        'goal_drive': {
            'arrived': bool(r['reached']),
            'distance_from_traverse_start_m': r['goal_drive_distance'],
            'end_position_m': [end_x, end_y],
            'arrival_error_m': math.hypot(gx - end_x, gy - end_y),
            'held_short_m': _metres(r['short'])},
        'recovery': None,
        'crossing': None,
        'time': {'sim_s': r['sim_s'], 'wall_s': wall_s,
                 'real_time_factor': r['sim_s'] / wall_s, 'phases': list(pace or []),
                 'waited_s': dict(waited or {})},
        'ground': ground,
        'panorama': {'taken': panorama is not None, 'took_s': r.get('panorama_s'),
                     **(panorama or {'width_px': None, 'height_px': None, 'file': None})},
        'hazard_map': hazard_map,
    }
    if 'deploy_s' in r:
        steps = sequencer.get('steps_done', '')
        report['deployment'] = {
            'complete': bool(r['deployed']), 'duration_s': r['deploy_s'],
            'steps_done': steps.split(',') if steps else [],
            'step': sequencer.get('step', '?'), 'state': sequencer.get('state', '?'),
            'reason': sequencer.get('reason', ''),
            'park_position_m': list(r['deploy_truth']),
            'wheel_resets': list(phases.deploy_resets)}
        report['mutual_imaging'] = {'result': r.get('mutual'), 'files': list(mutual_files)}
    if 'heading' in r:
        yaw, took = r['heading']
        report['heading'] = {'yaw_deg': math.degrees(yaw),
                             'set_deg': math.degrees(phases.set_heading.heading_rad),
                             'turn_s': took}
    if 'crossing_start' in r:
        cr = phases.crossing
        waited, healthy = r['recovered']
        report['recovery'] = {'wheel': phases.fault_drive.wheel, 'back': waited is not None,
                              'took_s': waited, 'timeout_s': cr.reset_timeout_s,
                              'resets_sent': r.get('resets_sent', 0),
                              'healthy_wheels': _count(healthy)}
        sx, sy = r['crossing_start']
        cx, cy = r['crossing_goal_true']
        rocks = crossing['rocks']
        report['crossing'] = {
            'arrived': bool(r['crossing_reached']), 'start_m': [sx, sy],
            'out_m': math.dist((sx, sy), (cx, cy)), 'duration_s': r['crossing_s'],
            'driven_m': crossing['driven_m'],
            'arrival_error_m': math.hypot(cx - truth[0], cy - truth[1]),
            'held_short_m': _metres(r['crossing_short']),
            'rocks': None if rocks is None else {'tall_m': cr.tall_m, 'near_m': cr.near_m,
                                                 **rocks}}
    return report


def write(report: dict, folder: Path) -> Path:
    """Write the report as folder/summary.json; return its path."""
    path = Path(folder) / FILE_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, allow_nan=False) + '\n')
    return path


def text(report: dict, folder: Path | None = None) -> str:
    """The printed summary of a report: its key lines, one a line, those of parts the run
    did not have left out (files named in it are relative to folder)."""
    return '\n'.join(['', '=== mission summary ==='] + [
        f'{label}: {value}' for label, value in key_lines(report, folder) if value is not None])


def key_lines(report: dict, folder: Path | None = None) -> list[Row]:
    """The report's key lines as (label, value) rows, in the order printed; value None for a
    part the run did not have (its section null or missing).

    The one rendering of the summary's figures: the printed summary (text) and the report
    page's key figures (html_report) both show these rows. Files named in them are
    relative to folder; with folder None, as the report names them.
    """
    get = report.get
    goal = get('goal_drive')
    return [('deployment', _deployment(get('deployment'))),
            ('mutual imaging', _mutual(get('mutual_imaging'))),
            ('heading before the traverse', _heading(get('heading'))),
            ('distance driven from the start of the traverse to the end of the goal drive '
             '(ground truth)', None if goal is None else
             f'{goal["distance_from_traverse_start_m"]:.2f} m'),
            ('position at the end of the goal drive', None if goal is None else
             '({:.2f}, {:.2f}) m'.format(*goal['end_position_m'])),
            ('odometry error after the traverse', _odometry(get('traverse'))),
            ('wheel failure', _wheel_failure(get('wheel_failure'))),
            ('goal drive', None if goal is None else
             f'{_arrived(goal)}, arrival error {goal["arrival_error_m"]:.3f} m (ground truth)'
             + _held_short(goal)),
            _recovery(get('recovery')),
            *_crossing(get('crossing')),
            ('sim time', _time(get('time'))),
            ('pace by phase (sim s in wall s)', _pace(get('time'))),
            ('the simulator waited for (wall s, the node answering last)', _waited(get('time'))),
            *_ground(get('ground'), folder),
            ('lander panorama', _panorama(get('panorama'), folder)),
            ('hazard map around the rover', _hazard_map(get('hazard_map'), folder))]


def _deployment(d: dict | None) -> str | None:
    if d is None:
        return None
    if not d['complete']:
        return (f'NOT COMPLETE after {d["duration_s"]:.0f} s (sim): step {d["step"]} '
                f'{d["state"]} {d["reason"]}')
    x, y, z = d['park_position_m']
    resets = (f'; wheel resets by the ground: {", ".join(d["wheel_resets"])}'
              if d['wheel_resets'] else '')
    return (f'complete in {d["duration_s"]:.0f} s (sim) after the start, steps '
            f'{", ".join(d["steps_done"]) or "?"}; rover parked at ({x:.2f}, {y:.2f}, '
            f'{z:.2f}) m (ground truth), off the deck{resets}')


def _mutual(m: dict | None) -> str | None:
    if m is None:
        return None
    return 'not done' if m['result'] is None else m['result']


def _heading(h: dict | None) -> str | None:
    if h is None:
        return None
    return (f'{h["yaw_deg"]:.1f} deg (set {h["set_deg"]:.0f} deg), turned in '
            f'{h["turn_s"]:.0f} s')


def _odometry(tr: dict | None) -> str | None:
    if tr is None or tr['odometry_error_m'] is None:
        return None
    return (f'{tr["odometry_error_m"]:.3f} m ({tr["odometry_error_percent"]:.1f} % of '
            'distance)')


def _wheel_failure(f: dict | None) -> str | None:
    """The injected fault and what the rover made of it: the fault it reported, how soon."""
    if f is None:
        return None
    fault = f'{f["fault"]} on wheel {f["wheel"]}'
    if f['injected_at_s'] is None:
        return f'{fault} not injected: the drive ended first'
    healthy = f'healthy wheels: {_or_unknown(f["healthy_wheels"])}'
    if not f['detected']:
        return f'{fault}, injected at {f["injected_at_s"]:.2f} s, NOT DETECTED; {healthy}'
    return (f'{fault}, injected at {f["injected_at_s"]:.2f} s, detected as '
            f'{f["reported_fault"]} and isolated {f["detected_after_s"]:.2f} s later; {healthy}')


def _recovery(rec: dict | None) -> Row:
    if rec is None:
        return 'wheel back in service', None
    healthy = _or_unknown(rec['healthy_wheels'])
    return f'wheel {rec["wheel"]} back in service', (
        f'fault cleared and reset by the ground ({rec["resets_sent"]} wheel_reset '
        f'telecommand(s)), {rec["took_s"]:.1f} s; healthy wheels: {healthy}' if rec['back']
        else f'NOT after {rec["timeout_s"]:.0f} s; healthy wheels: {healthy}')


def _crossing(c: dict | None) -> list[Row]:
    """The crossing's line, and its tall rocks near the path."""
    if c is None:
        return [('rock field crossing', None)]
    sx, sy = c['start_m']
    rows = [('rock field crossing',
             f'{_arrived(c)} {c["out_m"]:.1f} m out from ({sx:.2f}, {sy:.2f}) in '
             f'{c["duration_s"]:.0f} s (sim), {c["driven_m"]:.2f} m driven, arrival error '
             f'{c["arrival_error_m"]:.3f} m (ground truth)' + _held_short(c))]
    rocks = c['rocks']
    if rocks is None:
        return rows + [('tall rocks near the path', None)]
    return rows + [(f'rocks over {rocks["tall_m"]:.2f} m within {rocks["near_m"]:.1f} m of the '
                    'path', f'{len(rocks["near"])}; touched by the rover (ground truth, '
                    f'sampled at 10 Hz): {", ".join(rocks["touched"]) or "none"}')]


def _time(t: dict | None) -> str | None:
    if t is None:
        return None
    return (f'{t["sim_s"]:.1f} s, wall time: {t["wall_s"]:.1f} s, real-time factor: '
            f'{t["real_time_factor"]:.1f}')


def _waited(t: dict | None) -> str | None:
    """The simulator's waits, the six wheel units together."""
    if not t or not t.get('waited_s'):
        return None
    waited: dict[str, float] = {}
    for name, s in t['waited_s'].items():
        key = 'wheel units' if name.startswith('wheel_') else name
        waited[key] = waited.get(key, 0.0) + s
    return ', '.join(f'{k} {s:.0f}' for k, s in sorted(waited.items(), key=lambda kv: -kv[1]))


def _pace(t: dict | None) -> str | None:
    if not t or not t.get('phases'):
        return None
    return ', '.join(f'{p["phase"]} {p["sim_s"]:.0f} in {p["wall_s"]:.0f}' for p in t['phases'])


def _ground(g: dict | None, folder: Path | None) -> list[Row]:
    """Each telecommand's reports on the ground, the products downlinked, the relay's
    queue at arrival, the ground's archive."""
    if g is None:
        return [('ground station', None)]
    rows = []
    for tc in g['telecommands']:
        name = tc['name'] + (' (rock field)' if tc['leg'] == 'crossing' else '')
        rows.append((f'telecommand {tc["seq"]} {name}, reports on the ground',
                     '-' if tc['reports'] is None else ', '.join(tc['reports'])))
    rows.append(('downlinked through the relay (products on the ground)',
                 ', '.join(f'{t} {n}' for t, n in sorted(g['products'].items())) or 'none'))
    relay, a = g['relay'], g['archive']
    missing = None if relay is None else relay['missing_packets']
    rows.append(('everything the relay had queued at arrival is on the ground',
                 None if relay is None else
                 f'{"yes" if not missing else f"no, packets missing {missing}"}; relay queue '
                 f'now {relay["queue_packets"]} packets (new data keeps coming); corrupted '
                 f'packets caught by CRC: {g["bad_packets"]}'))
    rows.append(('ground archive', None if a is None else
                 f'{_path(a["path"], folder)} ({a["images"]} images, {a["invalid"]} products '
                 'flagged invalid)'))
    return rows


def _panorama(p: dict | None, folder: Path | None) -> str | None:
    if p is None:
        return None
    if not p['taken']:
        return 'NOT TAKEN'
    took = math.nan if p['took_s'] is None else p['took_s']
    line = f'{p["width_px"]} x {p["height_px"]} px, 360 deg, taken in {took:.0f} s (sim)'
    return line if p['file'] is None else line + f'; written to {_path(p["file"], folder)}'


def _hazard_map(m: dict | None, folder: Path | None) -> str | None:
    if m is None:
        return None
    return (f'{m["cells_seen"]} cells seen, {m["untraversable"]} untraversable; written to '
            f'{_path(m["file"], folder)}')


def _arrived(leg: dict) -> str:
    return 'arrived' if leg['arrived'] else 'DID NOT ARRIVE'


def _held_short(leg: dict) -> str:
    """A goal drive that ended held short of its goal (odometry), or nothing."""
    m = leg['held_short_m']
    return f', ended held {m:.2f} m short (odometry)' if m > 0 else ''


def _path(name: str | None, folder: Path | None) -> str:
    """A file named in the report, as a path (relative names are inside folder)."""
    if name is None or folder is None or Path(name).is_absolute():
        return str(name)
    return str(Path(folder) / name)


def _or_unknown(count: int | None) -> str:
    return '?' if count is None else str(count)


def _count(value: str | None) -> int | None:
    """A count as the diagnostics give it ('5'), or None when it is not one ('?')."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _metres(value: str | None) -> float:
    """A distance as the diagnostics give it ('0.12'), 0.0 when it is not one."""
    try:
        metres = float(value or 0.0)
    except ValueError:
        return 0.0
    return metres if math.isfinite(metres) else 0.0
