"""The mission report (mission/report.py) and its sources: ground link, operator bookkeeping,
products. Plain pytest, no ROS."""
from dataclasses import dataclass, field
import json
import math
from pathlib import Path

import numpy as np
import pytest

from chang_e_rover.mission import products, report
from chang_e_rover.mission.ground_link import GroundLink
from chang_e_rover.mission.phases import MissionPhases
from chang_e_rover.mission.plan import Crossing, FaultDrive, path_length, rocks_near
from chang_e_rover.mission.timeline import Timeline
from test_mission_phases import FakeMutual, World

SECTIONS = ('schema_version', 'deployment', 'mutual_imaging', 'heading', 'traverse',
            'wheel_failure', 'goal_drive', 'recovery', 'crossing', 'time', 'ground', 'panorama',
            'hazard_map')


def finished(crossing=True, deploy=True) -> MissionPhases:
    m = MissionPhases(FaultDrive(), Crossing() if crossing else None, mutual=FakeMutual()
                      if deploy else None)
    World(m).run()
    m.results['mutual'] = ('lander terrain camera on the rover (pan 1.0 deg, tilt 2.0 deg), '
                           'rover pancam on the lander (pan 3.0 deg, tilt 4.0 deg); written to '
                           '/m/lander_sees_rover.png, /m/rover_sees_lander.png')
    return m


GROUND = {'telecommands': [
    {'leg': 'panorama', 'seq': 1, 'name': 'take_panorama',
     'reports': ['accepted', 'started', 'completed']},
    {'leg': 'fault_drive', 'seq': 2, 'name': 'drive_goal', 'reports': None},
    {'leg': 'crossing', 'seq': 4, 'name': 'drive_goal', 'reports': ['accepted']}],
    'products': {'/rover/odom': 12, '/lander/panorama': 1},
    'relay': {'missing_packets': {'0x010': 3}, 'queue_packets': 40}, 'bad_packets': 2,
    'archive': {'path': 'ground/x.mcap', 'images': 5, 'invalid': 0}}


def build(m, **kw):
    args = dict(sequencer={'state': 'COMPLETE', 'step': 'complete',
                           'steps_done': 'checkout,survey,park'},
                truth=(10.0, 5.0, 0.1), crossing={'driven_m': 10.4, 'rocks': {
                    'near': ['rock_3', 'rock_9'], 'touched': []}},
                ground=GROUND, panorama={'width_px': 4096, 'height_px': 1024,
                                         'file': 'panorama.png'},
                hazard_map={'cells_seen': 900, 'untraversable': 12, 'file': 'hazard_map.png'},
                mutual_files=['lander_sees_rover.png', 'rover_sees_lander.png'], wall_s=200.0)
    args.update(kw)
    return report.build(m, **args)


def test_the_report_has_every_section_and_survives_json_unchanged(tmp_path):
    rep = build(finished())
    assert tuple(rep) == SECTIONS
    path = report.write(rep, tmp_path)
    assert path == tmp_path / 'summary.json'
    loaded = json.loads(path.read_text())
    assert loaded == json.loads(json.dumps(rep))
    # the printed summary is the rendering of the same data
    assert report.text(loaded, tmp_path) == report.text(rep, tmp_path)


def test_the_text_summary_says_what_the_report_holds(tmp_path):
    m = finished()
    rep = build(m)
    text = report.text(rep, tmp_path).splitlines()
    assert text[:2] == ['', '=== mission summary ===']
    r = m.results
    assert text[2].startswith(f'deployment: complete in {r["deploy_s"]:.0f} s (sim) after the '
                              'start, steps checkout, survey, park; rover parked at (')
    assert text[3].startswith('mutual imaging: lander terrain camera on the rover (pan 1.0')
    f = rep['wheel_failure']
    assert f['detected'] and f['reported_fault'] == 'stall' and f['healthy_wheels'] == 5
    assert (f'wheel failure: stall on wheel lm, injected at {f["injected_at_s"]:.2f} s, '
            f'detected as stall and isolated 0.00 s later; healthy wheels: 5') in text
    assert 'wheel lm back in service: fault cleared and reset by the ground (1 wheel_reset ' \
        f'telecommand(s)), {rep["recovery"]["took_s"]:.1f} s; healthy wheels: 6' in text
    assert ('rocks over 0.20 m within 1.5 m of the path: 2; touched by the rover (ground '
            'truth, sampled at 10 Hz): none') in text
    assert 'telecommand 1 take_panorama, reports on the ground: accepted, started, completed' \
        in text
    assert 'telecommand 2 drive_goal, reports on the ground: -' in text
    assert 'telecommand 4 drive_goal (rock field), reports on the ground: accepted' in text
    assert ('downlinked through the relay (products on the ground): /lander/panorama 1, '
            '/rover/odom 12') in text
    assert ("everything the relay had queued at arrival is on the ground: no, packets missing "
            "{'0x010': 3}; relay queue now 40 packets (new data keeps coming); corrupted "
            "packets caught by CRC: 2") in text
    assert f'ground archive: {tmp_path / "ground/x.mcap"} (5 images, 0 products flagged ' \
        'invalid)' in text
    assert text[-2] == (f'lander panorama: 4096 x 1024 px, 360 deg, taken in '
                        f'{r["panorama_s"]:.0f} s (sim); written to {tmp_path / "panorama.png"}')
    assert text[-1] == ('hazard map around the rover: 900 cells seen, 12 untraversable; '
                        f'written to {tmp_path / "hazard_map.png"}')
    t = rep['time']
    assert t['real_time_factor'] == pytest.approx(t['sim_s'] / 200.0)


