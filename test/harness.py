"""The rover's flight cores on the simulator, wired as the nodes wire them, without DDS.

Fast enough to sweep every fault on every wheel: the six WheelUnit cores and
the DriveCore exchange the same values the ROS nodes exchange (motor readings,
torque demands, diagnostics heartbeats, setpoints, corner angles, gyro), once
per control period. The ROS nodes themselves are tested in test_stack.py.
"""
from __future__ import annotations

import math
import os

import mujoco
import numpy as np

from chang_e_rover import config
from chang_e_rover.drive.controller import DriveCore
from chang_e_rover.drive.wheel_health import make_wheel_unit
from chang_e_rover.hazard.gate import Grid
from chang_e_rover.hazard.mapper import HazardMapper
from chang_e_rover.hazard.stereo import CameraModel
from chang_e_rover.robot_description import load_urdf, rover_geometry, STEERED_IDS, WHEEL_IDS
from chang_e_rover.sim.world import World

GEOMETRY = rover_geometry(load_urdf(config.urdf_path('rover.urdf')))
CONTROLLER = config.load_params('rover.yaml', 'drive_controller')
WHEEL = config.load_params('rover.yaml', 'wheel_unit')
HAZARD = config.load_params('rover.yaml', 'hazard_camera')


def pair_models(world: World, name: str) -> list[CameraModel]:
    """A stereo pair's calibration (name: hazcam or navcam) as the simulator's camera_info
    gives it (sim/readings.py camera_matrices: ideal pinholes, Tx on the right)."""
    from chang_e_rover.sim.readings import camera_matrices
    models = []
    for side in ('left', 'right'):
        spec = world.cameras[f'{name}_{side}']
        k, r, p = (np.reshape(m, shape) for m, shape in
                   zip(camera_matrices(spec), ((3, 3), (3, 3), (3, 4))))
        models.append(CameraModel(spec.width, spec.height, k, np.zeros(5), r, p))
    return models


class Hazcams:
    """The hazcam pair rendered at its configured rate and mapped by the HazardMapper core,
    and the mast's navcam pair at theirs while the drive asks for it (DriveOutput.navcams).

    The map goes to the DriveCore as soon as a pair is mapped (the ROS stack adds the
    pipeline's latency). Rendering needs MUJOCO_GL (egl) like the simulator node.
    """

    def __init__(self, world: World):
        from chang_e_rover.sim.camera import CameraRig
        os.environ.setdefault('MUJOCO_GL', 'egl')
        self.world = world
        self.rig = CameraRig(world.model, world.cameras)
        self.rng = np.random.default_rng(0)
        self.period = 1.0 / float(world.params['camera.hazcam.rate_hz'])
        self.due = 0.0
        self.mapper = HazardMapper(HAZARD, load_urdf(config.urdf_path('rover.urdf')))
        hazcams = pair_models(world, 'hazcam')
        self.mapper.cameras(*hazcams)
        self.mapper.mast.cameras(*pair_models(world, 'navcam'))
        self.K, self.size = hazcams[0].K, (hazcams[0].width, hazcams[0].height)
        self.navcam_due = float(world.params['camera.navcam.phase_s'])
        self.navcam_period = 1.0 / float(world.params['camera.navcam.rate_hz'])
        self.mast: list[tuple[float, float]] = []     # the mast's angles, each control period
        self.navcam_pairs = 0         # navcam pairs mapped
        self.views: list[tuple[np.ndarray, np.ndarray]] = []   # true left camera poses, every pair

    def step(self, core: DriveCore, roll: float, pitch: float) -> list[np.ndarray] | None:
        """Take a pair when one is due, and map it if it is a new view (hazard/view_steps.py);
        return the raw pair (None when none was due)."""
        from chang_e_rover.sim.camera import detector_response
        w = self.world
        if w.time + 1e-9 < self.due:
            return None
        self.due = w.time + self.period
        for name, angle in core.steer_measured.items():
            self.mapper.steering(name, angle)
        o = core.odometry
        self.mapper.odometry(o.x, o.y, o.yaw)
        self.mapper.attitude(roll, pitch)
        raw = [detector_response(self.rig.render(w.data, c), w.params['camera.response_rgb'],
                                 float(w.params['camera.noise_dn']), self.rng)
               for c in ('hazcam_left', 'hazcam_right')]
        cid = mujoco.mj_name2id(w.model, mujoco.mjtObj.mjOBJ_CAMERA, 'hazcam_left')
        self.views.append((w.data.cam_xpos[cid].copy(), w.data.cam_xmat[cid].reshape(3, 3).copy()))
        if not self.mapper.wants(w.time):
            return raw
        self.mapper.process(*raw)
        window = self.mapper.window(o.x, o.y)
        if window is not None:
            cost, x0, y0 = window
            core.hazard(Grid(cost, x0, y0, self.mapper.map.resolution), w.time)
        return raw

    def navcams(self, core: DriveCore, on: bool) -> None:
        """Take a navcam pair when one is due and the drive asks, and map it at the mast's
        angles a control period before (the joint states before the pair), if the mast stood
        still since the period before that and the view is new."""
        from chang_e_rover.sim.camera import detector_response
        from chang_e_rover.hazard.mast import mast_still
        w = self.world
        due = w.time + 1e-9 >= self.navcam_due
        if due:
            self.navcam_due = w.time + self.navcam_period
        if not on:
            self.mast = []
            return
        names, q, _, _ = w.joint_state('rover')
        angles = dict(zip(names, q))
        self.mast = (self.mast + [(float(angles['pancam_pan_joint']),
                                   float(angles['pancam_tilt_joint']))])[-3:]
        if not due or len(self.mast) < 3 or not mast_still(*self.mast[:2]):
            return
        o = core.odometry
        self.mapper.odometry(o.x, o.y, o.yaw)
        self.mapper.attitude(core.roll, core.pitch)
        pan, tilt = self.mast[1]
        if self.mapper.response is None or not self.mapper.wants_navcam(w.time, pan):
            return
        raw = [detector_response(self.rig.render(w.data, c), w.params['camera.response_rgb'],
                                 float(w.params['camera.noise_dn']), self.rng)
               for c in ('navcam_left', 'navcam_right')]
        self.mapper.process_navcam(*raw, pan, tilt)
        self.navcam_pairs += 1
        window = self.mapper.window(o.x, o.y)
        if window is not None:
            cost, x0, y0 = window
            core.hazard(Grid(cost, x0, y0, self.mapper.map.resolution), w.time)

    def close(self) -> None:
        self.rig.close()


