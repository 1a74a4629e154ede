"""`chang-e-rover mission`, the README's main job unchanged, in a process of its own.

It is isolated from the test session as a second simulation session on the
same machine would be: its own DDS domain, its own run-time state (relay
queue, telecommand key, ground archive) and its own UDP ports for the relay,
the link and the ground (a copy of config/ with every relay port moved up by
PORT_OFFSET; nothing else in it changes).
"""
from __future__ import annotations

import os
from pathlib import Path
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import yaml

ROOT = Path(__file__).resolve().parent.parent
PORT_OFFSET = 100


def _share_with_own_ports(folder: Path) -> Path:
    """Copy config/, urdf/ and launch/ to folder, the relay file's ports moved by PORT_OFFSET."""
    for name in ('config', 'urdf', 'launch'):
        shutil.copytree(ROOT / name, folder / name)
    relay = folder / 'config' / 'relay.yaml'
    data = yaml.safe_load(relay.read_text())
    moved = 0
    for node in data.values():
        params = node['ros__parameters']
        for key, value in params.items():
            if key == 'port' or key.endswith('_port'):
                params[key] = int(value) + PORT_OFFSET
                moved += 1
    if moved == 0:
        raise RuntimeError(f'{relay}: no port keys found to move')
    relay.write_text(yaml.safe_dump(data, sort_keys=False))
    return folder


class BackgroundMission:
    """One run of `python -m chang_e_rover.cli mission`, output to files."""

    def __init__(self):
        self.proc: subprocess.Popen | None = None
        self.folder: Path | None = None
        self.started = 0.0

    def start(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix='chang_e_rover_mission_'))
        share = _share_with_own_ports(self.folder / 'share')
        state = self.folder / 'state'
        state.mkdir()
        domain = 100 + (int(os.environ.get('ROS_DOMAIN_ID', '100')) - 100 + 50) % 100
        env = {**os.environ, 'PYTHONPATH': str(ROOT), 'CHANG_E_ROVER_SHARE': str(share),
               'CHANG_E_ROVER_STATE': str(state), 'ROS_DOMAIN_ID': str(domain)}
        self._out = open(self.folder / 'stdout.txt', 'w')
        self._err = open(self.folder / 'stderr.txt', 'w')
        self.proc = subprocess.Popen([sys.executable, '-m', 'chang_e_rover.cli', 'mission'],
                                     stdout=self._out, stderr=self._err, env=env,
                                     start_new_session=True)
        self.started = time.monotonic()

    def result(self, timeout_s: float) -> tuple[int | None, str, str, float]:
        """Wait until timeout_s wall seconds after the start; return (exit code or None if
        still running, stdout, stderr, wall seconds it ran)."""
        assert self.proc is not None, 'the mission was not started'
        try:
            self.proc.wait(max(0.0, self.started + timeout_s - time.monotonic()))
        except subprocess.TimeoutExpired:
            self.stop()
            code = None
        else:
            code = self.proc.returncode
        wall = time.monotonic() - self.started
        for f in (self._out, self._err):
            f.flush()
        return (code, (self.folder / 'stdout.txt').read_text(),
                (self.folder / 'stderr.txt').read_text(), wall)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


MISSION = BackgroundMission()
