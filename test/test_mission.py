"""The main job, `chang-e-rover mission`, runs to its summary."""
import os
from pathlib import Path
import re
import subprocess
import sys

from chang_e_rover.mission.plan import FaultDrive, TRAVERSE

ROOT = Path(__file__).resolve().parent.parent


def test_mission_drives_the_traverse_and_reports():
    result = subprocess.run([sys.executable, '-m', 'chang_e_rover.cli', 'mission'],
                            capture_output=True, text=True, timeout=1500,
                            env={**os.environ, 'PYTHONPATH': str(ROOT)})
    out = result.stdout
    assert result.returncode == 0, out[-2000:] + result.stderr[-2000:]
    assert '=== mission summary ===' in out
    distance = float(re.search(r'distance driven \(ground truth\): ([\d.]+) m', out).group(1))
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
