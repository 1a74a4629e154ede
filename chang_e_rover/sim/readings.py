"""What the simulated drivers read out, as plain numbers and arrays: the motor drivers'
readings, the cameras' frames and calibration.

Pure, no rclpy: sim_node.py puts these into the messages a real driver would send.
"""
from __future__ import annotations

from dataclasses import dataclass
import queue
import threading
from typing import Any, Callable

import mujoco
import numpy as np

from chang_e_rover.sim.camera import CameraRig, detector_response, intrinsics
from chang_e_rover.sim.model import CameraSpec
from chang_e_rover.sim.schedule import RateSchedule, SAME_INSTANT_S
from chang_e_rover.sim.world import CAMERAS, World


@dataclass
class MotorReadings:
    """One reading of every motor driver, in WHEEL_IDS order."""
    encoder_rad: np.ndarray
    speed_rad_s: np.ndarray     # the driver's commutation (Hall) speed, not the encoder's
    torque_nm: np.ndarray       # from the winding current
    temperature_c: np.ndarray


class WheelReadout:
    """The motor drivers' readings of one world, a control period apart: the speed is the
    Hall count's change over the period, independent of the encoder (a fault of one does
    not hide in the other)."""

    def __init__(self, world: World):
        self._prev_hall = world.wheel_readings()['hall_count']

    def read(self, world: World, period_s: float) -> MotorReadings:
        r = world.wheel_readings()
        speed = world.motors.hall_speed(r['hall_count'], self._prev_hall, period_s)
        self._prev_hall = r['hall_count']
        torque = r['current_a'] * world.motors.p.torque_per_amp
        return MotorReadings(r['encoder_rad'], speed, torque, r['temperature_c'])


# Frames rendered but not yet delivered, at most; a take past them waits for the oldest.
FRAMES_IN_FLIGHT = 4


class Frames:
    """The cameras of one world as their drivers read out: when each camera's rate has a
    frame due, and a frame as its detector gives it (the rendered scene through the
    detector's response and noise, from one seeded generator: the same run, the same
    pixels).

    A frame is taken at once and developed on a thread of its own (take): the world's
    state is copied (mj_copyData, 0.02 ms), and the render, which releases the GIL, and
    the detector model run while the physics steps on. Frames are developed and
    delivered in the order taken, so the generator's draws, and the pixels, are the same
    as if each were made on the spot. The render thread owns its renderers (an EGL
    context is current in one thread).
    """

    def __init__(self, world: World, params: dict[str, Any]):
        self.world, self.params = world, params
        self.rng = np.random.default_rng(int(params['terrain.seed']) + 1)
        self._rates = RateSchedule()
        self._spare: queue.SimpleQueue[mujoco.MjData] = queue.SimpleQueue()
        for _ in range(FRAMES_IN_FLIGHT):
            self._spare.put(mujoco.MjData(world.model))
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._error: BaseException | None = None
        self._closing = False
        self._thread = threading.Thread(target=self._develop, name='camera-frames', daemon=True)
        self._thread.start()

    def due(self, cam: str, t: float) -> bool:
        """cam's rate (camera.<key>.rate_hz; 0: on capture only) has a frame due at t, the
        first at camera.<key>.phase_s where the camera has one."""
        key = CAMERAS[cam][2]
        rate = float(self.params[f'camera.{key}.rate_hz'])
        phase = float(self.params.get(f'camera.{key}.phase_s', 0.0))
        return rate > 0 and t + SAME_INSTANT_S >= phase and self._rates.due(cam, t, rate)

    def take(self, cam: str, deliver: Callable[[np.ndarray], None]) -> None:
        """Take cam's frame of the world now; deliver(frame), H x W x 3 uint8 RGB, is called
        on the render thread once it is developed. Raises RuntimeError if developing an
        earlier frame failed."""
        _raise(self._error)
        state = self._spare.get()       # waits while FRAMES_IN_FLIGHT are being developed
        mujoco.mj_copyData(state, self.world.model, self.world.data)
        self._jobs.put((cam, state, deliver))

    def _develop(self) -> None:
        rig = CameraRig(self.world.model, self.world.cameras)
        response = self.params['camera.response_rgb']
        noise = float(self.params['camera.noise_dn'])
        try:
            while (job := self._jobs.get()) is not None:
                cam, state, deliver = job
                try:
                    if self._error is None and not self._closing:
                        deliver(detector_response(rig.render(state, cam), response, noise,
                                                  self.rng))
                except BaseException as exc:  # noqa: BLE001 - raised on the taker's thread
                    self._error = exc
                finally:
                    self._spare.put(state)
        finally:
            rig.close()

    def close(self) -> None:
        """Stop the render thread. Frames not yet developed are dropped: a rebuilt world
        or a simulator shutting down wants none of them. Raises RuntimeError if developing
        one failed before."""
        failed, self._closing = self._error, True
        self._jobs.put(None)
        self._thread.join()
        _raise(failed)


def _raise(failure: BaseException | None) -> None:
    if failure is not None:
        raise RuntimeError(f'developing a camera frame failed: {failure!r}') from failure


def camera_matrices(spec: CameraSpec) -> tuple[list[float], list[float], list[float]]:
    """K, R and P of a camera, row-major as ROS CameraInfo takes them: no rectification,
    and the right stereo camera's P carries Tx = -fx * baseline (the ROS convention)."""
    k = intrinsics(spec)
    tx = np.array([[-k[0, 0] * spec.stereo_baseline_m], [0.0], [0.0]])
    return k.ravel().tolist(), np.eye(3).ravel().tolist(), np.hstack([k, tx]).ravel().tolist()
