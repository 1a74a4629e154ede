"""Simulated cameras: MuJoCo renders the scene, the detector model gives it Chang'e 4's red cast.

The detectors of the Chang'e 4 cameras were less sensitive to green and blue
than to red, so raw frames came out red. Each channel here is scaled by its
relative response, read noise is added and the result quantised to 8 bits.
"""
from __future__ import annotations

import mujoco
import numpy as np

from chang_e_rover.sim.model import CAMERA_GROUPS, CameraSpec


def detector_response(scene_rgb: np.ndarray, response_rgb, noise_dn: float,
                      rng: np.random.Generator) -> np.ndarray:
    """Apply per-channel response and read noise to a rendered uint8 RGB image."""
    gain = np.asarray(response_rgb, dtype=np.float32)
    out = scene_rgb.astype(np.float32) * gain
    if noise_dn > 0:
        out += rng.normal(0.0, noise_dn, out.shape).astype(np.float32)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def intrinsics(cam: CameraSpec) -> np.ndarray:
    """Return the 3x3 pinhole matrix K (square pixels, centred principal point)."""
    f = cam.focal_px
    return np.array([[f, 0.0, (cam.width - 1) / 2], [0.0, f, (cam.height - 1) / 2],
                     [0.0, 0.0, 1.0]])


class CameraRig:
    """Renders the model's cameras off-screen (EGL), one renderer per image size."""

    def __init__(self, model: mujoco.MjModel, cameras: dict[str, CameraSpec]):
        self.model = model
        self.cameras = cameras
        self._renderers: dict[tuple[int, int], mujoco.Renderer] = {}
        self._option = mujoco.MjvOption()
        self._option.geomgroup[:] = 0
        for group in CAMERA_GROUPS:
            self._option.geomgroup[group] = 1

    def render(self, data: mujoco.MjData, name: str) -> np.ndarray:
        """Return the true-colour scene seen by a camera, uint8 (height, width, 3)."""
        cam = self.cameras[name]
        key = (cam.height, cam.width)
        if key not in self._renderers:
            self._renderers[key] = mujoco.Renderer(self.model, cam.height, cam.width)
        renderer = self._renderers[key]
        renderer.update_scene(data, camera=name, scene_option=self._option)
        return renderer.render()

    def close(self) -> None:
        for renderer in self._renderers.values():
            renderer.close()
        self._renderers.clear()
