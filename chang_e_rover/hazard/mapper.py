"""The hazard cameras' flight core: stereo pairs and the rover's pose in, a height map out.

Per hazcam stereo pair: colour correction (the detectors' response measured on the
calibration target in the left camera's view over the first frames, imaging/caltarget.py),
semi-global matching, triangulation, the rover's own body, front wheels and
calibration target filtered out, transformation to odom (camera pose from the
URDF, rover pose from odometry with roll and pitch as the drive estimates them and height
integrated from the pitch), and the height-map update. The navcam pairs on the
mast (hazard/mast.py) go into the same map, posed at the mast's angles. `window` gives the
GESTALT cost of the square around the rover. Plain Python, numpy and OpenCV:
/rover/hazard_camera wraps it, and the flight-core harness drives it without
ROS.
"""
from __future__ import annotations

import math
import time

import numpy as np

from chang_e_rover import config
from chang_e_rover.hazard.mast import MastRig
from chang_e_rover.hazard.stereo import CameraModel, seen_through, StereoParams, StereoPipeline
from chang_e_rover.hazard.traversability import analyse, HeightMap, Limits
from chang_e_rover.hazard.view_steps import ViewSteps
from chang_e_rover.imaging.caltarget import calibrate, load_target
from chang_e_rover.imaging.colour import correct
from chang_e_rover.robot_description import load_urdf, rover_geometry, rpy_matrix

MOVED_M = 0.001     # odometry travel between two frames below which the rover stood


def limits_from(p: dict, robot=None) -> Limits:
    """The traversability limits of a hazard_camera parameter set, for the wheels of robot
    (the rover's URDF when None)."""
    robot = robot if robot is not None else load_urdf(config.urdf_path('rover.urdf'))
    return Limits(p['max_slope_deg'], p['max_step_m'], p['max_roughness_m'],
                  p['slope_margin_deg'], p['step_margin_m'], p['patch_m'],
                  p['step_window_m'], p['min_coverage'], rover_geometry(robot).wheel_radius)


