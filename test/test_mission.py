"""The main job, `chang-e-rover mission`, runs to its summary."""
import math
from pathlib import Path
import re

import pytest

from chang_e_rover import config
from chang_e_rover.mission.plan import Crossing, FaultDrive, SetHeading, TRAVERSE
from mission_run import MISSION


# Wall seconds the mission may take before its test fails (it runs in lock-step, so a
# slower machine takes longer but reaches the same result).
MISSION_WALL_LIMIT_S = 2700


@pytest.mark.timeout(MISSION_WALL_LIMIT_S + 60)
def test_mission_drives_the_traverse_and_reports():
    MISSION.start()
    try:
        code, out, err, wall = MISSION.result(MISSION_WALL_LIMIT_S)
    finally:
        MISSION.stop()
    assert code is not None, f'the mission ran past {MISSION_WALL_LIMIT_S} s: ' + out[-2000:]
    assert code == 0, out[-2000:] + err[-2000:]
    assert '=== mission summary ===' in out
    deploy = re.search(r'deployment: complete in \d+ s \(sim\) after the start, steps ([\w, ]+); '
                       r'rover parked at \(([-\d.]+), ([-\d.]+), ([-\d.]+)\) m', out)
    assert deploy, 'the mission begins with the drive-off from the lander'
    assert deploy.group(1) == 'checkout, survey, deploy_ramp, inspect, release, drive_off, park'
    park = config.load_params('lander.yaml', 'sequencer')['park_xy']
    x, y, z = (float(v) for v in deploy.group(2, 3, 4))
    # odometry counts the 30 deg ramp short by 0.3 to 0.5 m (the rover slips on it), and
    # a drive step is done within arrive_tolerance_m (0.3 m) by odometry
    assert math.hypot(x - park[0], y - park[1]) < 0.8 and z < 0.7, 'parked on the ground'
    mutual = re.search(r'mutual imaging: lander terrain camera on the rover .* rover pancam on the '
                       r'lander .*; written to (\S+), (\S+)$', out, re.M)
    assert mutual and all(Path(p).is_file() for p in mutual.group(1, 2))
    heading = re.search(r'heading before the traverse: ([-\d.]+) deg \(set ([-\d.]+) deg\)', out)
    assert heading, 'the rover turns to the set heading before the traverse'
    assert abs(math.radians(float(heading.group(1))) - SetHeading().heading_rad) <= \
        SetHeading().tolerance_rad + 0.01
    distance = float(re.search(r'distance driven from the start of the traverse to the end of '
                               r'the goal drive \(ground truth\): ([\d.]+) m', out).group(1))
    planned = sum(abs(leg.v_m_s) * leg.duration_s for leg in TRAVERSE) + FaultDrive().distance_m
    assert 0.9 * planned < distance <= planned * 1.05
    error = float(re.search(r'odometry error after the traverse: [\d.]+ m \(([\d.]+) % of distance',
                            out).group(1))
    assert error < 2.0
    failure = re.search(r'wheel failure: (\w+) on wheel (\w+), injected at [\d.]+ s, detected and '
                        r'isolated ([\d.]+) s later; healthy wheels: (\d)', out)
    assert failure and failure.group(1, 2) == ('stall', 'lm')
    assert float(failure.group(3)) <= 1.0 and failure.group(4) == '5'
    arrival = float(re.search(r'goal drive: arrived, arrival error ([\d.]+) m', out).group(1))
    assert arrival <= 0.25
    assert re.search(r'real-time factor: [\d.]+', out)
    assert out.count('[mission] t=') >= 5, 'progress is shown'
    pano = re.search(r'lander panorama: (\d+) x (\d+) px, 360 deg, taken in \d+ s \(sim\); '
                     r'written to (\S+)', out)
    assert pano, 'the lander panorama is taken first and written'
    assert Path(pano.group(3)).is_file()
    assert re.search(r'telecommand \d+ take_panorama, reports on the ground: accepted, started, '
                     r'completed', out)
    # the last leg: the wheel back in service by the ground's reset, then the rock field
    assert re.search(r'wheel lm back in service: fault cleared and reset by the ground \(\d+ '
                     r'wheel_reset telecommand\(s\)\), [\d.]+ s; healthy wheels: 6', out)
    crossing = re.search(r'rock field crossing: arrived ([\d.]+) m out from .* ([\d.]+) m driven, '
                         r'arrival error ([\d.]+) m \(ground truth\)', out)
    assert crossing, 'the rover crosses the rock field to its goal'
    out_m, driven, error = (float(v) for v in crossing.group(1, 2, 3))
    assert out_m >= 0.9 * Crossing().distance_m and driven >= out_m
    assert error <= 0.05 * out_m, 'within 5 % of the distance (the rock field drift bound)'
    rocks = re.search(r'rocks over 0.20 m within 1.5 m of the path: (\d+); touched by the rover '
                      r'\(ground truth, sampled at 10 Hz\): (.+)$', out, re.M)
    assert rocks and int(rocks.group(1)) >= 1, 'the path passes rocks the rover cannot climb'
    assert rocks.group(2) == 'none', 'and it touches none of them'
    hazard_map = re.search(r'hazard map around the rover: (\d+) cells seen, (\d+) untraversable; '
                           r'written to (\S+)$', out, re.M)
    assert hazard_map and int(hazard_map.group(2)) > 0 and Path(hazard_map.group(3)).is_file()
    assert re.search(r'telecommand \d+ drive_goal \(rock field\), reports on the ground: '
                     r'accepted, started, completed', out)


def test_set_heading_turns_the_short_way_and_stops_within_its_tolerance():
    sh = SetHeading()
    assert sh.rate(sh.heading_rad) is None
    assert sh.rate(sh.heading_rad + 0.9 * sh.tolerance_rad) is None
    # the short way round, across +-pi
    assert sh.rate(sh.heading_rad - 0.5) == pytest.approx(sh.max_rate_rad_s)
    assert sh.rate(sh.heading_rad + 0.5) == pytest.approx(-sh.max_rate_rad_s)
    assert sh.rate(sh.heading_rad + math.pi - 0.1) < 0
    assert sh.rate(sh.heading_rad - math.pi + 0.1) > 0
    # slows near the heading, but not below the rate that still moves the rover
    near = sh.rate(sh.heading_rad - 2 * sh.tolerance_rad)
    assert sh.min_rate_rad_s <= near < sh.max_rate_rad_s


def test_the_crossing_goal_stays_inside_the_terrain():
    cr = Crossing()
    inside = cr.size_m / 2 - cr.edge_margin_m
    # from 12 m out on open ground, the whole distance
    assert cr.distance_to_edge(9.0, 7.5, math.atan2(7.5, 9.0)) == pytest.approx(cr.distance_m)
    # from 17.5 m out due east (a run whose set heading was refused): shortened to the margin
    d = cr.distance_to_edge(17.5, -2.8, math.atan2(-2.8, 17.5))
    assert d == pytest.approx(inside - 17.5, abs=0.5) and 17.5 + d * math.cos(
        math.atan2(-2.8, 17.5)) <= inside + 1e-9
    # already past it: no crossing at all, never backwards
    assert cr.distance_to_edge(21.0, 0.0, 0.0) == 0.0
    with pytest.raises(ValueError):
        cr.distance_to_edge(float('nan'), 0.0, 0.0)
