"""The simulated Moon: physics stepping, motors, sensors and fault injection.

No rclpy here: sim_node.py wraps this for ROS. Every figure comes from
config/sim.yaml and urdf/.
"""
from __future__ import annotations

from dataclasses import dataclass
import math

import mujoco
import numpy as np

from chang_e_rover import config
from chang_e_rover.imaging.caltarget import Target
from chang_e_rover.robot_description import load_urdf, rover_geometry, STEERED_IDS, WHEEL_IDS
from chang_e_rover.sim import model as mjmodel
from chang_e_rover.sim.imu import ImuModel, interval_means
from chang_e_rover.sim.motor import FaultError, MotorBank, MotorParams
from chang_e_rover.sim.terrain import generate

ROVER, LANDER = 'rover/', 'lander/'
ROVER_POSITION_JOINTS = {f'steer_{w}_joint' for w in STEERED_IDS} | {
    'pancam_pan_joint', 'pancam_tilt_joint'}
LANDER_POSITION_JOINTS = {'ramp_joint', 'tcam_pan_joint', 'tcam_tilt_joint'}
WHEEL_JOINTS = tuple(f'wheel_{w}_joint' for w in WHEEL_IDS)
CAMERAS = {  # name -> (robot, optical frame, config key)
    'hazcam_left': ('rover', 'hazcam_left_optical_frame', 'hazcam'),
    'hazcam_right': ('rover', 'hazcam_right_optical_frame', 'hazcam'),
    'pancam': ('rover', 'pancam_optical_frame', 'pancam'),
    'navcam_left': ('rover', 'navcam_left_optical_frame', 'navcam'),
    'navcam_right': ('rover', 'navcam_right_optical_frame', 'navcam'),
    'tcam': ('lander', 'tcam_optical_frame', 'tcam'),
}


class SimError(ValueError):
    """A request to the simulator was refused: the reason says what and why."""


@dataclass
class GroundTruth:
    position: np.ndarray      # x y z in the world (= odom at start) frame
    quaternion: np.ndarray    # w x y z
    linear: np.ndarray        # body-frame linear velocity
    angular: np.ndarray       # body-frame angular velocity


class Battery:
    """The lander's battery: solar array in, avionics and heaters out, in sim time.

    Representative figures from config (power.*), not the flight values.
    """

    def __init__(self, p: dict):
        self.capacity_wh = float(p['battery_wh'])
        self.solar_w = float(p['solar_w'])
        self.load_w = float(p['load_w'])
        self.volts_full, self.volts_empty = float(p['volts_full']), float(p['volts_empty'])
        self.soc = float(p['initial_soc'])
        if not (self.capacity_wh > 0 and 0.0 <= self.soc <= 1.0):
            raise SimError('power: battery_wh must be > 0 and initial_soc 0 to 1')

    def set_soc(self, soc: float) -> None:
        if not (math.isfinite(soc) and 0.0 <= soc <= 1.0):
            raise SimError(f'battery state of charge {soc} must be 0 to 1')
        self.soc = soc

    def step(self, dt: float) -> None:
        net_w = self.solar_w - self.load_w
        self.soc = min(1.0, max(0.0, self.soc + net_w * dt / 3600.0 / self.capacity_wh))

    @property
    def voltage(self) -> float:
        return self.volts_empty + (self.volts_full - self.volts_empty) * self.soc

    @property
    def current_a(self) -> float:
        return (self.solar_w - self.load_w) / self.voltage   # + charging