def test_the_goal_drive_figures_are_ground_truth():
    m = finished()
    rep = build(m)
    g, r = rep['goal_drive'], m.results
    assert g['arrived'] and g['end_position_m'] == list(r['goal_drive_end'][:2])
    assert g['arrival_error_m'] == pytest.approx(
        math.dist(r['goal_true'], r['goal_drive_end'][:2]))
    c = rep['crossing']
    assert c['arrival_error_m'] == pytest.approx(math.dist(r['crossing_goal_true'], (10.0, 5.0)))
    assert c['out_m'] == pytest.approx(math.dist(r['crossing_start'], r['crossing_goal_true']))
    assert rep['traverse']['odometry_error_percent'] == pytest.approx(
        100 * r['traverse_odom_error'] / r['traverse_distance'])


def test_a_fault_not_detected_or_not_injected_says_so():
    rep = build(finished())
    f = rep['wheel_failure']
    f.update(detected=False, reported_fault=None, detected_after_s=None)
    assert (f'wheel failure: stall on wheel lm, injected at {f["injected_at_s"]:.2f} s, NOT '
            'DETECTED; healthy wheels: 5') in report.text(rep).splitlines()
    f['injected_at_s'] = None
    assert 'wheel failure: stall on wheel lm not injected: the drive ended first' in \
        report.text(rep).splitlines()


def test_a_drive_held_short_says_by_how_much(tmp_path):
    m = finished()
    m.results['short'] = '0.31'
    m.results['crossing_short'] = 'nan'
    rep = build(m)
    assert rep['goal_drive']['held_short_m'] == 0.31 and rep['crossing']['held_short_m'] == 0.0
    assert ', ended held 0.31 m short (odometry)' in report.text(rep, tmp_path)


def test_the_pace_says_where_the_wall_time_went():
    tl = Timeline()
    for phase, sim_t, wall_t in (('deploy', 0.0, 10.0), ('deploy', 50.0, 40.0),
                                 ('panorama', 200.0, 160.0), ('crossing', 320.0, 200.0)):
        tl.phase(sim_t, phase, wall_t)
    rows = tl.pace(420.0, 200.0)
    assert [(r['phase'], r['sim_s'], r['wall_s']) for r in rows] == [
        ('deploy', 200.0, 150.0), ('panorama', 120.0, 40.0), ('crossing', 100.0, 0.0)]
    assert rows[0]['real_time_factor'] == pytest.approx(4 / 3)
    assert rows[2]['real_time_factor'] is None, 'no wall time: no factor'
    rep = build(finished(), pace=rows)
    assert rep['time']['phases'] == rows
    assert 'pace by phase (sim s in wall s): deploy 200 in 150, panorama 120 in 40, ' \
        'crossing 100 in 0' in report.text(rep).splitlines()
    assert 'pace by phase' not in report.text(build(finished()))


def test_without_deployment_crossing_ground_or_folder_those_sections_are_null():
    m = finished(crossing=False, deploy=False)
    rep = build(m, ground=None, crossing=None, hazard_map=None,
                panorama={'width_px': 10, 'height_px': 5, 'file': None})
    for key in ('deployment', 'mutual_imaging', 'recovery', 'crossing', 'ground', 'hazard_map'):
        assert rep[key] is None, key
    text = report.text(rep)
    assert 'deployment' not in text and 'telecommand' not in text
    assert text.splitlines()[-1] == (f'lander panorama: 10 x 5 px, 360 deg, taken in '
                                     f'{m.results["panorama_s"]:.0f} s (sim)')
    rep = build(m, ground=None, crossing=None, hazard_map=None, panorama=None)
    assert rep['panorama'] == {'taken': False, 'took_s': m.results['panorama_s'],
                               'width_px': None, 'height_px': None, 'file': None}
    assert report.text(rep).splitlines()[-1] == 'lander panorama: NOT TAKEN'