class VisualOdometer:
    """Visual odometry on the hazcam pairs, its steps given to the DriveCore as
    /rover/hazard_camera publishes them on rover/visual_odom and the controller takes them.

    Uses the Hazcams' pairs when they run, else renders its own at their rate.
    """

    def __init__(self, world: World):
        from chang_e_rover.hazard.visual_odometry import vo_params, VisualOdometry
        from chang_e_rover.sim.camera import CameraRig, intrinsics
        os.environ.setdefault('MUJOCO_GL', 'egl')
        self.world = world
        self.rig: 'CameraRig | None' = None
        self.CameraRig = CameraRig
        spec = world.cameras['hazcam_left']
        params = vo_params(HAZARD)
        self.vo = VisualOdometry(intrinsics(spec), world.cameras['hazcam_right'].stereo_baseline_m,
                                 load_urdf(config.urdf_path('rover.urdf')).transform_to_root(
                                     'hazcam_left_optical_frame'), params)
        self.rng = np.random.default_rng(1)
        self.period = 1.0 / float(world.params['camera.hazcam.rate_hz'])
        self.due = 0.0

    def step(self, core: DriveCore, raw: list[np.ndarray] | None) -> None:
        import cv2
        from chang_e_rover.sim.camera import detector_response
        w = self.world
        if raw is None:
            if w.time + 1e-9 < self.due:
                return
            self.due = w.time + self.period
            if self.rig is None:
                self.rig = self.CameraRig(w.model, w.cameras)
            raw = [detector_response(self.rig.render(w.data, c), w.params['camera.response_rgb'],
                                     float(w.params['camera.noise_dn']), self.rng)
                   for c in ('hazcam_left', 'hazcam_right')]
        grey = [cv2.cvtColor(img, cv2.COLOR_RGB2GRAY) for img in raw]
        motion = self.vo.process(w.time, *grey)
        if motion is not None:
            core.visual_motion(motion.t0, motion.t1, motion.translation)

    def close(self) -> None:
        if self.rig is not None:
            self.rig.close()


