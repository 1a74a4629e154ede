"""The mission's report page (mission/html_report.py) from a synthetic timeline and summary.

Plain pytest, no ROS: the page is self-contained (pictures as data: URIs, no external
reference, no script) and Chromium loads it headless without a console error; a part
the run did not have reads "not in this run"; a folder that cannot be written is refused.
"""
import html
import math
import os
from pathlib import Path
import re
import shutil
import subprocess

import numpy as np
import pytest

from chang_e_rover.mission import html_report, report
from chang_e_rover.mission.timeline import Series, Timeline

WHEELS = ('lf', 'lm', 'lr', 'rf', 'rm', 'rr')
INJECT_T, DETECT_T = 300.0, 300.4        # sim seconds from the mission's start


def synthetic_timeline(start: float = 1000.0, crossing: bool = True) -> Timeline:
    """Half an hour of a mission fed at 10 Hz, as the node feeds it."""
    tl = Timeline()
    phases = ((0, 'deploy'), (120, 'mutual'), (150, 'panorama'), (240, 'heading'),
              (250, 'traverse'), (290, 'fault_drive'), (420, 'recover'), (440, 'crossing'),
              (600, 'downlink'))
    steps = ((0, 'checkout', 'ACTIVE', ''), (10, 'survey', 'ACTIVE', ''),
             (20, 'survey', 'HOLD', 'wheel lm: FAULT'), (35, 'survey', 'ACTIVE', ''),
             (45, 'deploy_ramp', 'ACTIVE', ''), (70, 'release', 'ACTIVE', ''),
             (80, 'drive_off', 'ACTIVE', ''), (110, 'park', 'ACTIVE', ''),
             (118, 'park', 'COMPLETE', ''))
    tl.lander_xy = (-1.6, 0.0)
    tl.rocks = {'rock_3': (9.0, 3.5), 'rock_9': (12.0, 6.2), 'rock_11': (-5.0, -5.0)}
    sent = [(160, 'panorama', 'take_panorama', 1, ''),
            (290, 'fault_drive', 'drive_goal', 2, 'x_m=8.00, y_m=2.00'),
            (421, 'wheel_reset', 'wheel_reset', 3, 'wheel=1'),
            (440, 'crossing', 'drive_goal', 4, 'x_m=15.00, y_m=8.00')]
    payload = 0
    for i in range(6500):
        t = i * 0.1
        now = start + t
        for at, name in phases:
            if t >= at:
                phase = name
        tl.phase(now, phase)
        x = 0.02 * max(0.0, t - 80) if t < 440 else 7.2 + 0.05 * (t - 440)
        y = 0.3 * math.sin(x / 3) + 0.01 * max(0.0, t - 250)
        tl.poses(now, (x, y, 0.1), (x * 1.01, y + 0.002 * t, 0.0))
        statuses = []
        for w in WHEELS:
            fault = w == 'lm' and INJECT_T + 0.4 <= t < 425
            k = WHEELS.index(w)
            statuses.append((f'rover/wheel_{w}', {
                'state': 'FAULT' if fault else 'ENABLED', 'fault': 'stall' if fault else 'none',
                'speed_rad_s': '0.0000' if fault else f'{(0.8 + 0.02 * k) * (80 < t < 600):.4f}',
                'current_a': f'{(6.0 if fault else 0.9 + 0.05 * k) + 0.1 * math.sin(t):.3f}',
                'temperature_c': f'{-20 + k + 0.01 * t + (5 if fault else 0):.1f}'}))
        step = [s for s in steps if t >= s[0]][-1]
        statuses.append(('lander/sequencer', {'step': step[1], 'state': step[2],
                                              'reason': step[3]}))
        if i % 10 == 0:
            payload += 2000 + int(500 * math.sin(t / 30))
            statuses.append(('lander/relay', {'queued_packets': str(int(50 + 40 * math.sin(
                t / 50))), 'queued_bytes': '1000', 'sent_packets': str(3 * i), 'acks': str(i)}))
        tl.diagnostics(now, statuses)
        for s in sent:
            if abs(t - s[0]) < 0.05:
                tl.telecommand(now, *s[1:])
                if s[1] in ('fault_drive', 'crossing'):
                    tl.goal(now, 8.0 if s[1] == 'fault_drive' else 15.0,
                            2.0 if s[1] == 'fault_drive' else 8.0, s[1])
        states = {s[1]: ('completed' if t > s[0] + 20 else 'pending') for s in sent if t >= s[0]}
        tl.ground(now, states, payload)
    if not crossing:
        tl.rocks = {}
    return tl