def test_an_unfinished_mission_or_a_bad_wall_time_is_refused():
    with pytest.raises(ValueError, match='not finished'):
        build(MissionPhases())
    with pytest.raises(ValueError, match='wall_s'):
        build(finished(), wall_s=0.0)


def test_a_report_with_a_non_finite_number_is_not_written(tmp_path):
    rep = build(finished())
    rep['time']['sim_s'] = math.inf
    with pytest.raises(ValueError):
        report.write(rep, tmp_path)


# ---- the ground link ------------------------------------------------------------------------
@dataclass
class Report:
    kind: int


@dataclass
class Tc:
    reports: list = field(default_factory=list)

    @property
    def finished(self):
        return any(r.kind in (2, 4, 7, 8) for r in self.reports)


@dataclass
class Status:
    next_seq: dict
    queued_packets: int = 0


class Station:
    def __init__(self):
        self.pending, self.status, self.archive, self.bad_packets = {}, None, None, 0
        self.delivered: dict[int, int] = {}

    def send(self, name, **args):
        seq = len(self.pending) + 1
        self.pending[seq] = Tc()
        return seq

    def behind(self, target):
        return {a: n - self.delivered.get(a, 1) for a, n in target.items()
                if self.delivered.get(a, 1) < n}

    def topic_counts(self):
        return {'/b': 2, '/a': 1}


def test_the_ground_link_follows_each_telecommand_and_the_downlink():
    st = Station()
    g = GroundLink(st)
    assert not g.link_up and g.state('crossing') is None
    with pytest.raises(ValueError, match='legs are'):
        g.send('lunch', 'drive_goal')
    seq = g.send('crossing', 'drive_goal', x_m=1.0, y_m=2.0)
    assert g.state('crossing') == 'pending'
    st.pending[seq].reports = [Report(1), Report(3)]
    assert g.state('crossing') == 'pending'
    st.status = Status({0x10: 5})
    g.mark_downlink()
    st.pending[seq].reports.append(Report(7))
    assert g.state('crossing') == 'completed' and not g.downlinked()
    st.delivered[0x10] = 5
    assert g.downlinked()
    st.pending[g.send('wheel_reset', 'wheel_reset', wheel=1)].reports = [Report(1), Report(8)]
    assert g.state('wheel_reset') == 'failed'
    rec = g.record(None)
    assert [(t['leg'], t['seq']) for t in rec['telecommands']] == [
        ('panorama', None), ('fault_drive', None), ('crossing', 1)]
    assert rec['telecommands'][2]['reports'] == ['accepted', 'started', 'completed']
    assert list(rec['products']) == ['/a', '/b'] and rec['relay']['missing_packets'] == {}


# ---- bookkeeping and products -----------------------------------------------------------------
def test_rocks_near_a_path_and_its_length():
    path = [(0.0, 0.0), (3.0, 4.0), (3.0, 5.0)]
    assert path_length(path) == pytest.approx(6.0)
    rocks = {'a': (1.5, 2.0), 'b': (4.4, 5.0), 'c': (10.0, 0.0), 'd': (3.0, 6.5)}
    # by the path's points (the operator keeps one every 5 cm), not its segments
    assert rocks_near(rocks, path, 1.5) == ['b', 'd']
    with pytest.raises(ValueError, match='empty path'):
        rocks_near(rocks, [], 1.5)


def test_products_are_written_and_described(tmp_path):
    rgb = np.zeros((4, 6, 3), np.uint8)
    rgb[..., 0] = 200
    assert products.write_panorama(tmp_path, rgb) == {'width_px': 6, 'height_px': 4,
                                                      'file': 'panorama.png'}
    import cv2
    assert cv2.imread(str(tmp_path / 'panorama.png'))[0, 0].tolist() == [0, 0, 200]
    cost = np.array([[-1, 0, 100], [50, 100, -1]], np.int8)
    hm = products.write_hazard_map(tmp_path, cost, (0.0, 0.0), 0.1, [(0.05, 0.05)])
    assert hm == {'cells_seen': 4, 'untraversable': 2, 'file': 'hazard_map.png'}
    assert Path(tmp_path / hm['file']).is_file()
    with pytest.raises(ValueError, match='uint8'):
        products.write_panorama(tmp_path, rgb.astype(np.float32))