class TruthMap:
    """Perfect perception: the hazard map the DriveCore would get from flawless cameras.

    The GESTALT cost of the simulator's true heightfield with its rocks (Terrain.true_height)
    over the whole terrain, every cell known, in odom (the rover starts at the origin facing
    +x, so odom is the terrain frame until odometry drifts), given to the DriveCore at the
    hazcams' rate as the same window the hazard node publishes. It separates what the drive
    does with a map (arc voting, the gate, derating) from how well stereo builds one
    (the flown stack's rock field in test_hazard_stack.py, and bench_hazard_recall.py
    with this harness's hazcam path, measure that).
    """

    def __init__(self, world: World):
        from chang_e_rover.hazard.mapper import limits_from
        from chang_e_rover.hazard.traversability import analyse
        t = world.terrain
        res = float(HAZARD['map.resolution_m'])
        n = int(round(t.size_m / res))
        self.origin = -n * res / 2.0
        c = self.origin + (np.arange(n) + 0.5) * res
        X, Y = np.meshgrid(c, c)
        z = t.ground_height(X, Y)
        for rx, ry, d, base in t.rocks:          # each rock on its own patch of the grid
            j0, j1 = (int(np.clip((v - self.origin) / res, 0, n)) for v in (rx - d / 2, rx + d / 2))
            i0, i1 = (int(np.clip((v - self.origin) / res, 0, n)) for v in (ry - d / 2, ry + d / 2))
            sub = (slice(i0, i1 + 1), slice(j0, j1 + 1))
            z[sub] = _rock_top(X[sub], Y[sub], rx, ry, d, base, z[sub])
        self.cost = analyse(z, res, limits_from(HAZARD)).cost
        self.resolution = res
        self.half = int(round(HAZARD['map.publish_size_m'] / res / 2))
        self.period = 1.0 / float(world.params['camera.hazcam.rate_hz'])
        self.world = world
        self.due = 0.0

    def step(self, core: DriveCore) -> None:
        if self.world.time + 1e-9 < self.due:
            return
        self.due = self.world.time + self.period
        o, n, res = core.odometry, self.cost.shape[0], self.resolution
        cx = int(np.floor((o.x - self.origin) / res))
        cy = int(np.floor((o.y - self.origin) / res))
        x0, y0 = max(0, cx - self.half), max(0, cy - self.half)
        x1, y1 = min(n, cx + self.half), min(n, cy + self.half)
        if x1 > x0 and y1 > y0:
            core.hazard(Grid(self.cost[y0:y1, x0:x1].copy(), self.origin + x0 * res,
                             self.origin + y0 * res, res), self.world.time)


def _rock_top(X, Y, rx, ry, d, base, ground):
    from chang_e_rover.sim.terrain import ROCK_HEIGHT_RATIO
    r2 = ((X - rx) ** 2 + (Y - ry) ** 2) / (d / 2) ** 2
    top = base + ROCK_HEIGHT_RATIO * d * np.sqrt(np.clip(1.0 - r2, 0.0, None))
    return np.where(r2 < 1.0, np.maximum(ground, top), ground)


