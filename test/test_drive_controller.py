"""DriveCore without ROS or physics: allocation, derating, skid-steer fallback, goals."""
import math

import pytest

from chang_e_rover import config
from chang_e_rover.drive.controller import DriveCore
from chang_e_rover.robot_description import load_urdf, rover_geometry, STEERED_IDS, WHEEL_IDS

GEOMETRY = rover_geometry(load_urdf(config.urdf_path('rover.urdf')))
P = config.load_params('rover.yaml', 'drive_controller')
PERIOD = 1.0 / P['control_rate_hz']


def core_with_heartbeats():
    core = DriveCore(GEOMETRY, P, start_t=0.0)
    return core


def run(core, seconds, t0, v=None, omega=0.0, steer_follows=True, silent=()):
    t = t0
    out = None
    while t < t0 + seconds - 1e-9:
        for w in WHEEL_IDS:
            if w not in silent:
                core.wheel_status(w, core.wheels[w].state if core.wheels[w].state != 'UNKNOWN'
                                  else 'ENABLED', core.wheels[w].fault, t)
        if v is not None:
            core.command_velocity(v, omega, t)
        out = core.step(t, PERIOD)
        if steer_follows:
            core.steering(out.steer)
        t += PERIOD
    return t, out


def test_faulted_and_silent_wheels_leave_the_allocation_and_the_limit_derates():
    core = core_with_heartbeats()
    t, out = run(core, 2.0, 0.0, v=1.0)
    assert len(out.healthy) == 6 and out.speed_limit == pytest.approx(P['max_speed_m_s'] * 0.99)
    core.wheel_status('lm', 'FAULT', 'stall', t)
    t, out = run(core, 1.0, t, v=1.0, silent=('rr',))
    assert set(out.healthy) == set(WHEEL_IDS) - {'lm', 'rr'}
    assert core.fault_of('rr') == 'node_lost' and core.fault_of('lm') == 'stall'
    assert out.setpoints['lm'] == 0.0 and out.setpoints['rr'] == 0.0
    expected = P['max_speed_m_s'] * 0.99 * (1 - 2 * P['derate_per_lost_wheel'])
    assert out.speed_limit == pytest.approx(expected)
    assert max(abs(s) for s in out.setpoints.values()) * GEOMETRY.wheel_radius <= expected + 1e-9
    events = [(e.wheel, e.what) for e in core.events]
    assert ('lm', 'fault: stall') in events and ('rr', 'node_lost') in events


def test_a_corner_that_does_not_follow_sends_the_rover_to_skid_steer():
    core = core_with_heartbeats()
    t, out = run(core, 2.0, 0.0, v=0.03, omega=0.05)
    assert out.mode == 'velocity' and abs(out.steer['lf']) > 0.1
    core.steering({'lf': 0.0})                  # the lf corner is stuck straight
    t, out = run(core, P['steer_fault_s'] + 1.0, t, v=0.03, omega=0.05, steer_follows=False)
    assert out.mode == 'skid_steer' and 'lf' in core.untrusted_corners
    assert all(out.steer[w] == 0.0 for w in STEERED_IDS)
    left, right = out.setpoints['lm'], out.setpoints['rm']
    assert right > left > 0, 'turning left by side speeds'


def test_goal_behind_turns_in_place_first_then_drives():
    core = core_with_heartbeats()
    core.set_goal(-3.0, 0.0, 0.0)
    t, out = run(core, 1.0, 0.0)
    assert out.mode == 'goal' and abs(out.v) < 1e-9 and abs(out.omega) > 0
    with pytest.raises(ValueError):
        core.set_goal(math.nan, 0.0, t)
