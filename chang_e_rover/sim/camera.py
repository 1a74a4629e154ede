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
    """Apply per-channel response and read noise to a rendered uint8 RGB image.

    The read noise is drawn by OpenCV's generator, seeded from rng for each frame (so a
    run repeats exactly), in single precision; scaling, noise and the rounding to 8 bits
    with saturation are one OpenCV call each. A 1024 x 1024 frame takes about a quarter
    of the time numpy's float generator needs for the same noise.
    """
    import cv2      # noqa: PLC0415 - the simulator's cameras only
    if scene_rgb.ndim != 3 or scene_rgb.shape[2] != 3 or scene_rgb.dtype != np.uint8:
        raise ValueError(f'an H x W x 3 uint8 image expected, got {scene_rgb.shape} '
                         f'{scene_rgb.dtype}')
    gain = tuple(float(g) for g in response_rgb)
    if len(gain) != 3:
        raise ValueError(f'response_rgb needs 3 gains, got {response_rgb!r}')
    scaled = cv2.multiply(np.ascontiguousarray(scene_rgb), (*gain, 0.0), dtype=cv2.CV_32F)
    if noise_dn <= 0:
        return cv2.add(scaled, 0.0, dtype=cv2.CV_8U)
    cv2.setRNGSeed(int(rng.integers(2 ** 31)))
    h, w, _ = scene_rgb.shape
    noise = np.empty((h, w * 3), np.float32)    # one channel: randn's sigma is per channel
    cv2.randn(noise, 0.0, float(noise_dn))
    return cv2.add(scaled, noise.reshape(h, w, 3), dtype=cv2.CV_8U)


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
        self._renderers: dict[tuple, mujoco.Renderer] = {}
        self._option = mujoco.MjvOption()
        self._option.geomgroup[:] = 0
        for group in CAMERA_GROUPS:
            self._option.geomgroup[group] = 1
        self._option.sitegroup[:] = 0      # sites are frames, not things a camera sees

    def render(self, data: mujoco.MjData, name: str) -> np.ndarray:
        """Return the true-colour scene seen by a camera, uint8 (height, width, 3)."""
        cam = self.cameras[name]
        key = (cam.height, cam.width)
        if key not in self._renderers:
            self._renderers[key] = mujoco.Renderer(self.model, cam.height, cam.width)
        renderer = self._renderers[key]
        renderer.update_scene(data, camera=name, scene_option=self._option)
        return renderer.render()

    def segment(self, data: mujoco.MjData, name: str) -> np.ndarray:
        """Return the id of the body seen at each pixel (-1 where none), int32 (height, width).

        The simulator's segmentation: ground truth for tests, not a camera output.
        """
        cam = self.cameras[name]
        key = ('segment', cam.height, cam.width)
        if key not in self._renderers:
            renderer = mujoco.Renderer(self.model, cam.height, cam.width)
            renderer.enable_segmentation_rendering()
            self._renderers[key] = renderer
        renderer = self._renderers[key]
        renderer.update_scene(data, camera=name, scene_option=self._option)
        seg = renderer.render()
        geom = seg[..., 0]
        is_geom = (seg[..., 1] == int(mujoco.mjtObj.mjOBJ_GEOM)) & (geom >= 0)
        body = np.full(geom.shape, -1, dtype=np.int32)
        body[is_geom] = self.model.geom_bodyid[geom[is_geom]]
        return body

    def close(self) -> None:
        for renderer in self._renderers.values():
            renderer.close()
        self._renderers.clear()


def render_view(rig: CameraRig, data: mujoco.MjData, position, azimuth: float, elevation: float,
                width: int, height: int, fovy_deg: float) -> np.ndarray:
    """Render the true-colour scene from any point (a free camera, no roll).

    azimuth and elevation in radians (azimuth anticlockwise from +x, elevation up).
    """
    model = rig.model
    key = (height, width)
    if key not in rig._renderers:
        rig._renderers[key] = mujoco.Renderer(model, height, width)
    renderer = rig._renderers[key]
    cam = mujoco.MjvCamera()
    cam.type = mujoco.mjtCamera.mjCAMERA_FREE
    d = 1.0
    forward = np.array([np.cos(elevation) * np.cos(azimuth), np.cos(elevation) * np.sin(azimuth),
                        np.sin(elevation)])
    cam.lookat[:] = np.asarray(position, dtype=float) + d * forward
    cam.distance = d
    cam.azimuth = np.degrees(azimuth)
    cam.elevation = np.degrees(elevation)
    saved = float(model.vis.global_.fovy)
    model.vis.global_.fovy = fovy_deg
    try:
        renderer.update_scene(data, camera=cam, scene_option=rig._option)
        return renderer.render()
    finally:
        model.vis.global_.fovy = saved


