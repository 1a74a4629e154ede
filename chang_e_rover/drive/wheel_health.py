"""A wheel unit's own health checks and its state machine. Pure Python.

Each wheel unit judges its motor from its own signals only: the encoder, the
driver's Hall-sensor (commutation) speed, the measured current and the winding
temperature. A condition must hold for its debounce time before it latches
FAULT; a latched fault stops the motor (the wheel free-wheels) until a reset
that the checks allow.
"""
from __future__ import annotations

from dataclasses import dataclass
import math

from chang_e_rover import config
from chang_e_rover.drive.wheel_control import VelocityLoop

ENABLED, DISABLED, FAULT = 'ENABLED', 'DISABLED', 'FAULT'
FAULTS = ('none', 'stall', 'open_circuit', 'encoder_dropout', 'overcurrent', 'overtemperature',
          'node_lost')


@dataclass(frozen=True)
class Thresholds:
    """Fault thresholds and debounce times (s), from config/rover.yaml wheel_unit."""

    stall_speed_rad_s: float          # Hall speed below this while the loop pushes hard: stall
    stall_torque_nm: float
    stall_debounce_s: float
    open_circuit_demand_nm: float     # demand above which current must flow
    open_circuit_torque_nm: float     # measured torque below this: no current
    open_circuit_debounce_s: float
    dropout_speed_rad_s: float        # Hall speed above which a frozen encoder is a dropout
    dropout_debounce_s: float
    overcurrent_a: float
    overcurrent_debounce_s: float
    overtemperature_c: float
    overtemperature_debounce_s: float
    temperature_hysteresis_c: float   # reset needs this far below the limit
    probation_s: float                # after a reset a re-detection latches at once

    @classmethod
    def from_params(cls, params: dict) -> 'Thresholds':
        return cls(**{k: float(params[k]) for k in cls.__dataclass_fields__})


@dataclass
class Reading:
    t: float
    encoder_rad: float
    hall_speed_rad_s: float
    torque_nm: float          # measured current times torque per amp
    current_a: float
    demand_nm: float          # what this unit commanded for the period just ended
    target_rad_s: float = 0.0 # the speed the unit is asked for


class HealthMonitor:
    """Debounced detection of stall, open circuit, encoder dropout, overcurrent, overtemperature."""

    def __init__(self, th: Thresholds):
        self.th = th
        self._since: dict[str, float | None] = {f: None for f in FAULTS}
        self._last_encoder: float | None = None
        self.temperature_c = math.nan
        self.last: Reading | None = None

    def _debounce(self, fault: str, active: bool, t: float, hold: float) -> bool:
        if not active:
            self._since[fault] = None
            return False
        if self._since[fault] is None:
            self._since[fault] = t
        return t - self._since[fault] >= hold - 1e-9

    def reset(self) -> None:
        for fault in self._since:
            self._since[fault] = None

    def reading(self, r: Reading, probation: bool = False) -> str | None:
        """Take one reading; return the fault that latches now, or None."""
        th = self.th
        frozen = (not math.isfinite(r.encoder_rad)
                  or (self._last_encoder is not None and r.encoder_rad == self._last_encoder))
        self._last_encoder = r.encoder_rad
        self.last = r
        hold = (lambda s: 0.0) if probation else (lambda s: s)
        checks = (
            ('overcurrent', abs(r.current_a) > th.overcurrent_a, th.overcurrent_debounce_s),
            # a non-finite count is unambiguous: no debounce
            ('encoder_dropout', not math.isfinite(r.encoder_rad)
             or (frozen and abs(r.hall_speed_rad_s) > th.dropout_speed_rad_s),
             th.dropout_debounce_s if math.isfinite(r.encoder_rad) else 0.0),
            ('open_circuit', abs(r.demand_nm) > th.open_circuit_demand_nm
             and abs(r.torque_nm) < th.open_circuit_torque_nm, th.open_circuit_debounce_s),
            # asked to turn, pushing hard, not turning (holding still on a slope is not a stall)
            ('stall', abs(r.target_rad_s) > th.stall_speed_rad_s
             and abs(r.hall_speed_rad_s) < th.stall_speed_rad_s
             and abs(r.torque_nm) > th.stall_torque_nm, th.stall_debounce_s),
        )
        for fault, active, debounce in checks:
            if self._debounce(fault, active, r.t, hold(debounce)):
                return fault
        return None

    def temperature(self, t: float, celsius: float, probation: bool = False) -> str | None:
        self.temperature_c = celsius
        hot = not math.isfinite(celsius) or celsius > self.th.overtemperature_c
        hold = 0.0 if probation else self.th.overtemperature_debounce_s
        return 'overtemperature' if self._debounce('overtemperature', hot, t, hold) else None

    def passive_check(self, fault: str) -> str | None:
        """Return why the wheel still fails the check for fault, or None if it passes.

        Checks that need the wheel driven (stall, open circuit) cannot be made
        while it is stopped: those pass here and the wheel returns on probation.
        """
        th, last = self.th, self.last
        if not math.isfinite(self.temperature_c):
            return 'no temperature reading'
        if self.temperature_c > th.overtemperature_c - th.temperature_hysteresis_c:
            return (f'winding at {self.temperature_c:.1f} C, must be below '
                    f'{th.overtemperature_c - th.temperature_hysteresis_c:.1f} C')
        if last is None:
            return 'no motor reading yet'
        if abs(last.current_a) > th.overcurrent_a:
            return f'current {last.current_a:.2f} A above {th.overcurrent_a:.2f} A with the motor off'
        if not math.isfinite(last.encoder_rad):
            return 'encoder reads non-finite'
        if fault == 'encoder_dropout' and self._since['encoder_dropout'] is not None:
            return 'encoder still frozen while the Hall sensors see the wheel turn'
        return None


