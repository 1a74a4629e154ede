"""Test harness: DDS isolation per test session, in-process and subprocess node helpers."""
from __future__ import annotations

import atexit
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from isolation import domain, port_shift, share_with_own_ports  # noqa: E402

# Before rclpy or mujoco load: own DDS domain, this host only, large-data transport
# so that 1 MP images arrive, headless rendering; a parallel worker's own relay ports.
os.environ['ROS_DOMAIN_ID'] = str(domain(0))


def _own_folder(prefix: str) -> Path:
    """A folder of this worker's, removed when the worker exits."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


if port_shift():
    os.environ['CHANG_E_ROVER_SHARE'] = str(share_with_own_ports(
        _own_folder('chang_e_rover_share_'), port_shift()))
os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
os.environ.setdefault('FASTDDS_BUILTIN_TRANSPORTS', 'LARGE_DATA')
os.environ.setdefault('RMW_IMPLEMENTATION', 'rmw_fastrtps_cpp')
os.environ.setdefault('MUJOCO_GL', 'egl')
# Run-time state (relay queue, telecommand key, ground archive) of this worker only, even
# when the shell exports one: two workers on one state folder would share a relay queue.
os.environ['CHANG_E_ROVER_STATE'] = str(_own_folder('chang_e_rover_state_'))
from chang_e_rover import config as _config  # noqa: E402
from chang_e_rover.relay.keys import write_key as _write_key  # noqa: E402
_write_key(_config.state_path(_config.load_params('relay.yaml', 'relay')['key_file']))


# The files that take longest go first, so that the two workers finish together
# (pytest-xdist hands out files in the order collected: --no-loadscope-reorder).
LONGEST_FIRST = ('test_mission.py', 'test_hazard_stack.py', 'test_determinism.py',
                 'test_deployment.py', 'test_lander_camera.py',
                 'test_relay_node.py', 'test_visual_odometry.py')


def pytest_collection_modifyitems(items):
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


@pytest.fixture(autouse=True)
def state_dir(tmp_path_factory, monkeypatch):
    """Each test its own run-time state: a relay queue left over by one test must not be
    downlinked into the next test's archive."""
    from chang_e_rover import config
    from chang_e_rover.relay.keys import write_key
    path = tmp_path_factory.mktemp('state')
    monkeypatch.setenv('CHANG_E_ROVER_STATE', str(path))
    write_key(config.state_path(config.load_params('relay.yaml', 'relay')['key_file']))
    return path


@pytest.fixture
def ros():
    from flown_stack import RosSession
    session = RosSession()
    yield session
    session.close()


class ProcessGroup:
    """Subprocesses started by a test, each in its own process group, all killed at teardown."""

    def __init__(self):
        self.procs: list[subprocess.Popen] = []

    def start(self, args: list[str], **kwargs) -> subprocess.Popen:
        proc = subprocess.Popen(args, start_new_session=True, **kwargs)
        self.procs.append(proc)
        return proc

    def python(self, *args: str, **kwargs) -> subprocess.Popen:
        return self.start([sys.executable, *args], **kwargs)

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGINT)
        deadline = time.monotonic() + 10
        for proc in self.procs:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


@pytest.fixture
def processes():
    group = ProcessGroup()
    yield group
    group.close()