def truth_panorama(rig: CameraRig, data: mujoco.MjData, position, lander_yaw: float,
                   layout, oversample: int = 2, max_px: tuple[int, int] = (2400, 1800)):
    """The scene's true-colour cylindrical panorama seen from position, in the lander's frame.

    Rendered as tiles by free pinhole cameras with no detector (true colour, no noise)
    at oversample times the panorama's angular resolution, each panorama pixel
    taken from the tile where it lies deepest inside, then area-averaged down.
    Returns uint8 (layout.height, layout.width, 3).
    """
    import cv2   # noqa: PLC0415 - only the truth renderer needs it
    f = layout.f * oversample
    w, h = max_px
    hfov, vfov = 2 * np.arctan(w / 2 / f), 2 * np.arctan(h / 2 / f)
    n_az = int(np.ceil(2 * np.pi / (0.8 * hfov)))
    el_top, el_bottom = np.radians(layout.el_top_deg), np.radians(layout.el_bottom_deg)
    n_el = int(np.ceil((el_top - el_bottom) / (0.7 * vfov)))
    el_centres = np.linspace(el_top - 0.45 * vfov, el_bottom + 0.45 * vfov, n_el) if n_el > 1 \
        else np.array([(el_top + el_bottom) / 2])
    height, width = layout.height * oversample, layout.width * oversample
    best = np.full((height, width), -np.inf, np.float32)
    out = np.zeros((height, width, 3), np.float32)
    t = (layout.t_top - (np.arange(height) + 0.5) / f)[:, None]   # tan(elevation) per row
    fovy = np.degrees(vfov)
    half = int(np.ceil(0.6 * hfov * f))                          # columns either side of a tile
    for i in range(n_az):
        az_l = 2 * np.pi * i / n_az                              # in the lander frame
        centre = int(round(-az_l * f)) % width
        cols = np.arange(centre - half, centre + half) % width
        az = -(cols + 0.5) / f
        for el in el_centres:
            # the tile's axes in the lander frame: forward, right, down
            fw = np.array([np.cos(el) * np.cos(az_l), np.cos(el) * np.sin(az_l), np.sin(el)])
            right = np.array([np.sin(az_l), -np.cos(az_l), 0.0])
            down = np.cross(fw, right)
            dx, dy = np.cos(az)[None, :], np.sin(az)[None, :]
            z = (dx * fw[0] + dy * fw[1] + t * fw[2]).astype(np.float32)
            ahead = z > 1e-6
            zs = np.where(ahead, z, np.float32(1.0))
            u = (f * (dx * right[0] + dy * right[1] + t * right[2]) / zs + (w - 1) / 2)
            v = (f * (dx * down[0] + dy * down[1] + t * down[2]) / zs + (h - 1) / 2)
            u, v = u.astype(np.float32), v.astype(np.float32)
            depth = np.minimum(np.minimum(u, w - 1 - u), np.minimum(v, h - 1 - v))
            sub = best[:, cols]
            take = ahead & (depth > sub)
            if not take.any():
                continue
            tile = render_view(rig, data, position, lander_yaw + az_l, el, w, h, fovy)
            sampled = cv2.remap(tile.astype(np.float32), u, v, cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_REFLECT)
            block = out[:, cols]
            block[take] = sampled[take]
            sub[take] = depth[take]
            out[:, cols] = block
            best[:, cols] = sub
    if (best < 0).any():
        raise ValueError(f'truth tiles leave {(best < 0).mean():.2%} of the panorama uncovered')
    small = cv2.resize(out, (layout.width, layout.height), interpolation=cv2.INTER_AREA)
    return np.clip(small + 0.5, 0, 255).astype(np.uint8)


def optical_centre(world, name: str) -> np.ndarray:
    """World position of a camera's optical centre now."""
    return world.data.cam_xpos[world.model.camera(name).id].copy()


def point_and_capture(world, rig: CameraRig, pointings, response_rgb, noise_dn: float,
                      rng: np.random.Generator, settle_rad: float = 1e-3, timeout_s: float = 60.0):
    """Slew the lander's terrain camera through (pan, tilt) pointings and take a raw frame at each.

    Yields (raw uint8 frame, measured pan, measured tilt): the simulator's direct path,
    for benchmarks and tests of the stitcher; the flight path is /lander/camera.
    """
    names = world.lander_joints
    ipan, itilt = names.index('tcam_pan_joint'), names.index('tcam_tilt_joint')
    for pan, tilt in pointings:
        world.set_joint_target('lander', 'tcam_pan_joint', pan)
        world.set_joint_target('lander', 'tcam_tilt_joint', tilt)
        deadline = world.time + timeout_s
        while True:
            world.step(0.05)
            _, q, v, _ = world.joint_state('lander')
            if (abs(q[ipan] - pan) < settle_rad and abs(q[itilt] - tilt) < settle_rad
                    and abs(v[ipan]) < 1e-3 and abs(v[itilt]) < 1e-3):
                break
            if world.time > deadline:
                raise TimeoutError(f'terrain camera did not reach pan {pan:.3f} tilt {tilt:.3f}')
        scene = rig.render(world.data, 'tcam')
        yield detector_response(scene, response_rgb, noise_dn, rng), float(q[ipan]), float(q[itilt])