def synthetic_summary(crossing: bool = True, ground: bool = True) -> dict:
    s = {'schema_version': 1,
         'deployment': {'complete': True, 'duration_s': 118.0,
                        'steps_done': ['checkout', 'survey', 'deploy_ramp', 'release',
                                       'drive_off', 'park'], 'step': 'park', 'state': 'COMPLETE',
                        'reason': '', 'park_position_m': [5.5, 0.0, 0.3], 'wheel_resets': ['lm']},
         'mutual_imaging': {'result': 'both frames; written to a, b', 'files': []},
         'heading': {'yaw_deg': 20.1, 'set_deg': 20.0, 'turn_s': 8.0},
         'traverse': {'distance_m': 1.9, 'odometry_error_m': 0.02,
                      'odometry_error_percent': 1.1},
         'wheel_failure': {'wheel': 'lm', 'fault': 'stall', 'injected_at_s': INJECT_T,
                           'detected': True, 'reported_fault': 'stall',
                           'detected_after_s': DETECT_T - INJECT_T, 'healthy_wheels': 5},
         'goal_drive': {'arrived': True, 'distance_from_traverse_start_m': 8.2,
                        'end_position_m': [8.0, 2.0], 'arrival_error_m': 0.1,
                        'held_short_m': 0.0},
         'recovery': {'wheel': 'lm', 'back': True, 'took_s': 5.0, 'timeout_s': 60.0,
                      'resets_sent': 1, 'healthy_wheels': 6},
         'crossing': {'arrived': True, 'start_m': [7.2, 2.0], 'out_m': 9.0, 'duration_s': 160.0,
                      'driven_m': 9.4, 'arrival_error_m': 0.2, 'held_short_m': 0.0,
                      'rocks': {'tall_m': 0.2, 'near_m': 1.0, 'near': ['rock_3', 'rock_9'],
                                'touched': []}},
         'time': {'sim_s': 600.0, 'wall_s': 900.0, 'real_time_factor': 0.67},
         'ground': {'telecommands': [
             {'leg': 'panorama', 'name': 'take_panorama', 'seq': 1,
              'reports': ['accepted', 'started', 'completed']},
             {'leg': 'fault_drive', 'name': 'drive_goal', 'seq': 2,
              'reports': ['accepted', 'started', 'completed']},
             {'leg': 'crossing', 'name': 'drive_goal', 'seq': 4,
              'reports': ['accepted', 'started', 'completed']}],
             'products': {'/lander/panorama': 1},
             'relay': {'missing_packets': {}, 'queue_packets': 12}, 'bad_packets': 0,
             'archive': None},
         'panorama': {'taken': True, 'took_s': 80.0, 'width_px': 800, 'height_px': 200,
                      'file': 'panorama.png'},
         'hazard_map': {'cells_seen': 900, 'untraversable': 12, 'file': 'hazard_map.png'}}
    if not crossing:
        s['recovery'] = s['crossing'] = None
    if not ground:
        s['ground'] = None
    return s


def hazard_map() -> tuple[np.ndarray, tuple[float, float], float]:
    y, x = np.mgrid[0:200, 0:240]
    cost = (30 + 25 * np.sin(x / 17.0) * np.cos(y / 23.0)).astype(np.int8)
    cost[:30] = -1
    cost[120:126, 170:176] = 100
    return cost, (-4.0, -6.0), 0.1


def write_products(folder: Path) -> None:
    import cv2
    y, x = np.mgrid[0:200, 0:800]
    cv2.imwrite(str(folder / 'panorama.png'),
                np.dstack([x % 256, y, (x + y) % 256]).astype(np.uint8))
    cv2.imwrite(str(folder / 'lander_sees_rover.png'), np.full((240, 320, 3), 90, np.uint8))


def page_checks(text: str) -> list[str]:
    """Self-contained: no external reference, no script, every picture a data: URI; return
    the pictures' sources."""
    lower = text.lower()
    assert 'http://' not in lower and 'https://' not in lower
    assert 'src="file' not in lower and '<script' not in lower and '<link' not in lower
    sources = re.findall(r'<img\b[^>]*\bsrc="([^"]*)"', text)
    assert len(sources) == lower.count('<img')
    assert all(s.startswith(('data:image/png;base64,', 'data:image/jpeg;base64,'))
               for s in sources)
    return sources


def test_the_page_is_self_contained_and_shows_every_part(tmp_path):
    write_products(tmp_path)
    path = html_report.write(tmp_path, synthetic_summary(), synthetic_timeline(), hazard_map())
    assert path == tmp_path / 'report.html'
    text = path.read_text()
    # traverse, wheels, deployment, relay, and two of the three image products
    assert len(page_checks(text)) == 4 + 2
    assert 'rover_sees_lander.png: not in this run' in text
    for heading in ('Key figures', 'Traverse', 'Wheels', 'Deployment', 'Relay', 'Images',
                    'Telecommands'):
        assert f'<h2>{heading}</h2>' in text
    assert 'wheel lm: FAULT' in text, 'the deployment\'s hold and its reason'
    assert 'x_m=15.00, y_m=8.00' in text and 'accepted, started, completed' in text
    assert 'not in the ground&#x27;s record' in text, 'wheel_reset is not in the record'
    assert ('stall on wheel lm, injected at 300.00 s, detected as stall and isolated 0.40 s '
            'later') in text


