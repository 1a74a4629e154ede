"""Wheel drive motors as the real hardware behaves, with the physical effect of each fault.

Pure numpy, vectorised over the six wheels. A brushless DC motor in current
(torque) mode behind a gear: the driver regulates winding current to the
command within its current limit and the voltage left after back-EMF; the
winding heats by I^2 R into a first-order thermal model.
"""
from __future__ import annotations

from dataclasses import dataclass
import math

import numpy as np

FAULT_KINDS = ('none', 'stall', 'open_circuit', 'encoder_dropout', 'overcurrent',
               'overtemperature')


class FaultError(ValueError):
    """An unknown fault kind was asked for."""


@dataclass(frozen=True)
class MotorParams:
    bus_voltage_v: float
    kt_nm_per_a: float
    resistance_ohm: float
    gear_ratio: float
    gear_efficiency: float
    current_limit_a: float
    gear_friction_nm: float
    encoder_counts_per_rev: int
    thermal_capacity_j_per_k: float
    thermal_resistance_k_per_w: float
    ambient_c: float
    short_resistance_ohm: float
    runaway_heat_w: float
    rotor_inertia_kg_m2: float
    hall_pole_pairs: int
    command_watchdog_s: float
    encoder_dropout_mode: str = 'freeze'   # freeze: last count held; nan: reads NaN

    @classmethod
    def from_dict(cls, values: dict) -> 'MotorParams':
        missing = [k for k in cls.__dataclass_fields__ if k not in values]
        if missing:
            raise KeyError(f'motor parameters missing: {missing}')
        fields = cls.__dataclass_fields__
        mode = str(values['encoder_dropout_mode'])
        if mode not in ('freeze', 'nan'):
            raise ValueError(f'encoder_dropout_mode {mode!r}: expected freeze or nan')
        return cls(**{k: (int(values[k]) if fields[k].type == 'int' else float(values[k]))
                      for k in fields if k != 'encoder_dropout_mode'}, encoder_dropout_mode=mode)

    @property
    def reflected_inertia(self) -> float:
        """Rotor inertia seen at the wheel through the gear (kg m^2)."""
        return self.rotor_inertia_kg_m2 * self.gear_ratio ** 2

    @property
    def torque_per_amp(self) -> float:
        """Wheel torque per ampere of winding current (N m / A)."""
        return self.gear_ratio * self.gear_efficiency * self.kt_nm_per_a


class MotorBank:
    """The six wheel motors, their encoders and thermal state."""

    def __init__(self, params: MotorParams, count: int = 6):
        self.p = params
        self.count = count
        self.temperature_c = np.full(count, params.ambient_c)
        self.current_a = np.zeros(count)
        self.torque_nm = np.zeros(count)
        self.faults = ['none'] * count
        self._frozen_encoder = np.full(count, np.nan)
        self._dropped = np.zeros(count, dtype=bool)
        self._open = np.zeros(count, dtype=bool)
        self._short = np.zeros(count, dtype=bool)
        self._runaway = np.zeros(count, dtype=bool)

    def set_fault(self, index: int, kind: str, wheel_angle: float) -> None:
        """Inject or clear a fault on one wheel; wheel_angle freezes a dropped-out encoder."""
        if kind not in FAULT_KINDS:
            raise FaultError(f'unknown fault {kind!r}; expected one of {FAULT_KINDS}')
        self.faults[index] = kind
        self._open[index] = kind == 'open_circuit'
        self._short[index] = kind == 'overcurrent'
        self._runaway[index] = kind == 'overtemperature'
        dropped = kind == 'encoder_dropout'
        self._dropped[index] = dropped
        self._frozen_encoder[index] = (np.nan if not dropped or self.p.encoder_dropout_mode == 'nan'
                                       else wheel_angle)

    def step(self, torque_command_nm: np.ndarray, wheel_speed_rad_s: np.ndarray,
             dt: float) -> np.ndarray:
        """Advance the motors by dt; return the torque each applies to its wheel (N m)."""
        p = self.p
        i_cmd = np.clip(np.nan_to_num(torque_command_nm) / p.torque_per_amp,
                        -p.current_limit_a, p.current_limit_a)
        back_emf = p.kt_nm_per_a * wheel_speed_rad_s * p.gear_ratio
        # The driver cannot push more current than the bus voltage allows against back-EMF.
        headroom = np.maximum((p.bus_voltage_v - np.sign(i_cmd) * back_emf) / p.resistance_ohm, 0)
        i = np.sign(i_cmd) * np.minimum(np.abs(i_cmd), headroom)
        i[self._open] = 0.0
        self.torque_nm = p.torque_per_amp * i
        volts = i * p.resistance_ohm + back_emf
        # A winding shorted to the frame draws current that makes no torque.
        leak = np.where(self._short, np.abs(volts) / p.short_resistance_ohm + p.current_limit_a, 0.0)
        self.current_a = i + np.sign(i + 1e-12) * leak
        heat = i ** 2 * p.resistance_ohm + np.where(self._runaway, p.runaway_heat_w, 0.0)
        cooling = (self.temperature_c - p.ambient_c) / p.thermal_resistance_k_per_w
        self.temperature_c = self.temperature_c + (heat - cooling) * dt / p.thermal_capacity_j_per_k
        return self.torque_nm

    def hall_count(self, wheel_angle_rad: np.ndarray) -> np.ndarray:
        """Return the commutation (Hall) edge count: six per electrical turn, any fault.

        The Hall sensors are independent of the encoder and of the winding, so
        they still see the wheel turn when the encoder drops out or the winding
        is open.
        """
        edges_per_rad = 6 * self.p.hall_pole_pairs * self.p.gear_ratio / (2 * math.pi)
        return np.floor(wheel_angle_rad * edges_per_rad)

    def hall_speed(self, count_now: np.ndarray, count_before: np.ndarray, period: float
                   ) -> np.ndarray:
        """Return the wheel speed (rad/s) from Hall edges counted over period."""
        edges_per_rad = 6 * self.p.hall_pole_pairs * self.p.gear_ratio / (2 * math.pi)
        return (count_now - count_before) / edges_per_rad / period

    def encoder(self, wheel_angle_rad: np.ndarray) -> np.ndarray:
        """Return the encoder readings (rad): quantised, frozen where the encoder dropped out."""
        step = 2 * math.pi / self.p.encoder_counts_per_rev
        reading = np.round(wheel_angle_rad / step) * step
        return np.where(self._dropped, self._frozen_encoder, reading)