class Rover:
    def __init__(self, terrain: str = 'flat', hazcams: bool = False, truth_map: bool = False,
                 odom_from_truth: bool = False, visual_odometry: bool = False, **sim_overrides):
        self.world = World(overrides={'terrain.name': terrain, **sim_overrides})
        self.period = float(self.world.params['physics.control_period_s'])
        self.units = {w: make_wheel_unit(WHEEL) for w in WHEEL_IDS}
        self.core = DriveCore(GEOMETRY, CONTROLLER, start_t=self.world.time)
        self.killed: set[str] = set()
        self.fault_injected: dict[str, float] = {}
        self.detected: dict[str, tuple[float, str]] = {}
        self.truth: list[tuple[float, float, float, float]] = []   # t, x, y, speed
        self.odom_error_max = 0.0     # largest odometry position error so far (m, truth)
        self._hall = self.world.wheel_readings()['hall_count']
        self._next_heartbeat = 0.0
        self._next_temperature = 0.0
        self._next_control = 0.0
        # Settle on the ground; the attitude estimate takes the IMU meanwhile, and the
        # gyro's bias once the rover stands still (as it does at rest before any drive).
        for _ in range(int(round(1.0 / self.period))):
            self.world.step(self.period)
            gyro, accel = self.world.imu()
            self.core.imu(self.world.time, gyro, accel)
        if odom_from_truth:
            # Odom is the terrain frame: the odometry starts from the pose the rover settled
            # to, as a mission starts from the ground's fix of the rover. Settling on rough
            # ground turns it by up to 1.5 deg (Monte Carlo seed 19), 0.5 m off at 20 m.
            # Off by default: with it this harness's crossing of the seed-3 rock field took
            # another path, which ended with a wheel latched in a stall (why is not known).
            truth = self.world.ground_truth()
            qw, qx, qy, qz = (float(v) for v in truth.quaternion)
            self.core.odometry.set_pose(
                float(truth.position[0]), float(truth.position[1]),
                math.atan2(2 * (qw * qz + qx * qy), 1 - 2 * (qy * qy + qz * qz)))
        self.hazcams = Hazcams(self.world) if hazcams else None
        self.navcams_on = False       # the drive asks for the navcams (DriveOutput.navcams)
        self.mast_look = {'pancam_pan_joint': load_urdf(config.urdf_path('rover.urdf')).joints[
            'pancam_pan_joint'].upper, 'pancam_tilt_joint': CONTROLLER['mast.look_tilt_rad']}
        self.truth_map = TruthMap(self.world) if truth_map else None
        self.visual = VisualOdometer(self.world) if visual_odometry else None

    def inject(self, wheel: str, fault: str) -> None:
        self.world.set_fault(wheel, fault)
        self.fault_injected[wheel] = self.world.time

    def kill(self, wheel: str) -> None:
        self.killed.add(wheel)
        self.fault_injected[wheel] = self.world.time

    def step(self) -> None:
        w, t = self.world, self.world.time
        r = w.wheel_readings()
        hall = w.motors.hall_speed(r['hall_count'], self._hall, self.period)
        self._hall = r['hall_count']
        torque = r['current_a'] * w.motors.p.torque_per_amp
        heartbeat = t >= self._next_heartbeat - 1e-9
        if heartbeat:
            self._next_heartbeat = t + 1.0 / WHEEL['diagnostics_rate_hz']
        temperature = t >= self._next_temperature - 1e-9
        if temperature:
            self._next_temperature = t + 1.0 / float(w.params['motor_temperature_rate_hz'])
        for i, wid in enumerate(WHEEL_IDS):
            self.core.encoder(wid, t, float(r['encoder_rad'][i]))
            if wid in self.killed:
                continue
            unit = self.units[wid]
            if temperature:
                unit.temperature(t, float(r['temperature_c'][i]))
            demand = unit.reading(t, float(r['encoder_rad'][i]), float(hall[i]), float(torque[i]))
            w.set_wheel_torque(wid, demand)
            if unit.fault != 'none' and wid not in self.detected:
                self.detected[wid] = (t, unit.fault)
            if heartbeat or unit.changed:
                unit.changed = False
                self.core.wheel_status(wid, unit.state, unit.fault, t)
        names, q, _, _ = w.joint_state('rover')
        self.core.steering({n[6:8]: a for n, a in zip(names, q) if n.startswith('steer_')})
        gyro, accel = w.imu()
        self.core.imu(t, gyro, accel)
        raw = None
        if self.hazcams is not None:
            raw = self.hazcams.step(self.core, self.core.roll, self.core.pitch)
            self.hazcams.navcams(self.core, self.navcams_on)
        if self.visual is not None and (raw is not None or self.hazcams is None):
            self.visual.step(self.core, raw)
        if self.truth_map is not None:
            self.truth_map.step(self.core)
        if t >= self._next_control - 1e-9:   # the controller runs at its own rate
            control_period = 1.0 / CONTROLLER['control_rate_hz']
            self._next_control = t + control_period
            out = self.core.step(t, control_period)
            for wid in out.resets:      # as the controller node calls the units' reset
                if wid not in self.killed:
                    self.units[wid].reset(t)
            for wid in out.healthy:
                if wid not in self.killed:
                    self.units[wid].set_setpoint(t, out.setpoints[wid])
            for wid in STEERED_IDS:
                w.set_joint_target('rover', f'steer_{wid}_joint', out.steer[wid])
            if out.navcams and not self.navcams_on:      # as the controller node does
                for joint, target in self.mast_look.items():
                    w.set_joint_target('rover', joint, target)
            self.navcams_on = out.navcams
            for wid in self.killed:
                if self.core.wheels[wid].lost and wid not in self.detected:
                    self.detected[wid] = (t, 'node_lost')
        w.step(self.period)
        truth = w.ground_truth()
        o = self.core.odometry
        self.odom_error_max = max(self.odom_error_max, math.hypot(
            o.x - float(truth.position[0]), o.y - float(truth.position[1])))
        self.truth.append((w.time, float(truth.position[0]), float(truth.position[1]),
                           float(math.hypot(*truth.linear[:2]))))

    def run(self, seconds: float, until=None) -> None:
        end = self.world.time + seconds
        while self.world.time < end:
            self.step()
            if until is not None and until(self):
                return

    def drive_to(self, x: float, y: float, timeout: float, during=None) -> bool:
        self.core.set_goal(x, y, self.world.time)
        end = self.world.time + timeout
        while self.world.time < end:
            self.step()
            if during is not None:
                during(self)
            if self.core.goal.reached:
                self.run(3.0)   # let it come to rest
                return True
        return False

    def position(self) -> np.ndarray:
        return self.world.ground_truth().position[:2].copy()