class HazardMapper:
    """Height map in odom from hazcam and navcam pairs; p is the hazard_camera section of
    rover.yaml."""

    def __init__(self, p: dict, robot):
        self.p = p
        self.limits = limits_from(p, robot)
        self.stereo_params = StereoParams(**config.section(p, 'stereo'))
        self.base_from_cam = robot.transform_to_root('hazcam_left_optical_frame')
        self.eyes = [robot.transform_to_root(f'hazcam_{s}_optical_frame')[:3, 3]
                     for s in ('left', 'right')]
        # The front wheels are in view: a box around each, at its steering angle (until
        # one is known, any angle), with a margin. Lines of sight through them are
        # mismatches. The box stops at the wheel's top with no margin above: the cameras
        # sit just over it, and far lines of sight pass there.
        self.geo = rover_geometry(robot)
        # Points in this box about base_link are the rover itself: the wheels' outline grown
        # by the margins.
        self.own_box = self.geo.outline(p['self_filter.end_margin_m'],
                                        p['self_filter.side_margin_m'])
        self.wheel_centres = {
            w: robot.transform_to_root(robot.joints[f'wheel_{w}_joint'].child)[:3, 3]
            for w in ('lf', 'rf')}
        self.steer: dict[str, float] = {}
        # The calibration target (urdf/rover.urdf caltarget): where it lies in the left
        # camera's frame, and a box around its plate whose lines of sight are mismatches
        # (one camera sees the plate, the other the ground behind it).
        self.target = load_target()
        base_from_target = robot.transform_to_root('caltarget')
        self.cam_from_target = np.linalg.inv(self.base_from_cam) @ base_from_target
        plate = robot.links['caltarget'].visuals[0]
        half = np.asarray(plate.size) / 2
        corners = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1)
                            for sz in (-1, 1)]) * half + np.asarray(plate.xyz)
        corners = corners @ base_from_target[:3, :3].T + base_from_target[:3, 3]
        margin = p['self_filter.margin_m']
        self.target_box = np.array([corners.min(axis=0) - margin, corners.max(axis=0) + margin])
        self.map = HeightMap(p['map.size_m'], p['map.resolution_m'], int(p['map.min_points']))
        self.views = ViewSteps.from_params(p)     # which pairs are mapped (each new view)
        self.mast = MastRig(p, robot, self.stereo_params)    # the navcam pair (hazard/mast.py)
        self.pipeline: StereoPipeline | None = None
        self.left_camera: CameraModel | None = None
        self.response: np.ndarray | None = None
        self.estimates: list[np.ndarray] = []
        self.pose: tuple[float, float, float] | None = None     # x, y, yaw from odometry
        self.z = 0.0            # height integrated from the odometry's travel and pitch
        self.z_visual = 0.0     # what visual odometry's steps corrected that height by
        self.visual_state: tuple | None = None  # (z, roll, pitch, yaw, x, y) at the last frame
        self.roll = self.pitch = 0.0
        self.processed = 0
        self.ms_per_pair = math.nan

    # ---- inputs --------------------------------------------------------------------------
    def cameras(self, left: CameraModel, right: CameraModel) -> None:
        """Set the pair's calibration (the first one given stands)."""
        if self.pipeline is None:
            self.pipeline = StereoPipeline(left, right, self.stereo_params)
            self.left_camera = left

    def steering(self, wheel: str, angle: float) -> None:
        if wheel in self.wheel_centres and math.isfinite(angle):
            self.steer[wheel] = float(angle)

    def odometry(self, x: float, y: float, yaw: float) -> None:
        if self.pose is not None:
            # Height from the pitch: the odometry is planar.
            forward = (x - self.pose[0]) * math.cos(yaw) + (y - self.pose[1]) * math.sin(yaw)
            self.z -= forward * math.tan(self.pitch)
        self.pose = (x, y, yaw)

    def attitude(self, roll: float, pitch: float) -> None:
        if math.isfinite(roll) and math.isfinite(pitch):
            self.roll, self.pitch = roll, pitch

    @property
    def height(self) -> float:
        """The rover's height in odom: integrated, with visual odometry's corrections."""
        return self.z + self.z_visual

    def visual_frame(self, translation: np.ndarray | None) -> None:
        """Take the vertical part of a visual odometry step for the height.

        Called at each frame visual odometry processed; translation is the frame's
        base_link in the previous frame's, None when the two did not link.
        Integrating travel by the pitch is right only where the rover moves along its
        own x axis: down the lander's ramp the body pitches 33 deg on a path 29 deg
        steep, and the height drifts by decimetres. The step's own vertical replaces
        what the pitch integrated over it, if the odometry moved more than MOVED_M
        between the frames: the drive takes no step over which no wheel was driven
        (on the deck the unfolding ramp before the cameras reads as the rover moving).
        """
        x, y, yaw = self.pose if self.pose is not None else (0.0, 0.0, 0.0)
        before, self.visual_state = self.visual_state, (self.z, self.roll, self.pitch, yaw, x, y)
        if translation is None or before is None:
            return
        z0, roll, pitch, yaw0, x0, y0 = before
        if math.hypot(x - x0, y - y0) <= MOVED_M:
            return
        dz = float((rpy_matrix((roll, pitch, yaw0)) @ np.asarray(translation, float))[2])
        if math.isfinite(dz):
            self.z_visual += dz - (self.z - z0)

    def ready(self) -> bool:
        return self.pipeline is not None and self.pose is not None

    def wants(self, t_s: float) -> bool:
        """Whether the pair of t_s, at the pose given last, is to be mapped: every pair while
        the colour response is measured, then each new view (view_steps.py)."""
        return self.response is None or self.views.take(t_s, *self.pose)

    def wants_navcam(self, t_s: float, pan: float) -> bool:
        """Whether the navcam pair of t_s, at the pose given last and the mast's pan, is to
        be mapped: once the colour response is measured, each new view of the navcams."""
        if self.response is None:
            return False
        x, y, yaw = self.pose
        return self.mast.views.take(t_s, x, y, yaw + pan)

    def wheel_boxes(self) -> np.ndarray:
        geo, margin = self.geo, self.p['self_filter.margin_m']
        boxes = []
        for w, c in self.wheel_centres.items():
            a = self.steer.get(w)
            if a is None:   # any steering angle
                half_x = half_y = math.hypot(geo.wheel_radius, geo.wheel_width / 2)
            else:
                half_x = (abs(math.cos(a)) * geo.wheel_radius
                          + abs(math.sin(a)) * geo.wheel_width / 2)
                half_y = (abs(math.sin(a)) * geo.wheel_radius
                          + abs(math.cos(a)) * geo.wheel_width / 2)
            lo = c - np.array([half_x + margin, half_y + margin, geo.wheel_radius + margin])
            hi = c + np.array([half_x + margin, half_y + margin, geo.wheel_radius])
            boxes.append((lo, hi))
        return np.array(boxes)

    # ---- the pipeline --------------------------------------------------------------------
    def process(self, left: np.ndarray, right: np.ndarray) -> int:
        """Map one raw RGB pair; return the number of points added.

        Raises ValueError (or colour.CalibrationError) for images that cannot be used,
        RuntimeError before the calibration and the pose are known.
        """
        if not self.ready():
            raise RuntimeError('hazard mapper needs camera calibration and a pose first')
        t0 = time.perf_counter()
        if self.response is None:
            cam = self.left_camera
            self.estimates.append(calibrate(left, self.target, self.cam_from_target, cam.K,
                                            cam.D).response)
            if len(self.estimates) >= self.p['colour.frames']:
                self.response = np.median(self.estimates, axis=0)
        response = self.response if self.response is not None else self.estimates[-1]
        left, right = correct(left, response), correct(right, response)
        pts, weights = self.pipeline.pair_points(left, right)
        boxes = np.concatenate([self.wheel_boxes(), self.target_box[None]])
        return self._add(pts, weights, self.base_from_cam, self.eyes, boxes, t0)

    def process_navcam(self, left: np.ndarray, right: np.ndarray, pan: float,
                       tilt: float) -> int:
        """Map one raw RGB navcam pair taken at the mast's (pan, tilt), rad; return the
        number of points added. The navcams' detectors are the hazcams' (one camera design,
        two lenses), so the response measured on the target corrects their colour too.

        Raises as process does, and RuntimeError before the response is measured.
        """
        rig = self.mast
        if rig.pipeline is None or self.pose is None or self.response is None:
            raise RuntimeError('navcam pairs need their calibration, a pose and the '
                               'detector response first')
        t0 = time.perf_counter()
        left, right = correct(left, self.response), correct(right, self.response)
        pts, weights = rig.pipeline.pair_points(left, right)
        return self._add(pts, weights, rig.base_from_cam(pan, tilt), rig.eyes(pan, tilt),
                         rig.boxes, t0)

    def _add(self, pts: np.ndarray, weights: np.ndarray, base_from_cam: np.ndarray,
             eyes, boxes: np.ndarray, t0: float) -> int:
        """Points in a left optical frame into the map: the rover's own dropped (inside its
        outline, or seen through one of boxes from one of eyes), the rest in odom."""
        base = pts @ base_from_cam[:3, :3].T + base_from_cam[:3, 3]
        own = ((np.abs(base[:, 0]) < self.own_box[0]) & (np.abs(base[:, 1]) < self.own_box[1]))
        for eye in eyes:
            own |= seen_through(base, eye, boxes)
        base, weights = base[~own], weights[~own]
        x, y, yaw = self.pose
        rot = rpy_matrix((self.roll, self.pitch, yaw))
        odom = base @ rot.T + np.array([x, y, self.height])
        added = self.map.add(odom, weights)
        self.processed += 1
        self.ms_per_pair = 1e3 * (time.perf_counter() - t0)
        return added

    def window(self, x: float, y: float) -> tuple[np.ndarray, float, float] | None:
        """Return (cost, x0, y0) of the published square around (x, y), or None off the map.

        cost is int8 (-1 unknown, 0..99, 100 untraversable), rows along y; (x0, y0)
        is the odom position of its first cell's corner.
        """
        m = self.map
        half = int(round(self.p['map.publish_size_m'] / m.resolution / 2))
        cx = int(np.floor((x - m.origin) / m.resolution))
        cy = int(np.floor((y - m.origin) / m.resolution))
        x0, y0 = max(0, cx - half), max(0, cy - half)
        x1, y1 = min(m.n, cx + half), min(m.n, cy + half)
        if x1 <= x0 or y1 <= y0:
            return None
        cost = analyse(m.heights()[y0:y1, x0:x1], m.resolution, self.limits).cost
        return cost, m.origin + x0 * m.resolution, m.origin + y0 * m.resolution
