"""The drive controller's logic: one control step over its parts. Pure Python.

controller_node.py feeds it messages as plain values and publishes what it returns.
The parts, each with one job (docs/drive.md, Structure):

- governor (governor.py) and allocator (allocation.py): the commanded twist within
  limits, then wheel speeds and corner angles around the wheels out;
- wheel_view (wheel_view.py): each unit's state and speed, and node_lost;
- navigator (navigation/): goal following, the hazard gate, recovery;
- odometer (odometry.py): gyro heading, wheel travel, visual odometry's steps;
- attitude_estimator (attitude.py): roll, pitch and the gyro's bias from the IMU;
- stall_retry, corners, arc_check (monitors.py): watches on the drive itself.
"""
from __future__ import annotations

from dataclasses import dataclass, field
import math

from chang_e_rover.drive.allocation import Allocator
from chang_e_rover.drive.attitude import AttitudeEstimator
from chang_e_rover.drive.governor import Governor, Limits
from chang_e_rover.drive.monitors import ArcCheck, CornerTrust, StallRetry
from chang_e_rover.drive.odometry import Odometry2D, OdometryFusion
from chang_e_rover.drive.wheel_view import BACK_IN_SERVICE, STALLED, WheelView, WheelViews
from chang_e_rover.hazard.gate import Grid
from chang_e_rover.navigation.goal_status import GoalStatus
from chang_e_rover.navigation.navigator import Goal, Navigator
from chang_e_rover.robot_description import RoverGeometry, WHEEL_IDS


@dataclass
class Event:
    t: float
    wheel: str
    what: str


@dataclass
class DriveOutput:
    setpoints: dict[str, float]
    steer: dict[str, float]
    mode: str
    healthy: list[str]
    speed_limit: float
    v: float
    omega: float
    resets: list[str] = field(default_factory=list)   # wheel units to reset (stall retry)
    navcams: bool = False   # the mast's navcams to look at the way on: the rear leads a goal