class World:
    """The rover, the lander and the terrain in MuJoCo, stepped in control periods."""

    def __init__(self, params: dict | None = None, overrides: dict | None = None):
        p = dict(params or config.load_params('sim.yaml', 'sim'))
        p.update(overrides or {})
        self.params = p
        self.rng = np.random.default_rng(int(p['terrain.seed']))
        self.rover_robot = load_urdf(config.urdf_path('rover.urdf'))
        self.lander_robot = load_urdf(config.urdf_path('lander.urdf'))
        lander_yaw = float(p['lander.yaw'])
        if str(p['rover_start']) not in ('ground', 'deck'):
            raise SimError(f"rover_start {p['rover_start']!r}: expected ground or deck")
        self.on_deck = str(p['rover_start']) == 'deck'
        # The rover starts at the world origin (= odom), on the ground or on the deck:
        # on the deck the lander stands under it, facing along lander.yaw, the rover set
        # back from the ramp hinge by rover_deck_setback_m.
        deck = self.lander_robot.transform_to_root('deck')[:3, 3]
        hinge = self.lander_robot.transform_to_root('ramp')[:3, 3]
        c, s_ = math.cos(lander_yaw), math.sin(lander_yaw)
        if self.on_deck:
            along = deck[0] - float(p['rover_deck_setback_m'])
            lander_xy = (-c * along, -s_ * along)
        else:
            lander_xy = (float(p['lander.x']), float(p['lander.y']))
        self.lander_xy, self.lander_yaw = lander_xy, lander_yaw
        # Where the deployed ramp meets the ground (flat ground: length cos(rest angle)).
        ramp_len = max(g.xyz[0] + g.size[0] / 2 for g in self.lander_robot.links['ramp'].collisions)
        rest = math.asin(min(1.0, hinge[2] / ramp_len))
        reach = hinge[0] + ramp_len * math.cos(rest)
        self.ramp_foot_xy = (lander_xy[0] + c * reach, lander_xy[1] + s_ * reach)
        t = config.section(p, 'terrain')
        name = t.pop('name')
        self.terrain = generate(
            name, seed=int(t['seed']), rock_abundance=float(t['rock_abundance']),
            size_m=float(t['size_m']), resolution_m=float(t['resolution_m']),
            crater_density=float(t['crater_density']), crater_min_m=float(t['crater_min_m']),
            crater_max_m=float(t['crater_max_m']), rock_min_m=float(t['rock_min_m']),
            rock_max_m=float(t['rock_max_m']), keep_clear_m=float(t['keep_clear_m']),
            keep_clear_xy=((0.0, 0.0), lander_xy, self.ramp_foot_xy))
        friction = float(p['physics.regolith_friction'])
        spec = mjmodel.base_spec(float(p['physics.timestep_s']), float(p['physics.gravity_m_s2']),
                                 float(p['physics.contact_timeconst_s']),
                                 float(p['physics.contact_dampratio']),
                                 int(p['camera.antialias_samples']))
        mjmodel.add_terrain(spec, self.terrain, friction, float(p['physics.rock_friction']),
                            float(t['render_resolution_m']))
        kp, kv = float(p['servo.kp_nm_per_rad']), float(p['servo.kv_nm_s_per_rad'])
        stand = rover_geometry(self.rover_robot).base_height   # base_link above flat ground
        lz = float(self.terrain.ground_height(np.array(lander_xy[0]), np.array(lander_xy[1])))
        if self.on_deck:
            start, start_yaw = (0.0, 0.0, lz + deck[2] + stand + 0.01), lander_yaw
        else:
            ground0 = float(self.terrain.ground_height(np.array(0.0), np.array(0.0)))
            start, start_yaw = (0.0, 0.0, ground0 + stand + 0.01), 0.0
        mjmodel.add_robot(spec, self.rover_robot, ROVER, start, start_yaw, True, friction, kp, kv,
                          ROVER_POSITION_JOINTS, set(WHEEL_JOINTS))
        # The lander is welded to the ground; its parts (deck, ramp) carry the rover.
        mjmodel.add_robot(spec, self.lander_robot, LANDER, (*lander_xy, lz), lander_yaw,
                          False, friction, kp, kv, LANDER_POSITION_JOINTS, set(),
                          contact=mjmodel.LANDER_CONTACT,
                          friction_by_link={'ramp': float(p['physics.ramp_friction'])})
        # The lander's static bodies are welded to the world, so MuJoCo's parent-child
        # filter does not keep its hinged ramp from touching the deck it hangs on.
        for body in ('base_link', 'deck'):
            spec.add_exclude(bodyname1=LANDER + body, bodyname2=LANDER + 'ramp')
        self.cameras = {}
        for cam, (robot, frame, key) in CAMERAS.items():
            c = config.section(p, f'camera.{key}')
            self.cameras[cam] = mjmodel.CameraSpec(
                cam, robot, frame, int(c['width']), int(c['height']), float(c['hfov_deg']),
                self._baseline(cam))
            mjmodel.add_camera(spec, self.cameras[cam], ROVER if robot == 'rover' else LANDER)
        # The colour calibration targets: reflectances from config/hardware.yaml (one source).
        target = config.section(config.load_params('hardware.yaml', 'hardware'),
                                'calibration_target')
        for robot, prefix in ((self.rover_robot, ROVER), (self.lander_robot, LANDER)):
            if 'caltarget' in robot.links:
                mjmodel.add_calibration_target(spec, robot, prefix, 'caltarget',
                                               Target.from_params(target), target['plate_rgb'])
        imu = spec.body(f'{ROVER}imu_link').add_site(name=f'{ROVER}imu')
        for kind, name in ((mujoco.mjtSensor.mjSENS_GYRO, 'gyro'),
                           (mujoco.mjtSensor.mjSENS_ACCELEROMETER, 'accel')):
            spec.add_sensor(name=name, type=kind, objtype=mujoco.mjtObj.mjOBJ_SITE,
                            objname=imu.name)
        # The hold-down mechanism (pyrotechnic bolts): the rover welded to the deck
        # until it is released.
        hold = spec.add_equality(type=mujoco.mjtEq.mjEQ_WELD, name='hold_down',
                                 name1=ROVER + 'base_link', name2=LANDER + 'deck')
        hold.objtype = mujoco.mjtObj.mjOBJ_BODY
        hold.active = False
        for joint in WHEEL_JOINTS:   # a seized bearing: the joint held where it stopped
            lock = spec.add_equality(type=mujoco.mjtEq.mjEQ_JOINT, name=f'seize_{joint}',
                                     name1=ROVER + joint)
            lock.objtype = mujoco.mjtObj.mjOBJ_JOINT
            lock.active = False
        self.spec = spec
        self.model = spec.compile()
        self.data = mujoco.MjData(self.model)
        m = self.model
        motor = config.section(config.load_params('hardware.yaml', 'hardware'), 'motor')
        motor.update(config.section(p, 'fault_physics'))
        self.motors = MotorBank(MotorParams.from_dict(motor))
        self._wheel_dof = np.array([m.jnt_dofadr[m.joint(ROVER + j).id] for j in WHEEL_JOINTS])
        self._wheel_qpos = np.array([m.jnt_qposadr[m.joint(ROVER + j).id] for j in WHEEL_JOINTS])
        self._wheel_act = np.array([m.actuator(ROVER + j).id for j in WHEEL_JOINTS])
        self.rover_joints = self._joint_names(ROVER)
        self.lander_joints = self._joint_names(LANDER)
        # Position servos slew their setpoint at the URDF velocity limit.
        self._servo = {}   # full joint name -> index into the arrays below
        ids, rates = [], []
        for prefix, robot, names in ((ROVER, self.rover_robot, ROVER_POSITION_JOINTS),
                                     (LANDER, self.lander_robot, LANDER_POSITION_JOINTS)):
            for j in sorted(names):
                self._servo[prefix + j] = len(ids)
                ids.append(m.actuator(prefix + j).id)
                rates.append(robot.joints[j].velocity)
        self._servo_act, self._servo_rate = np.array(ids), np.array(rates)
        self._servo_target = np.zeros(len(ids))
        stowed = self.lander_robot.joints['ramp_joint'].lower   # ramp folded up for landing
        self._servo_target[self._servo[LANDER + 'ramp_joint']] = stowed
        self.data.ctrl[self._servo_act] = self._servo_target
        self.data.qpos[m.jnt_qposadr[m.joint(LANDER + 'ramp_joint').id]] = stowed
        self._hold_eq = m.equality('hold_down').id
        self.model.dof_frictionloss[self._wheel_dof] = self.motors.p.gear_friction_nm
        self._seize_eq = np.array([m.equality(f'seize_{j}').id for j in WHEEL_JOINTS])
        # The rotor's inertia seen through the gear: J N^2 at the wheel.
        self.model.dof_armature[self._wheel_dof] = self.motors.p.reflected_inertia
        self.torque_command = np.zeros(len(WHEEL_IDS))
        self._command_t = np.zeros(len(WHEEL_IDS))
        self._root_body = m.body(ROVER + 'base_link').id
        self.imu_model = ImuModel(config.section(p, 'imu'), self.rng)
        self._imu_site = m.site(ROVER + 'imu').id
        self._imu_last: tuple | None = None     # time, orientation, velocity at the last reading
        self.steps = 0
        self.driver_period_s = float(p['physics.driver_period_s'])
        self.battery = Battery(config.section(p, 'power'))
        if self.on_deck:
            self.settle_on_deck()
        mujoco.mj_forward(self.model, self.data)

    def _baseline(self, cam: str) -> float:
        """The right camera of a stereo pair: its optical centre in the left one's frame,
        along x (URDF); 0 for any other camera."""
        if not cam.endswith('_right'):
            return 0.0
        left = self.rover_robot.transform_to_root(CAMERAS[cam.replace('_right', '_left')][1])
        right = self.rover_robot.transform_to_root(CAMERAS[cam][1])
        return float((np.linalg.inv(left) @ right)[0, 3])

    def settle_on_deck(self) -> None:
        """Let the rover settle onto the deck, then lock it there with the hold-down."""
        self.step(1.0)
        # Weld data: anchor (3), pose of body2 in body1 (3 + quaternion 4), torque scale.
        rover, deck = self.model.body(ROVER + 'base_link').id, self.model.body(LANDER + 'deck').id
        rel = np.linalg.inv(self._pose(rover)) @ self._pose(deck)   # body2 in body1
        q = np.zeros(4)
        mujoco.mju_mat2Quat(q, np.ascontiguousarray(rel[:3, :3]).ravel())
        self.model.eq_data[self._hold_eq, 3:6] = rel[:3, 3]
        self.model.eq_data[self._hold_eq, 6:10] = q
        self.model.eq_data[self._hold_eq, 0:3] = 0.0
        self.model.eq_data[self._hold_eq, 10] = 1.0
        self.data.eq_active[self._hold_eq] = True

    def _pose(self, body: int) -> np.ndarray:
        pose = np.eye(4)
        pose[:3, :3] = self.data.xmat[body].reshape(3, 3)
        pose[:3, 3] = self.data.xpos[body]
        return pose

    @property
    def held_down(self) -> bool:
        return bool(self.data.eq_active[self._hold_eq])

    def release_rover(self) -> None:
        """Fire the hold-down release; refused unless the rover is held on the deck."""
        if not self.held_down:
            raise SimError('the rover is not held down (already released, or not on the deck)')
        self.data.eq_active[self._hold_eq] = False

    def _joint_names(self, prefix: str) -> list[str]:
        names = []
        for j in range(self.model.njnt):
            name = self.model.joint(j).name
            if name.startswith(prefix) and self.model.jnt_type[j] == mujoco.mjtJoint.mjJNT_HINGE:
                names.append(name[len(prefix):])
        return names

    # ---- commands in -------------------------------------------------------------------
    @property
    def time(self) -> float:
        return float(self.data.time)

    def set_wheel_torque(self, wheel: str, torque_nm: float) -> None:
        """Command one wheel's motor driver in torque (current) mode; refuses non-finite values."""
        if wheel not in WHEEL_IDS:
            raise SimError(f'unknown wheel {wheel!r}')
        if not math.isfinite(torque_nm):
            raise SimError(f'wheel {wheel}: torque command {torque_nm} is not finite')
        i = WHEEL_IDS.index(wheel)
        self.torque_command[i] = torque_nm
        self._command_t[i] = self.data.time

    def set_joint_target(self, robot: str, joint: str, position: float) -> None:
        """Set a position servo's target (rad); it slews at the URDF velocity limit."""
        key = (ROVER if robot == 'rover' else LANDER) + joint
        if key not in self._servo:
            raise SimError(f'{robot} joint {joint!r} has no position servo')
        if not math.isfinite(position):
            raise SimError(f'{robot} joint {joint}: target {position} is not finite')
        i = self._servo[key]
        low, high = self.model.actuator_ctrlrange[self._servo_act[i]]
        self._servo_target[i] = min(max(position, low), high)

    def set_fault(self, wheel: str, kind: str) -> None:
        if wheel not in WHEEL_IDS:
            raise SimError(f'unknown wheel {wheel!r}')
        try:
            i = WHEEL_IDS.index(wheel)
            self.motors.set_fault(i, kind, float(self.data.qpos[self._wheel_qpos[i]]))
        except FaultError as exc:
            raise SimError(str(exc)) from exc
        self._apply_seizure()

    def _apply_seizure(self) -> None:
        for i, fault in enumerate(self.motors.faults):
            eq = self._seize_eq[i]
            seized = fault == 'stall'
            if seized and not self.data.eq_active[eq]:
                self.model.eq_data[eq, 0] = self.data.qpos[self._wheel_qpos[i]]
            self.data.eq_active[eq] = seized

    # ---- stepping ----------------------------------------------------------------------
    def step(self, duration_s: float) -> None:
        """Advance physics, motors and servos by duration_s.

        The motor drivers and servos update once per driver period; MuJoCo steps
        in between with their outputs held, which keeps Python out of the inner loop.
        """
        dt = self.model.opt.timestep
        per_update = max(1, int(round(self.driver_period_s / dt)))
        remaining = max(1, int(round(duration_s / dt)))
        while remaining > 0:
            n = min(per_update, remaining)
            # the drivers' watchdog: a wheel whose commands stopped is cut off
            silent = self.data.time - self._command_t > self.motors.p.command_watchdog_s
            self.torque_command[silent] = 0.0
            speed = self.data.qvel[self._wheel_dof]
            self.data.ctrl[self._wheel_act] = self.motors.step(self.torque_command, speed, n * dt)
            current = self.data.ctrl[self._servo_act]
            limit = self._servo_rate * (n * dt)
            self.data.ctrl[self._servo_act] = current + np.clip(self._servo_target - current,
                                                                -limit, limit)
            mujoco.mj_step(self.model, self.data, nstep=n)
            self.battery.step(n * dt)
            self.steps += n
            remaining -= n

    # ---- sensors out -------------------------------------------------------------------
    def wheel_readings(self) -> dict[str, np.ndarray]:
        """Return what each wheel's motor driver reports: encoder, Hall count, current, temperature."""
        angle = self.data.qpos[self._wheel_qpos]
        return {'encoder_rad': self.motors.encoder(angle), 'hall_count': self.motors.hall_count(angle),
                'current_a': self.motors.current_a.copy(),
                'torque_nm': self.motors.torque_nm.copy(),
                'temperature_c': self.motors.temperature_c.copy()}

    def joint_state(self, robot: str) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
        """Return names, positions, velocities and efforts (N m) of a robot's joints."""
        prefix = ROVER if robot == 'rover' else LANDER
        names = self.rover_joints if robot == 'rover' else self.lander_joints
        m, d = self.model, self.data
        ids = [m.joint(prefix + n).id for n in names]
        q = d.qpos[m.jnt_qposadr[ids]]
        v = d.qvel[m.jnt_dofadr[ids]]
        effort = d.qfrc_actuator[m.jnt_dofadr[ids]]
        return names, q.copy(), v.copy(), effort.copy()

    def imu(self) -> tuple[np.ndarray, np.ndarray]:
        """Return the IMU's reading now: body rates (rad/s) and specific force (m/s^2).

        Each the mean since the last reading (sim/imu.py interval_means), as the part
        averages down to its output rate; the first reading, and one after time went
        back, the values at this instant. With the part's errors (sim/imu.py); no
        orientation, as a strapdown IMU gives none.
        """
        m, d = self.model, self.data
        velocity = np.zeros(6)
        mujoco.mj_objectVelocity(m, d, mujoco.mjtObj.mjOBJ_SITE, self._imu_site, velocity, 0)
        now = (self.time, d.site_xmat[self._imu_site].reshape(3, 3).copy(), velocity[3:].copy())
        last, self._imu_last = self._imu_last, now
        if last is not None and now[0] > last[0]:
            gyro, accel = interval_means(last[1], last[2], now[1], now[2], now[0] - last[0],
                                         m.opt.gravity)
        else:
            gyro, accel = d.sensor('gyro').data, d.sensor('accel').data
        return self.imu_model.measure(self.time, gyro, accel)

    def ground_truth(self) -> GroundTruth:
        b = self._root_body
        vel = np.zeros(6)
        mujoco.mj_objectVelocity(self.model, self.data, mujoco.mjtObj.mjOBJ_XBODY, b, vel, 1)
        return GroundTruth(self.data.xpos[b].copy(), self.data.xquat[b].copy(), vel[3:].copy(),
                           vel[:3].copy())

    def rover_contacts(self) -> set[str]:
        """Return names of world geoms the rover touches now (rocks, ground, features)."""
        touched = set()
        m = self.model
        for c in self.data.contact[:self.data.ncon]:
            for g in (c.geom1, c.geom2):
                if m.geom_bodyid[g] == 0:
                    touched.add(m.geom(g).name)
        return touched


