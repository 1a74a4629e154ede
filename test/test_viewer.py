"""--viewer: MuJoCo's window on the simulated world, under Xvfb, shows the rover."""
import atexit
import os
from pathlib import Path
import struct
import subprocess
import time

import numpy as np
import pytest

from chang_e_rover import graph, runner
from chang_e_rover.sim.world import ROVER


@pytest.fixture(scope='session')
def display():
    """A virtual X display of this test session's own (Xvfb, installed by ./dev's set-up).
    It stays up until the process exits: GLFW, once the viewer has opened, keeps its
    connection to the display until its own exit handler closes it, and Xlib ends the
    process on a connection the server broke. Exit handlers run last-registered first,
    and this one is registered before any window opens, so the server goes last."""
    number = 90 + os.getpid() % 100
    server = subprocess.Popen(['Xvfb', f':{number}', '-screen', '0', '1024x768x24', '-nolisten',
                               'tcp'], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    atexit.register(lambda: (server.terminate(), server.wait()))
    socket = Path(f'/tmp/.X11-unix/X{number}')
    end = time.monotonic() + 10
    while not socket.exists() and time.monotonic() < end:
        time.sleep(0.05)
    assert socket.exists(), f'Xvfb :{number} did not start'
    return f':{number}'


def screenshot(display: str) -> np.ndarray:
    """The whole screen as RGB, through xwd (its format: a 25-word big-endian header,
    the window name, a colour map, then the pixels, four bytes each, blue first)."""
    raw = subprocess.run(['xwd', '-root', '-display', display, '-silent'], check=True,
                         capture_output=True).stdout
    header = struct.unpack('>25I', raw[:100])
    size, width, height, line, colours = header[0], header[4], header[5], header[12], header[19]
    assert line == width * 4, 'four bytes a pixel (a 24-bit visual, padded)'
    start = size + colours * 12
    pixels = np.frombuffer(raw[start:start + line * height], np.uint8).reshape(height, line)
    return pixels[:, :width * 4].reshape(height, width, 4)[..., 2::-1].copy()


def sim_node(ros, **params):
    sim, = runner.build_nodes([graph.find('/sim')], {'sim': {'real_time_factor': 0.0,
                                                          'terrain.name': 'flat', **params}},
                              context=ros.context)
    return ros.add(sim)


def test_the_window_opens_and_shows_the_rover(display, ros, monkeypatch):
    monkeypatch.setenv('DISPLAY', display)
    sim = sim_node(ros, viewer=True)
    ros.spin_until(lambda: sim.world.time > 2.0, 60, 'two seconds of sim')
    assert sim.window is not None and sim.window.open

    def settled_shot():
        sim.window.handle.sync()
        time.sleep(0.5)
        return screenshot(display)
    with_rover = settled_shot()
    m = sim.world.model
    rover = [g for g in range(m.ngeom) if m.body(m.geom_bodyid[g]).name.startswith(ROVER)]
    with sim.window.handle.lock():
        m.geom_rgba[rover, 3] = 0.0             # the same view with the rover not drawn
    without = settled_shot()
    window = with_rover.sum(axis=2) > 0
    ys, xs = np.nonzero(window)
    assert window.mean() > 0.1, 'a window is on the screen'
    changed = (np.abs(with_rover.astype(int) - without.astype(int)).sum(axis=2) > 30) & window
    share = changed.sum() / window.sum()
    cy, cx = np.nonzero(changed)
    assert share > 0.05, f'the rover covers {share:.1%} of the window'
    middle = lambda c, lo, hi: lo + (hi - lo) / 4 < c.mean() < hi - (hi - lo) / 4
    assert middle(cx, xs.min(), xs.max()) and middle(cy, ys.min(), ys.max()), \
        'the window tracks the rover: it is in the middle'


def test_without_a_display_the_simulation_runs_on_headless(ros, monkeypatch):
    monkeypatch.delenv('DISPLAY', raising=False)
    monkeypatch.delenv('WAYLAND_DISPLAY', raising=False)
    sim = sim_node(ros, viewer=True)
    assert sim.window is None
    ros.spin_until(lambda: sim.world.time > 0.5, 60, 'the simulation steps on')
