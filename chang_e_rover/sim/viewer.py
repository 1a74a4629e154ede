"""MuJoCo's own viewer on the simulated world (`chang-e-rover sim --viewer`).

A passive viewer: the simulator steps the world, the window shows it, tracking
the rover, refreshed at most REFRESH_HZ of wall time so that drawing never
paces the simulation. It needs a display (DISPLAY or WAYLAND_DISPLAY); without
one, opening it fails with a ViewerError that says what to do, and the
simulator runs on headless.
"""
from __future__ import annotations

import os
import time

import mujoco

REFRESH_HZ = 30.0
CLOSE_WAIT_S = 5.0          # wall seconds a closing window is given to end its thread
TRACK_DISTANCE_M = 4.0      # the camera's distance from the rover's base
TRACK_ELEVATION_DEG = -25.0


class ViewerError(RuntimeError):
    """The window cannot be opened here."""


class Window:
    """A window that follows the rover; sync() after each step, close() at the end."""

    def __init__(self, model: mujoco.MjModel, data: mujoco.MjData, track_body: int):
        if not (os.environ.get('DISPLAY') or os.environ.get('WAYLAND_DISPLAY')):
            raise ViewerError('no display (DISPLAY is not set): run on a desktop, over '
                              'ssh -X, or under xvfb-run; the simulation runs on without '
                              'the window')
        import mujoco.viewer
        try:
            self.handle = mujoco.viewer.launch_passive(model, data, show_left_ui=False,
                                                       show_right_ui=False)
        except Exception as exc:        # GLFW reports a missing or refused display so
            raise ViewerError(f'the viewer did not open on display '
                              f'{os.environ.get("DISPLAY")!r}: {exc}') from exc
        with self.handle.lock():
            cam = self.handle.cam
            cam.type = mujoco.mjtCamera.mjCAMERA_TRACKING
            cam.trackbodyid = track_body
            cam.distance = TRACK_DISTANCE_M
            cam.elevation = TRACK_ELEVATION_DEG
        self._next = 0.0

    @property
    def open(self) -> bool:
        return self.handle.is_running()

    def sync(self) -> None:
        """Show the world as it is now, unless the last refresh is too recent."""
        now = time.monotonic()
        if now >= self._next and self.handle.is_running():
            self.handle.sync()
            self._next = now + 1.0 / REFRESH_HZ

    def close(self) -> None:
        """Close the window and wait (at most CLOSE_WAIT_S) for the viewer's thread to end,
        so that nothing draws on the display once this returns."""
        self.handle.close()
        end = time.monotonic() + CLOSE_WAIT_S
        while self.handle._sim() is not None and time.monotonic() < end:
            time.sleep(0.01)        # the viewer's thread holds its simulate until it ends