class DriveCore:
    """Commands and sensor values in; wheel setpoints, corner angles and events out."""

    def __init__(self, geometry: RoverGeometry, p: dict, start_t: float = 0.0):
        """:param p: the drive_controller parameters (config/rover.yaml)."""
        self.geometry, self.p, self.start_t = geometry, p, start_t
        self.events: list[Event] = []
        self._setpoints: dict[str, float] = {}    # the wheels' last: a stall's way
        top_speed = p['max_speed_m_s'] * (1.0 - p['speed_margin'])
        self.governor = Governor(Limits(top_speed, p['max_accel_m_s2'], p['max_yaw_rate_rad_s'],
                                        p['max_yaw_accel_rad_s2'], p['cmd_timeout_s']))
        self.allocator = Allocator(geometry, p, top_speed)
        self.wheel_view = WheelViews(p, start_t, self._note)
        self.navigator = Navigator(geometry, p, top_speed, self._note)
        self.odometer = OdometryFusion(geometry, p)
        self.attitude_estimator = AttitudeEstimator(p)
        self.stall_retry = StallRetry(p, self._note)
        self.corners = CornerTrust(geometry, p, self._note)
        self.arc_check = ArcCheck(p, top_speed)

    def _note(self, t: float, wheel: str, what: str) -> None:
        self.events.append(Event(t, wheel, what))

    # ---- inputs ------------------------------------------------------------------------
    def command_velocity(self, v: float, omega: float, t: float) -> None:
        """An operator velocity command; raises CommandRejected. It cancels a goal."""
        self.governor.command(v, omega, t)
        self.navigator.cancel(t)

    def set_goal(self, x: float, y: float, t: float, stamp_ns: int = 0) -> None:
        """Drive to (x, y) in odom; raises ValueError for a goal that is not finite.

        :param stamp_ns: the goal message's header stamp, which its status echoes.
        """
        self.navigator.set_goal(x, y, t, stamp_ns)

    def wheel_status(self, wheel: str, state: str, fault: str, t: float) -> None:
        """A wheel unit's diagnostics: state and fault at t."""
        change = self.wheel_view.status(wheel, state, fault, t)
        if change == STALLED:
            way = self._setpoints.get(wheel, 0.0)
            self.stall_retry.stalled(wheel, t, (self.odometry.x, self.odometry.y),
                                     (way > 0) - (way < 0))
        elif change == BACK_IN_SERVICE:
            self.stall_retry.back_in_service(wheel)

    def encoder(self, wheel: str, t: float, rad: float) -> None:
        self.wheel_view.encoder(wheel, t, rad)

    def steering(self, angles: dict[str, float]) -> None:
        """Measured corner angles (rad) by corner id."""
        self.corners.measure(angles)

    def imu(self, t: float, gyro, accel) -> None:
        """An IMU sample at t: body rates (rad/s) and specific force (m/s^2), x y z.

        The attitude estimate takes it (drive/attitude.py), told whether the rover
        stands still: no motion commanded or under way from the governor, and no wheel
        whose encoder turns faster than attitude.rest_wheel_speed_rad_s. The odometry
        then takes the bias-corrected rates and the estimate's roll and pitch.
        """
        slow = self.p['attitude.rest_wheel_speed_rad_s']
        idle = self.aligning or (self.governor.target == (0.0, 0.0)
                                 and self.governor.output == (0.0, 0.0))
        still = (idle and all(not math.isfinite(v.speed) or abs(v.speed) <= slow
                         for v in self.wheel_view.views.values()))
        est = self.attitude_estimator
        if not est.update(t, gyro, accel, still):
            return
        p, q, r = est.rates
        self.odometer.yaw_rate(r, p, q)
        self.odometer.tilt(est.roll, est.pitch)

    @property
    def aligning(self) -> bool:
        """An IMU is heard and its gyro bias is not yet averaged over attitude.align_s of
        rest: the drive holds the rover still (motion commanded waits, it is not dropped),
        since a heading integrated with the gyro's turn-on bias would drift from the start."""
        est = self.attitude_estimator
        return est.roll is not None and est.calibrated_s < self.p['attitude.align_s']

    def yaw_rate(self, gyro_z: float, gyro_x: float = 0.0, gyro_y: float = 0.0) -> None:
        """Body rates (rad/s) given as they are, bias-free; see OdometryFusion.yaw_rate."""
        self.odometer.yaw_rate(gyro_z, gyro_x, gyro_y)

    def attitude(self, w: float, x: float, y: float, z: float) -> None:
        """An orientation (quaternion) given whole; see OdometryFusion.attitude."""
        self.odometer.attitude(w, x, y, z)

    def hazard(self, grid: Grid, t: float) -> None:
        """A new hazard map (cost grid in odom), received at t."""
        self.navigator.hazard(grid, t)

    def visual_motion(self, t0: float, t1: float, translation) -> None:
        """A step measured by visual odometry (see VisualSteps.add); raises ValueError for a
        step that is not usable."""
        self.odometer.visual.add(t0, t1, translation)

    # ---- health --------------------------------------------------------------------------
    def healthy(self, t: float) -> list[str]:
        """The wheels in service at t."""
        return self.wheel_view.healthy(t)

    def fault_of(self, wheel: str) -> str:
        return self.wheel_view.fault_of(wheel)

    # ---- the control step ---------------------------------------------------------------
    def step(self, t: float, dt: float) -> DriveOutput:
        """One control period of dt ending at t."""
        healthy = self.wheel_view.healthy(t)
        locked = tuple(w for w, r in self.stall_retry.records.items()
                       if r.seized and w not in healthy)
        twist = self.navigator.step(t, self.odometry, healthy, self.arc_check.take_hold,
                                    self.odometer.pitch, locked)
        if twist is not None:
            self.governor.command(*twist, t)
        v, omega = self.governor.update(t, dt)
        if self.aligning:            # held at rest until the gyro's bias is known
            self.governor.halt()
            v, omega = 0.0, 0.0
        v, omega, refused = self.navigator.gate(t, self.odometry, v, omega)
        if refused:
            self.governor.halt()
        omega_wheels = self.allocator.yaw_trim(omega, v, dt, self.odometer.gyro)
        self.corners.check(t)
        mode = 'skid_steer' if self.corners.untrusted else (
            'goal' if self.navigator.active else 'velocity')
        setpoints, steer = self.allocator.allocate(v, omega, omega_wheels, healthy, self.corners)
        self.corners.command(steer)
        self._setpoints = setpoints
        self.arc_check.update(t, dt, v, omega, self.odometer.gyro, self.allocator.holding)
        self.odometer.update(dt, self.wheel_view.views, healthy, self.corners.measured,
                             self.arc_check.followed if self.arc_check.slipping() else None)
        self.odometer.record(t, any(abs(sp) > 0.0 for sp in setpoints.values()))
        o = self.odometry
        resets, holding_rover = self.stall_retry.retries(t, (o.x, o.y), self.wheel_view.views,
                                                         self.navigator.advancing, v)
        if holding_rover and self.navigator.held_stall(t, o, holding_rover):
            self.governor.command(0.0, 0.0, t)     # ended short: stand where it was held
        if not self.navigator.backoff.active:   # none, or it ended before reversing them:
            resets += self.stall_retry.retry_waiting(t)     # the held wheels retried now
        return DriveOutput(setpoints, steer, mode, healthy, self.allocator.top_speed, v,
                           omega_wheels, resets,
                           self.navigator.navcams)

    # ---- what the node and the tests read ----------------------------------------------
    @property
    def wheels(self) -> dict[str, WheelView]:
        return self.wheel_view.views

    @property
    def odometry(self) -> Odometry2D:
        return self.odometer.pose

    @property
    def goal(self) -> Goal | None:
        return self.navigator.goal

    def goal_status(self) -> GoalStatus:
        """The last goal's status (rover/goal_status), its distance from the odometry."""
        return self.navigator.status(self.odometry)

    def refused_goal(self, x: float, y: float, stamp_ns: int, why: str) -> GoalStatus | None:
        """The FAILED status of a goal refused for why; None for a point not finite."""
        return self.navigator.refused(x, y, stamp_ns, self.odometry, why)

    @property
    def hazard_map(self) -> Grid | None:
        return self.navigator.hazard_map

    @property
    def hazard_t(self) -> float:
        return self.navigator.hazard_t

    @property
    def gate_enabled(self) -> bool:
        return self.navigator.gate_enabled

    @gate_enabled.setter
    def gate_enabled(self, enabled: bool) -> None:
        """Off only for egress from the lander (the lander sequencer switches it)."""
        self.navigator.gate_enabled = enabled

    @property
    def gate_state(self) -> str:
        return self.navigator.guard.state

    @property
    def gate_where(self) -> tuple[float, float] | None:
        return self.navigator.guard.where

    @property
    def steer_measured(self) -> dict[str, float]:
        return self.corners.measured

    @property
    def gyro(self) -> float | None:
        return self.odometer.gyro

    @property
    def pitch(self) -> float:
        return self.odometer.pitch

    @property
    def roll(self) -> float:
        return self.odometer.roll

    @property
    def v_measured(self) -> float:
        return self.odometer.v_measured

    @property
    def visual_steps(self) -> int:
        return self.odometer.visual.steps

    @property
    def visual_refused(self) -> int:
        return self.odometer.visual.refused

    @property
    def visual_idle(self) -> int:
        return self.odometer.visual.idle

    @property
    def wheel_slip(self) -> float | None:
        return self.odometer.visual.wheel_slip

    def health(self, out: DriveOutput | None, rejected: int
               ) -> tuple[str, str, list[tuple[str, str]]]:
        """The rover/drive_controller diagnostics: level name (OK, WARN, ERROR), message
        and key/value pairs, after the step that gave out; rejected: commands refused."""
        healthy = out.healthy if out else []
        lost = [w for w in WHEEL_IDS if w not in healthy]
        level = 'OK' if not lost else 'WARN' if len(healthy) >= 4 else 'ERROR'
        message = 'all wheels healthy' if not lost else \
            f'isolated: {", ".join(f"{w} ({self.fault_of(w)})" for w in lost)}'
        gate = self.gate_state if self.gate_where is None else \
            f'{self.gate_state} at ({self.gate_where[0]:.2f}, {self.gate_where[1]:.2f})'
        return level, message, [
            ('mode', out.mode if out else 'velocity'), ('healthy_wheels', str(len(healthy))),
            ('speed_limit_m_s', f'{out.speed_limit if out else 0.0:.4f}'),
            ('isolated_wheels', ' '.join(lost)),
            ('goal', self.goal_status().message),     # for people: rover/goal_status for programs
            ('rejected_commands', str(rejected)), ('visual_steps', str(self.visual_steps)),
            ('visual_refused', str(self.visual_refused)), ('visual_idle', str(self.visual_idle)),
            ('wheel_slip', 'unknown' if self.wheel_slip is None else f'{self.wheel_slip:.3f}'),
            ('hazard_gate', gate), ('attitude', 'aligning' if self.aligning else 'aligned')]
