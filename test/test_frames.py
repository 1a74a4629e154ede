"""The simulated cameras' frames, developed on the render thread (sim.readings.Frames)."""
from __future__ import annotations

import threading
import time

import mujoco
import numpy as np
import pytest

from chang_e_rover.sim.camera import CameraRig, detector_response
from chang_e_rover.sim.readings import Frames, FRAMES_IN_FLIGHT
from chang_e_rover.sim.world import World


@pytest.fixture(scope='module')
def world():
    w = World(overrides={'terrain.name': 'rocks', 'terrain.seed': 3})
    for wheel in ('lf', 'lm', 'lr', 'rf', 'rm', 'rr'):
        w.set_wheel_torque(wheel, 4.0)      # the rover moves between the frames
    return w


def test_a_frame_is_the_world_when_taken_with_the_draws_in_the_order_taken(world):
    """Frames taken while the world steps on are, pixel for pixel, what rendering each
    state on the spot through one generator gives, whatever the render thread's pace."""
    frames = Frames(world, world.params)
    got, states = [], []
    cams = ['hazcam_left', 'hazcam_right'] * 3 + ['pancam']
    for cam in cams:
        state = mujoco.MjData(world.model)
        mujoco.mj_copyData(state, world.model, world.data)
        states.append(state)
        frames.take(cam, lambda raw, cam=cam: got.append((cam, raw)))
        world.step(0.25)
    _wait_for(lambda: len(got) == len(cams), 'every frame delivered')
    frames.close()
    assert [c for c, _ in got] == cams, 'delivered in the order taken'
    rig = CameraRig(world.model, world.cameras)
    rng = np.random.default_rng(int(world.params['terrain.seed']) + 1)
    for (cam, raw), state in zip(got, states):
        expected = detector_response(rig.render(state, cam), world.params['camera.response_rgb'],
                                     float(world.params['camera.noise_dn']), rng)
        assert np.array_equal(raw, expected), f'{cam}: not the world as it was when taken'
    rig.close()
    assert not np.array_equal(got[0][1], got[2][1]), 'the rover moved between the pairs'


def test_takes_wait_once_the_frames_in_flight_are_full(world):
    """The taker is held, not queued without bound, while frames are being developed."""
    frames = Frames(world, world.params)
    gate = threading.Event()
    delivered = []

    def slow(raw):
        gate.wait(30.0)
        delivered.append(raw.shape)

    for _ in range(FRAMES_IN_FLIGHT):
        frames.take('hazcam_left', slow)
    blocked = threading.Thread(target=frames.take, args=('hazcam_left', slow))
    blocked.start()
    blocked.join(1.0)
    assert blocked.is_alive(), f'a take past {FRAMES_IN_FLIGHT} in flight did not wait'
    gate.set()
    blocked.join(30.0)
    _wait_for(lambda: len(delivered) == FRAMES_IN_FLIGHT + 1, 'every frame delivered')
    frames.close()


def test_closing_drops_the_frames_not_yet_developed(world):
    """A rebuilt world or a simulator shutting down wants no frame of the one before."""
    frames = Frames(world, world.params)
    started, gate = threading.Event(), threading.Event()
    delivered = []

    def first(raw):
        started.set()
        gate.wait(30.0)
        delivered.append(1)

    frames.take('hazcam_left', first)
    frames.take('hazcam_left', lambda raw: delivered.append(2))
    assert started.wait(30.0), 'the first frame is being developed'
    closing = threading.Thread(target=frames.close)
    closing.start()
    time.sleep(0.2)
    assert closing.is_alive(), 'close waits for the frame being developed'
    gate.set()
    closing.join(30.0)
    assert delivered == [1], 'the frame being developed is delivered, the one queued is not'


def test_a_failure_on_the_render_thread_is_raised_on_the_takers(world):
    frames = Frames(world, world.params)

    def broken(raw):
        raise ValueError('publisher gone')

    frames.take('hazcam_left', broken)
    with pytest.raises(RuntimeError, match='publisher gone'):
        for _ in range(50):             # the next take after the failure raises it
            frames.take('hazcam_left', lambda raw: None)
            time.sleep(0.2)
    with pytest.raises(RuntimeError, match='publisher gone'):
        frames.close()


def _wait_for(predicate, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f'timed out waiting for {what}'
        time.sleep(0.02)
