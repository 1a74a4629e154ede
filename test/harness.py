"""The rover's flight cores on the simulator, wired as the nodes wire them, without DDS.

Fast enough to sweep every fault on every wheel: the six WheelUnit cores and
the DriveCore exchange the same values the ROS nodes exchange (motor readings,
torque demands, diagnostics heartbeats, setpoints, corner angles, gyro), once
per control period. The ROS nodes themselves are tested in test_stack.py.
"""
from __future__ import annotations

import math

import numpy as np

from chang_e_rover import config
from chang_e_rover.drive.controller import DriveCore
from chang_e_rover.drive.wheel_node import make_wheel_unit
from chang_e_rover.robot_description import load_urdf, rover_geometry, STEERED_IDS, WHEEL_IDS
from chang_e_rover.sim.world import World

GEOMETRY = rover_geometry(load_urdf(config.urdf_path('rover.urdf')))
CONTROLLER = config.load_params('rover.yaml', 'drive_controller')
WHEEL = config.load_params('rover.yaml', 'wheel_unit')


class Rover:
    def __init__(self, terrain: str = 'flat', **sim_overrides):
        self.world = World(overrides={'terrain.name': terrain, **sim_overrides})
        self.period = float(self.world.params['physics.control_period_s'])
        self.units = {w: make_wheel_unit(WHEEL) for w in WHEEL_IDS}
        self.core = DriveCore(GEOMETRY, CONTROLLER, start_t=self.world.time)
        self.killed: set[str] = set()
        self.fault_injected: dict[str, float] = {}
        self.detected: dict[str, tuple[float, str]] = {}
        self.truth: list[tuple[float, float, float, float]] = []   # t, x, y, speed
        self._hall = self.world.wheel_readings()['hall_count']
        self._next_heartbeat = 0.0
        self._next_temperature = 0.0
        self._next_control = 0.0
        self.world.step(1.0)    # settle on the ground

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
        quat, gyro, _ = w.imu()
        self.core.yaw_rate(float(gyro[2]))
        self.core.attitude(*(float(v) for v in quat))
        if t >= self._next_control - 1e-9:   # the controller runs at its own rate
            control_period = 1.0 / CONTROLLER['control_rate_hz']
            self._next_control = t + control_period
            out = self.core.step(t, control_period)
            for wid in out.healthy:
                if wid not in self.killed:
                    self.units[wid].set_setpoint(t, out.setpoints[wid])
            for wid in STEERED_IDS:
                w.set_joint_target('rover', f'steer_{wid}_joint', out.steer[wid])
            for wid in self.killed:
                if self.core.wheels[wid].lost and wid not in self.detected:
                    self.detected[wid] = (t, 'node_lost')
        w.step(self.period)
        truth = w.ground_truth()
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
