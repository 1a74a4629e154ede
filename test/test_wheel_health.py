"""A wheel unit's checks and state machine, without ROS or physics."""
import math

import pytest

from chang_e_rover import config
from chang_e_rover.drive.wheel_health import DISABLED, ENABLED, FAULT, WheelUnit
from chang_e_rover.drive.wheel_node import make_wheel_unit, torque_per_amp

P = config.load_params('rover.yaml', 'wheel_unit')
TPA = torque_per_amp()


def unit() -> WheelUnit:
    return make_wheel_unit(P)


def feed(u: WheelUnit, seconds: float, t0: float, speed: float, torque, encoder_moves=True,
         setpoint: float = 0.2, temperature: float = 30.0, dt: float = 0.05) -> float:
    """Feed readings for `seconds`; torque is a number or a function of the demand."""
    t = t0
    enc = 0.0
    while t < t0 + seconds - 1e-9:
        u.set_setpoint(t, setpoint)
        u.temperature(t, temperature)
        measured = torque(u._demand) if callable(torque) else torque
        u.reading(t, enc, speed, measured)
        if encoder_moves:
            enc += speed * dt
        t += dt
    return t


def test_healthy_wheel_stays_enabled():
    u = unit()
    feed(u, 5.0, 0.0, 0.2, lambda d: d)
    assert u.state == ENABLED and u.fault == 'none'


def test_holding_still_against_a_slope_is_not_a_stall():
    u = unit()
    feed(u, 5.0, 0.0, 0.0, 15.0, encoder_moves=False, setpoint=0.0)
    assert u.state == ENABLED


@pytest.mark.parametrize('fault, speed, torque, moves, temperature', [
    ('stall', 0.0, 8.0, False, 30.0),
    ('open_circuit', 0.2, 0.0, True, 30.0),
    ('encoder_dropout', 0.2, lambda d: d, False, 30.0),
    ('overcurrent', 0.2, 3.6 * TPA, True, 30.0),
    ('overtemperature', 0.2, lambda d: d, True, 95.0),
])
def test_each_fault_latches_within_its_debounce(fault, speed, torque, moves, temperature):
    u = unit()
    t = feed(u, 2.0, 0.0, 0.2, lambda d: d)
    feed(u, 0.6, t, speed, torque, encoder_moves=moves, temperature=temperature)
    assert u.state == FAULT and u.fault == fault
    assert u.fault_t - t <= 0.35 + 1e-9
    assert u.reading(t + 1.0, 0.0, 0.2, 0.0) == 0.0, 'isolated: no torque'


def test_non_finite_encoder_is_a_dropout_at_once():
    u = unit()
    feed(u, 1.0, 0.0, 0.2, lambda d: d)
    u.reading(1.0, math.nan, 0.2, 1.0)
    assert u.fault == 'encoder_dropout'


def test_enable_and_reset_rules():
    u = unit()
    assert u.enable(False) == (True, 'wheel disabled') and u.state == DISABLED
    assert u.enable(True)[0] and u.state == ENABLED
    t = feed(u, 1.0, 0.0, 0.2, lambda d: d, temperature=95.0)
    assert u.state == FAULT
    ok, why = u.enable(True)
    assert not ok and 'reset it first' in why
    ok, why = u.reset(t)
    assert not ok and 'winding at 95.0 C' in why and u.state == FAULT
    u.temperature(t, 60.0)
    ok, why = u.reset(t)
    assert ok and 'probation' in why and u.state == ENABLED
    u.temperature(t + 0.1, 91.0)   # on probation: no debounce
    assert u.state == FAULT


def test_non_finite_setpoint_is_refused():
    u = unit()
    u.set_setpoint(0.0, 0.1)
    with pytest.raises(ValueError, match='not finite'):
        u.set_setpoint(0.1, math.inf)
    assert u.setpoint == 0.1
