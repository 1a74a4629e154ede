"""The system-ROS path: `colcon build` builds the package and the installed executables run."""
import os
from pathlib import Path
import shutil
import signal
import subprocess
import sys
import time

ROOT = Path(__file__).resolve().parent.parent


def tracked_files() -> list[str]:
    out = subprocess.run(['git', 'ls-files'], cwd=ROOT, capture_output=True, text=True)
    if out.returncode == 0 and out.stdout.strip():
        return out.stdout.split()
    return [str(p.relative_to(ROOT)) for p in ROOT.rglob('*') if p.is_file()
            and '.venv' not in p.parts and '.git' not in p.parts]


def test_colcon_build_installs_a_working_package(tmp_path):
    src = tmp_path / 'src' / 'chang_e_rover'
    for rel in tracked_files():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, src / rel)
    colcon = Path(sys.executable).parent / 'colcon'
    env = {k: v for k, v in os.environ.items() if k not in ('PYTHONPATH', 'CHANG_E_ROVER_SHARE')}
    build = subprocess.run([str(colcon), 'build'], cwd=tmp_path, env=env, capture_output=True,
                           text=True, timeout=300)
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    share = tmp_path / 'install' / 'chang_e_rover' / 'share' / 'chang_e_rover'
    for rel in ('launch/sim_launch.py', 'launch/bringup_launch.py', 'config/sim.yaml',
                'config/rover.yaml', 'config/hardware.yaml', 'urdf/rover.urdf',
                'urdf/lander.urdf', 'package.xml'):
        assert (share / rel).is_file(), rel
    lib = tmp_path / 'install' / 'chang_e_rover' / 'lib' / 'chang_e_rover'
    assert {'sim', 'drive_controller', 'wheel_unit', 'chang-e-rover'} <= {p.name for p in lib.iterdir()}
    setup = tmp_path / 'install' / 'setup.sh'   # colcon-core's POSIX shell hook
    # From the install, with the source tree out of reach: config comes via the ament index.
    probe = subprocess.run(
        ['bash', '-c', f'. {setup} && cd / && python -c "from chang_e_rover import config;'
         ' print(config.share_dir())"'],
        env={**env, 'PATH': f'{Path(sys.executable).parent}:{env["PATH"]}'},
        capture_output=True, text=True, timeout=60)
    assert probe.returncode == 0, probe.stderr
    assert Path(probe.stdout.strip()).resolve() == share.resolve()
    node = subprocess.Popen(['bash', '-c', f'. {setup} && exec {lib}/wheel_unit --wheel=lf'],
                            env=env, start_new_session=True, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        time.sleep(4.0)
        assert node.poll() is None, node.stdout.read()
        os.killpg(node.pid, signal.SIGINT)
        assert node.wait(15) == 0
    finally:
        if node.poll() is None:
            os.killpg(node.pid, signal.SIGKILL)
            node.wait()
