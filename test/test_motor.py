"""The wheel motor model and the physical effect of each injected fault."""
import math

import numpy as np
import pytest

from chang_e_rover import config
from chang_e_rover.sim.motor import FaultError, MotorBank, MotorParams


@pytest.fixture
def bank():
    values = config.section(config.load_params('hardware.yaml', 'hardware'), 'motor')
    values.update(config.section(config.load_params('sim.yaml', 'sim'), 'fault_physics'))
    return MotorBank(MotorParams.from_dict(values))


def test_healthy_motor_gives_commanded_torque_within_the_driver_limit(bank):
    tau = bank.step(np.array([5.0, -5.0, 100.0, 0, 0, 0]), np.zeros(6), 0.01)
    limit = bank.p.current_limit_a * bank.p.torque_per_amp
    np.testing.assert_allclose(tau[:3], [5.0, -5.0, limit])
    assert bank.current_a[0] == pytest.approx(5.0 / bank.p.torque_per_amp)


def test_back_emf_limits_torque_at_speed(bank):
    no_load_wheel_speed = bank.p.bus_voltage_v / (bank.p.kt_nm_per_a * bank.p.gear_ratio)
    tau = bank.step(np.full(6, 10.0), np.full(6, no_load_wheel_speed * 1.01), 0.01)
    assert np.all(tau == 0.0)


def test_open_circuit_makes_no_torque_and_no_current(bank):
    bank.set_fault(0, 'open_circuit', 0.0)
    tau = bank.step(np.full(6, 5.0), np.zeros(6), 0.01)
    assert tau[0] == 0.0 and bank.current_a[0] == 0.0 and tau[1] == pytest.approx(5.0)


def test_overcurrent_draws_current_past_the_limit_without_torque(bank):
    bank.set_fault(2, 'overcurrent', 0.0)
    tau = bank.step(np.full(6, 2.0), np.zeros(6), 0.01)
    assert bank.current_a[2] > bank.p.current_limit_a
    assert tau[2] == pytest.approx(tau[1])


def test_overtemperature_heats_past_100_c_within_a_second(bank):
    bank.set_fault(3, 'overtemperature', 0.0)
    for _ in range(100):
        bank.step(np.zeros(6), np.zeros(6), 0.01)
    assert bank.temperature_c[3] > 100.0
    assert bank.temperature_c[4] == pytest.approx(bank.p.ambient_c)


def test_encoder_dropout_freezes_the_count(bank):
    bank.set_fault(5, 'encoder_dropout', 1.0)
    reading = bank.encoder(np.full(6, 2.5))
    assert reading[5] == 1.0 and reading[0] == pytest.approx(2.5, abs=1e-4)
    bank.set_fault(5, 'none', 2.5)
    assert bank.encoder(np.full(6, 2.5))[5] == pytest.approx(2.5, abs=1e-4)


def test_encoder_dropout_nan_mode(bank):
    nan_bank = MotorBank(MotorParams(**{**bank.p.__dict__, 'encoder_dropout_mode': 'nan'}))
    nan_bank.set_fault(0, 'encoder_dropout', 1.0)
    assert math.isnan(nan_bank.encoder(np.zeros(6))[0])


def test_unknown_fault_is_refused(bank):
    with pytest.raises(FaultError):
        bank.set_fault(0, 'gremlins', 0.0)
    assert bank.faults[0] == 'none'
