"""Drive core without ROS: kinematics laws, command limits, odometry, wheel velocity loop."""
import math

from hypothesis import assume, given, settings, strategies as st
import pytest

from chang_e_rover import config
from chang_e_rover.drive.governor import CommandRejected, Governor, Limits
from chang_e_rover.drive.kinematics import forward, inverse
from chang_e_rover.drive.odometry import Odometry2D
from chang_e_rover.drive.wheel_control import VelocityLoop
from chang_e_rover.robot_description import load_urdf, rover_geometry, STEERED_IDS

GEOMETRY = rover_geometry(load_urdf(config.urdf_path('rover.urdf')))
P = config.load_params('rover.yaml', 'drive_controller')
V_MAX = P['max_speed_m_s']


@settings(max_examples=300, deadline=None)
@given(st.floats(-0.05, 0.05), st.floats(-0.1, 0.1))
def test_inverse_then_forward_gives_the_command_back(v, omega):
    cmd = inverse(GEOMETRY, v, omega, V_MAX)
    assume(all(abs(a) < GEOMETRY.steer_limit for a in cmd.steer_rad.values()))
    back_v, back_omega = forward(GEOMETRY, cmd.speed_rad_s, cmd.steer_rad)
    assert back_v == pytest.approx(v * cmd.scale, abs=1e-9)
    assert back_omega == pytest.approx(omega * cmd.scale, abs=1e-9)


@settings(max_examples=300, deadline=None)
@given(st.floats(-1.0, 1.0), st.floats(-1.0, 1.0))
def test_no_wheel_exceeds_the_speed_limit_and_corners_stay_in_range(v, omega):
    cmd = inverse(GEOMETRY, v, omega, V_MAX)
    for speed in cmd.speed_rad_s.values():
        assert abs(speed) * GEOMETRY.wheel_radius <= V_MAX + 1e-12
    for angle in cmd.steer_rad.values():
        assert abs(angle) <= math.pi / 2 + 1e-12


def test_every_wheel_rolls_along_its_own_contact_velocity():
    v, omega = 0.02, 0.03
    cmd = inverse(GEOMETRY, v, omega, V_MAX)
    assert cmd.scale == 1.0
    for wid in STEERED_IDS:
        x, y = GEOMETRY.wheel_xy[wid]
        vx, vy = v - omega * y, omega * x
        s = cmd.speed_rad_s[wid] * GEOMETRY.wheel_radius
        assert s * math.cos(cmd.steer_rad[wid]) == pytest.approx(vx)
        assert s * math.sin(cmd.steer_rad[wid]) == pytest.approx(vy)


def test_point_turn_steers_the_corners_tangent_to_a_circle():
    cmd = inverse(GEOMETRY, 0.0, 0.1, V_MAX)
    x, y = GEOMETRY.wheel_xy['lf']
    assert cmd.steer_rad['lf'] == pytest.approx(-math.atan2(x, y))
    assert cmd.speed_rad_s['lm'] == pytest.approx(-cmd.speed_rad_s['rm'])


def test_tight_arcs_stop_the_corners_at_the_steering_limit():
    cmd = inverse(GEOMETRY, 0.0435, 0.1, V_MAX)   # lf rolls almost sideways: past the stop
    assert max(abs(a) for a in cmd.steer_rad.values()) == pytest.approx(GEOMETRY.steer_limit)


def test_straight_line_has_corners_at_zero():
    cmd = inverse(GEOMETRY, V_MAX, 0.0, V_MAX)
    assert all(a == 0.0 for a in cmd.steer_rad.values())
    assert all(s == pytest.approx(V_MAX / GEOMETRY.wheel_radius) for s in cmd.speed_rad_s.values())


def test_forward_leaves_out_missing_and_non_finite_wheels():
    cmd = inverse(GEOMETRY, 0.03, 0.02, V_MAX)
    speeds = dict(cmd.speed_rad_s)
    speeds['lm'] = math.nan
    del speeds['rr']
    v, omega = forward(GEOMETRY, speeds, cmd.steer_rad)
    assert v == pytest.approx(0.03) and omega == pytest.approx(0.02)


def test_non_finite_twist_is_refused_by_kinematics():
    with pytest.raises(ValueError):
        inverse(GEOMETRY, math.nan, 0.0, V_MAX)


def limits():
    return Limits(P['max_speed_m_s'], P['max_accel_m_s2'], P['max_yaw_rate_rad_s'],
                  P['max_yaw_accel_rad_s2'], P['cmd_timeout_s'])


@pytest.mark.parametrize('v, omega', [(math.nan, 0.0), (0.0, math.inf), (-math.inf, math.nan)])
def test_governor_refuses_non_finite_and_keeps_the_last_safe_command(v, omega):
    g = Governor(limits())
    g.command(0.02, 0.01, 0.0)
    with pytest.raises(CommandRejected, match='non-finite'):
        g.command(v, omega, 0.1)
    assert g.target == (0.02, 0.01)


def test_governor_clamps_and_ramps():
    g = Governor(limits())
    assert g.command(1e9, -1e9, 0.0) == (V_MAX, -P['max_yaw_rate_rad_s'])
    v, _ = g.update(0.05, 0.05)
    assert v == pytest.approx(P['max_accel_m_s2'] * 0.05)
    for i in range(100):
        v, w = g.update(0.1 + i * 0.005, 0.05)
    assert (v, w) == pytest.approx((V_MAX, -P['max_yaw_rate_rad_s']))


def test_governor_starts_on_the_commanded_arc_within_both_limits():
    g = Governor(limits())
    prev = (0.0, 0.0)
    for i in range(60):
        g.command(0.05, 0.05, 0.05 * i)          # an arc of 1 m radius
        v, w = g.update(0.05 * (i + 1), 0.05)
        assert abs(v - prev[0]) <= P['max_accel_m_s2'] * 0.05 + 1e-12
        assert abs(w - prev[1]) <= P['max_yaw_accel_rad_s2'] * 0.05 + 1e-12
        assert w / v == pytest.approx(1.0)     # on that arc from the first step
        prev = (v, w)
    assert (v, w) == pytest.approx((0.05, 0.05))


def test_governor_stops_after_the_timeout():
    g = Governor(limits())
    t = 0.0
    while t < 2.0:   # commands keep coming: ramps up to top speed
        g.command(V_MAX, 0.0, t)
        t += 0.05
        g.update(t, 0.05)
    last_command = t - 0.05
    while t < last_command + 0.95:
        t += 0.05
        g.update(t, 0.05)
    assert g.output[0] == pytest.approx(V_MAX)
    t = last_command + 1.1
    g.update(t, 0.05)
    assert g.target == (0.0, 0.0) and g.output[0] < V_MAX


def test_odometry_integrates_a_circle():
    odo = Odometry2D()
    v, omega = 0.05, 0.05
    for _ in range(int(2 * math.pi / omega / 0.01)):
        odo.update(v, omega, 0.01)
    assert math.hypot(odo.x, odo.y) < 1e-3
    assert odo.distance == pytest.approx(2 * math.pi * v / omega, rel=1e-3)


def test_velocity_loop_integral_is_clamped_and_nan_commands_zero():
    loop = VelocityLoop(1.0, 10.0, 2.0)
    for i in range(100):
        out = loop.update(1.0, 0.0, i * 0.1)
    assert out == pytest.approx(1.0 + 2.0)
    assert loop.update(1.0, math.nan, 11.0) == 0.0 and loop.integral == 0.0
