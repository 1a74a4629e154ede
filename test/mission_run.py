"""`chang-e-rover mission`, the README's main job unchanged, in a process of its own.

It is isolated from the test session as a second simulation session on the
same machine would be: its own DDS domain, its own run-time state (relay
queue, telecommand key, ground archive) and its own UDP ports for the relay,
the link and the ground (a copy of config/ with every relay port moved up;
nothing else in it changes). See isolation.py.
"""
from __future__ import annotations

import os
from pathlib import Path
import signal
import subprocess
import sys
import time

from isolation import domain as isolation_domain, MISSION_PORT_OFFSET, port_shift, \
    share_with_own_ports

ROOT = Path(__file__).resolve().parent.parent


class BackgroundMission:
    """One run of `python -m chang_e_rover.cli mission`, output to files."""

    def __init__(self):
        self.proc: subprocess.Popen | None = None
        self.folder: Path | None = None
        self.started = 0.0

    def start(self, folder: Path) -> None:
        """Start the mission with its share, state and output under folder (a test's
        tmp_path, which pytest removes in its turn)."""
        self.folder = folder
        share = share_with_own_ports(self.folder / 'share', port_shift() + MISSION_PORT_OFFSET)
        state = self.folder / 'state'
        state.mkdir()
        domain = isolation_domain(10)
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
