"""How the suite's parallel workers keep out of each other's way.

The suite runs on pytest-xdist workers (`-n`, README). Each worker is isolated as a
second simulation session on the same machine would be:

- DDS domains: worker k owns 100 + 50 k .. 149 + 50 k. Inside that block, offset 0 is
  the test session's own domain, 10 the mission's, 20 and 30 the determinism runs';
  each adds the process id modulo 10, so that two suites on one machine rarely meet.
- UDP ports: worker k's relay, link and ground ports are config/'s moved up by
  PORT_STEP k (a copy of config/, urdf/ and launch/ through CHANG_E_ROVER_SHARE).
  The mission moves its own by MISSION_PORT_OFFSET more; tests that bind fixed ports
  of their own add port_shift(). All stay below 7400, where DDS domains' ports begin
  (config.DDS_FIRST_PORT): a relay port inside a domain's range would hear its RTPS
  traffic.
"""
from __future__ import annotations

import os
from pathlib import Path

from chang_e_rover import config

PORT_STEP = 250          # a worker uses up to 243 ports above its shift
MISSION_PORT_OFFSET = 100
# The share the suite was started with (CHANG_E_ROVER_SHARE from the shell, else the
# repository's), read before conftest points the variable at the worker's own copy.
STARTED_SHARE = config.share_dir()


def worker_index() -> int:
    """0 without xdist, else the N of the worker's name gwN."""
    name = os.environ.get('PYTEST_XDIST_WORKER', 'gw0')
    return int(name[2:]) if name.startswith('gw') and name[2:].isdigit() else 0


def domain(offset: int) -> int:
    """A DDS domain id of this worker's block (offset 0, 10, 20 or 30)."""
    if offset not in (0, 10, 20, 30):
        raise ValueError(f'domain offset {offset}: expected 0, 10, 20 or 30')
    return 100 + 50 * worker_index() + offset + os.getpid() % 10


def port_shift() -> int:
    """How far this worker's UDP ports lie above config/'s (all stay below DDS's 7400)."""
    return PORT_STEP * worker_index()


def share_with_own_ports(folder: Path, shift: int) -> Path:
    """Copy the started share's config/, urdf/ and launch/ to folder, relay ports moved by
    shift."""
    return config.copy_share(folder, shift, STARTED_SHARE)