class WheelUnit:
    """One wheel: velocity loop, health monitor and the ENABLED -> FAULT -> DISABLED machine."""

    def __init__(self, loop, monitor: HealthMonitor, setpoint_timeout_s: float,
                 torque_per_amp: float):
        self.loop = loop
        self.monitor = monitor
        self.setpoint_timeout_s = setpoint_timeout_s
        self.torque_per_amp = torque_per_amp
        self.state = ENABLED
        self.fault = 'none'
        self.fault_t: float | None = None
        self.setpoint = 0.0
        self.setpoint_t: float | None = None
        self.speed = 0.0
        self.probation_until = -math.inf
        self._demand = 0.0
        self._last_encoder: tuple[float, float] | None = None
        self.changed = False   # set on any state change, cleared by whoever reports it

    def set_setpoint(self, t: float, value: float) -> None:
        if not math.isfinite(value):
            raise ValueError(f'setpoint {value} is not finite; last setpoint stands')
        self.setpoint, self.setpoint_t = value, t

    def _latch(self, fault: str, t: float) -> None:
        self.state, self.fault, self.fault_t = FAULT, fault, t
        self.loop.reset()
        self.changed = True

    def reading(self, t: float, encoder_rad: float, hall_speed: float, torque_nm: float) -> float:
        """Take the driver's reading at t; return the torque demand for the next period."""
        if self._last_encoder is not None and math.isfinite(encoder_rad) and t > self._last_encoder[1]:
            self.speed = (encoder_rad - self._last_encoder[0]) / (t - self._last_encoder[1])
        elif not math.isfinite(encoder_rad):
            self.speed = math.nan
        if math.isfinite(encoder_rad):
            self._last_encoder = (encoder_rad, t)
        stale = self.setpoint_t is None or t - self.setpoint_t > self.setpoint_timeout_s
        target = 0.0 if stale or self.state != ENABLED else self.setpoint
        current = torque_nm / self.torque_per_amp if math.isfinite(torque_nm) else math.nan
        fault = self.monitor.reading(Reading(t, encoder_rad, hall_speed, torque_nm, current,
                                             self._demand, target), t < self.probation_until)
        if fault and self.state == ENABLED:
            self._latch(fault, t)
        if self.state != ENABLED:
            self._demand = 0.0          # driver off: the wheel free-wheels
            return 0.0
        # held: asked to turn, and the Hall sensors (not the encoder, which may be the
        # part that failed) see it stand still: the loop breaks away (wheel_control.py)
        held = (abs(target) > self.monitor.th.stall_speed_rad_s
                and math.isfinite(hall_speed) and abs(hall_speed) < self.monitor.th.stall_speed_rad_s)
        self._demand = self.loop.update(target, self.speed, t, held)
        return self._demand

    def temperature(self, t: float, celsius: float) -> None:
        fault = self.monitor.temperature(t, celsius, t < self.probation_until)
        if fault and self.state == ENABLED:
            self._latch(fault, t)

    def enable(self, on: bool) -> tuple[bool, str]:
        if self.state == FAULT:
            return False, f'latched fault {self.fault}: reset it first'
        new = ENABLED if on else DISABLED
        if new != self.state:
            self.state = new
            self.loop.reset()
            self.changed = True
        return True, f'wheel {"enabled" if on else "disabled"}'

    def reset(self, t: float) -> tuple[bool, str]:
        """Clear a latched fault if the checks allow; the wheel returns on probation."""
        if self.state != FAULT:
            return True, f'no latched fault (state {self.state})'
        why = self.monitor.passive_check(self.fault)
        if why is not None:
            return False, f'reset refused, {self.fault} not cleared: {why}'
        cleared = self.fault
        self.state, self.fault, self.fault_t = ENABLED, 'none', None
        self.monitor.reset()
        self.loop.reset()
        self.probation_until = t + self.monitor.th.probation_s
        self.changed = True
        return True, (f'{cleared} cleared; back in service on probation for '
                      f'{self.monitor.th.probation_s:.1f} s')


def _motor() -> dict:
    return config.section(config.load_params('hardware.yaml', 'hardware'), 'motor')


def torque_per_amp() -> float:
    """Wheel torque per ampere of winding current, from config/hardware.yaml."""
    m = _motor()
    return m['gear_ratio'] * m['gear_efficiency'] * m['kt_nm_per_a']


def make_wheel_unit(p: dict) -> WheelUnit:
    """Build a wheel unit's core from its parameters and the motor figures."""
    loop = VelocityLoop(p['kp_nm_s_per_rad'], p['ki_nm_per_rad'], p['integral_limit_nm'],
                        p['breakaway_rate_nm_per_s'], p['breakaway_delay_s'],
                        p['breakaway_from_nm'])
    return WheelUnit(loop, HealthMonitor(Thresholds.from_params(p)), p['setpoint_timeout_s'],
                     torque_per_amp())