def test_the_key_figures_are_the_lines_the_mission_prints(tmp_path):
    """One rendering of the summary's figures: every printed line is a row of the page's
    key figures (label, value), and the rows the text leaves out read "not in this run"."""
    for summary in (synthetic_summary(), synthetic_summary(crossing=False, ground=False)):
        printed = report.text(summary).splitlines()[2:]
        rows = html_report.key_figures(summary)
        assert [f'{what}: {figure}' for what, figure in rows
                if figure != 'not in this run'] == printed
        page = html_report.render(tmp_path, summary, Timeline())
        for what, figure in rows:
            assert f'<td>{html.escape(what)}</td><td>{html.escape(figure)}</td>' in page
    absent = dict(html_report.key_figures(synthetic_summary(crossing=False, ground=False)))
    assert absent['rock field crossing'] == absent['ground station'] == 'not in this run'


def test_parts_the_run_did_not_have_read_not_in_this_run(tmp_path):
    tl = Timeline()
    tl.phase(5.0, 'panorama')
    path = html_report.write(tmp_path, synthetic_summary(crossing=False, ground=False), tl)
    text = path.read_text()
    assert page_checks(text) == [], 'nothing to draw'
    for part in ('the traverse (no positions recorded and no hazard map): not in this run',
                 'wheel telemetry: not in this run', 'the relay (no relay status heard)',
                 'the ground station: not in this run', 'panorama.png: not in this run'):
        assert part in text, part
    # without a hazard map or rocks the traverse is still drawn, with notes
    tl = synthetic_timeline(crossing=False)
    text = html_report.write(tmp_path, synthetic_summary(crossing=False), tl).read_text()
    assert 'hazard map: not in this run' in text and 'rocks passed: not in this run' in text
    # an almost empty summary does not break the key figures
    text = html_report.write(tmp_path, {'schema_version': 1}, Timeline()).read_text()
    assert 'rock field crossing</td><td>not in this run' in text


def test_a_folder_that_cannot_be_written_is_refused(tmp_path):
    blocker = tmp_path / 'a_file'
    blocker.write_text('not a folder')
    with pytest.raises(html_report.ReportPageError, match='cannot make the report page'):
        html_report.write(blocker / 'out', synthetic_summary(), Timeline())
    (tmp_path / 'report.html').mkdir()     # the page's name taken by a folder
    with pytest.raises(html_report.ReportPageError, match='cannot write the report page'):
        html_report.write(tmp_path, synthetic_summary(), Timeline())


def test_the_timeline_keeps_its_memory_bounded():
    s = Series(('v',), period_s=1.0, max_samples=100)
    for i in range(100_000):
        s.add(i * 0.1, i)
    assert len(s) <= 100 and s.period_s > 1.0
    assert s.t[0] == 0.0 and s.t[-1] > 9000.0, 'the whole span is still covered'
    assert all(b - a >= 1.0 for a, b in zip(s.t, s.t[1:]))
    tl = synthetic_timeline()
    assert len(tl.truth) <= 651 and len(tl.wheels['lm']) <= 651
    lm = [e[1:] for e in tl.wheel_states['lm'].items]
    assert lm == [('ENABLED', 'none'), ('FAULT', 'stall'), ('ENABLED', 'none')]
    with pytest.raises(ValueError, match='3 values'):
        Series(('a', 'b', 'c')).add(0.0, 1.0)


def chromium() -> str | None:
    return shutil.which('chromium') or shutil.which('chromium-browser')


def test_chromium_loads_the_page_without_console_errors(tmp_path):
    binary = chromium()
    if binary is None:
        if os.geteuid() != 0:
            pytest.skip('chromium is not installed and this is not root: apt-get install '
                        'chromium (./dev test installs it when run as root)')
        pytest.fail('chromium missing although this is root: ./dev test installs it')
    write_products(tmp_path)
    path = html_report.write(tmp_path, synthetic_summary(), synthetic_timeline(), hazard_map())
    shot = tmp_path / 'shot.png'
    proc = subprocess.run(
        [binary, '--headless', '--no-sandbox', '--disable-gpu', '--enable-logging=stderr',
         '--v=0', '--virtual-time-budget=2000', f'--screenshot={shot}',
         '--window-size=1280,2400', '--user-data-dir=' + str(tmp_path / 'profile'),
         path.as_uri()], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    # the page has no script: any console line (CONSOLE(n) or :CONSOLE:n, by version) is wrong
    errors = [line for line in proc.stderr.splitlines()
              if re.search(r'CONSOLE[(:]|Uncaught', line)]
    assert not errors, errors
    assert shot.is_file()
    import cv2
    img = cv2.imread(str(shot))
    assert img is not None and img.shape[:2] == (2400, 1280)
    assert len(np.unique(img.reshape(-1, 3), axis=0)) > 50, 'the page drew something'