def map_quality(hm, limits, world, path, radius: float = 5.0, views=None, K=None,
                size=None, registration_m: float = 0.0) -> dict:
    """Height RMSE, rock recall and false hazards of a hazard height map near a driven path.

    Cells within radius of any point of the path (true positions) count. Truth is the
    simulator's heightfield with its rocks; odom is base_link at the start, so the
    ground there is the base height below it. A rock as tall as the step limit
    (hazard_camera max_step_m) or taller counts as found when a cell on it has cost 90 or
    more (its step at least 90 % of the limit), among rocks with
    at least one cell seen. Which rocks are asked for: with the true left-camera poses
    of the hazcam frames (views, with intrinsics K and the image size), those whose top
    was in a frame within radius of the camera ('recall': within the cameras' 5 m);
    'recall_near_path' asks for every rock within radius of the path, however far the
    cameras were when they saw it. The map is in odom, registered by odometry, and truth
    is not: a hazard cell within registration_m (the odometry's position error over the
    drive) of the rock's edge counts for it, and likewise a hazard cell is false only
    when no truly hazardous cell (true cost 50 or more) lies within registration_m of it
    ('false_hazard_share'; 'false_hazard_share_as_placed' counts every hazard cell on
    truly free ground).
    """
    from chang_e_rover.hazard.traversability import analyse
    X, Y = hm.cell_centres()
    H = hm.heights()
    pts = np.asarray(path)[:, :2]
    near = np.zeros(X.shape, dtype=bool)
    for px, py in pts[::10]:
        near |= np.hypot(X - px, Y - py) < radius
    truth = world.terrain.true_height(X, Y) - world.terrain.true_height(
        np.array(0.0), np.array(0.0)) - GEOMETRY.base_height
    seen = near & np.isfinite(H)
    rmse = float(np.sqrt(np.mean((H[seen] - truth[seen]) ** 2)))
    cost = analyse(H, hm.resolution, limits).cost
    true_cost = analyse(np.where(near, truth, np.nan), hm.resolution, limits).cost
    free = seen & (true_cost >= 0) & (true_cost < 50) & (cost >= 0)
    placed = float(np.mean(cost[free] == 100)) if free.any() else float('nan')
    reach = int(math.ceil(registration_m / hm.resolution))
    if reach > 0:
        import cv2
        disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * reach + 1, 2 * reach + 1))
        free &= ~cv2.dilate((true_cost >= 50).astype(np.uint8), disc).astype(bool)
    false = float(np.mean(cost[free] == 100)) if free.any() else float('nan')

    def in_view(x, y, top):
        for pos, rot in views:
            c = rot.T @ (np.array([x, y, top]) - pos)      # MuJoCo camera: looks along -z
            if c[2] >= 0 or np.linalg.norm(c) > radius:
                continue
            u = K[0, 0] * c[0] / -c[2] + K[0, 2]
            v = -K[1, 1] * c[1] / -c[2] + K[1, 2]
            if 0 <= u < size[0] and 0 <= v < size[1]:
                return True
        return False

    found, missed, near_found, near_missed = 0, [], 0, []
    tall = HAZARD['max_step_m']
    for x, y, d, base in world.terrain.rocks:
        if 0.5 * d < tall or np.min(np.hypot(pts[:, 0] - x, pts[:, 1] - y)) > radius:
            continue
        on = (np.hypot(X - x, Y - y) < d / 2) & (cost >= 0)
        if not on.any():
            continue          # never seen (behind another rock, or out of view)
        rock = (round(float(x), 2), round(float(y), 2), round(0.5 * float(d), 2))
        hit = bool(np.any(cost[np.hypot(X - x, Y - y) < d / 2 + registration_m] >= 90))
        near_found += hit
        if not hit:
            near_missed.append(rock)
        if views is not None and not in_view(x, y, base + 0.5 * d):
            continue
        if hit:
            found += 1
        else:
            missed.append(rock)
    total, near_total = found + len(missed), near_found + len(near_missed)
    return {'rmse_m': rmse, 'cells': int(seen.sum()), 'recall': found / total if total else
            float('nan'), 'rocks': total, 'missed': missed,
            'recall_near_path': near_found / near_total if near_total else float('nan'),
            'rocks_near_path': near_total, 'missed_near_path': near_missed,
            'false_hazard_share': false, 'false_hazard_share_as_placed': placed,
            'free_cells': int(free.sum())}
