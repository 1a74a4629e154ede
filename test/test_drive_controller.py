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
        if core.hazard_map is not None and t - core.hazard_t >= 1.0:
            core.hazard(core.hazard_map, t)         # the hazcams map once a second
        out = core.step(t, PERIOD)
        if steer_follows:
            core.steering(out.steer)
        t += PERIOD
    return t, out


def test_faulted_and_silent_wheels_leave_the_allocation_and_the_rest_keep_the_top_speed():
    core = core_with_heartbeats()
    top = P['max_speed_m_s'] * (1 - P['speed_margin'])
    t, out = run(core, 2.0, 0.0, v=1.0)
    assert len(out.healthy) == 6 and out.speed_limit == pytest.approx(top)
    core.wheel_status('lm', 'FAULT', 'stall', t)
    t, out = run(core, 1.0, t, v=1.0, silent=('rr',))
    assert set(out.healthy) == set(WHEEL_IDS) - {'lm', 'rr'}
    assert core.fault_of('rr') == 'node_lost' and core.fault_of('lm') == 'stall'
    assert out.setpoints['lm'] == 0.0 and out.setpoints['rr'] == 0.0
    # The four left drive the same body motion at the same speed: the wheels out take
    # no speed from the rest (their torque headroom, not their speed, carries the load).
    assert out.speed_limit == pytest.approx(top)
    assert all(out.setpoints[w] * GEOMETRY.wheel_radius == pytest.approx(top)
               for w in out.healthy)
    events = [(e.wheel, e.what) for e in core.events]
    assert ('lm', 'fault: stall') in events and ('rr', 'node_lost') in events


def test_a_corner_that_does_not_follow_sends_the_rover_to_skid_steer():
    core = core_with_heartbeats()
    t, out = run(core, 2.0, 0.0, v=0.03, omega=0.05)
    assert out.mode == 'velocity' and abs(out.steer['lf']) > 0.1
    core.steering({'lf': 0.0})                  # the lf corner is stuck straight
    t, out = run(core, P['steer_fault_s'] + 1.0, t, v=0.03, omega=0.05, steer_follows=False)
    assert out.mode == 'skid_steer' and 'lf' in core.corners.untrusted
    assert all(out.steer[w] == 0.0 for w in STEERED_IDS)
    left, right = out.setpoints['lm'], out.setpoints['rm']
    assert right > left > 0, 'turning left by side speeds'
    # stuck straight, it follows the skid-steer's straight target: trusted again once...
    core.steering({w: 0.0 for w in STEERED_IDS})   # (the others straight as commanded)
    t, out = run(core, P['steer_fault_s'] + 0.5, t, v=0.03, omega=0.05, steer_follows=False)
    assert 'lf' not in core.corners.untrusted and out.mode == 'velocity'
    assert any('trusted' in e.what and 'un' not in e.what for e in core.events)
    # ...then it fails to follow the arc again, and is lost for good
    t, out = run(core, 2 * P['steer_fault_s'] + 2.0, t, v=0.03, omega=0.05,
                 steer_follows=False)
    t, out = run(core, 2 * P['steer_fault_s'] + 2.0, t, v=0.03, omega=0.05,
                 steer_follows=False)
    assert out.mode == 'skid_steer' and 'lf' in core.corners.untrusted


def test_goal_behind_turns_in_place_first_then_drives():
    core = core_with_heartbeats()
    core.set_goal(-3.0, 0.0, 0.0)
    t, out = run(core, 1.0, 0.0)
    assert out.mode == 'goal' and abs(out.v) < 1e-9 and abs(out.omega) > 0
    with pytest.raises(ValueError):
        core.set_goal(math.nan, 0.0, t)


def rolling(core, seconds, t, angles, free_wheeling=False):
    """run() one period at a time with encoders that follow the setpoints; isolated
    wheels are seized (still) or free-wheeling (turning with the others)."""
    out, resets = None, []
    end = t + seconds - 1e-9
    while t < end:
        for w in WHEEL_IDS:
            core.encoder(w, t, angles[w])
        t, out = run(core, PERIOD, t, v=0.05)
        rolling_speed = max(out.setpoints.values())
        for w in WHEEL_IDS:
            speed = out.setpoints[w] if w in out.healthy else 0.0
            angles[w] += (rolling_speed if free_wheeling and w not in out.healthy
                          else speed) * PERIOD
        resets += out.resets
        if resets:
            break
    return t, out, resets


def test_a_stall_is_retried_once_the_rover_has_moved_on_and_not_after_a_second_one():
    core = core_with_heartbeats()
    angles = {w: 0.0 for w in WHEEL_IDS}
    t, _, _ = rolling(core, 2.0, 0.0, angles)
    core.wheel_status('rr', 'FAULT', 'stall', t)
    x0 = core.odometry.x
    t, out, resets = rolling(core, 30.0, t, angles)      # on without it, until 0.3 m further
    assert core.odometry.x - x0 == pytest.approx(P['stall_retry.after_m'], abs=0.01)
    moved = [e for e in core.events if 'automatic reset' in e.what]
    assert resets == ['rr'] and len(moved) == 1
    assert float(moved[0].what.split('moved ')[1].split(' m')[0]) >= P['stall_retry.after_m']
    core.wheel_status('rr', 'ENABLED', 'none', t)          # the unit accepted the reset
    t, out, _ = rolling(core, 1.0, t, angles)
    assert 'rr' in out.healthy
    core.wheel_status('rr', 'FAULT', 'stall', t)           # stalls again on its probation
    x0 = core.odometry.x
    t, out, resets = rolling(core, 30.0, t, angles)        # a metre and more: no more resets
    assert resets == [] and 'rr' not in out.healthy and core.odometry.x - x0 > 1.0
    assert any('seized' in e.what for e in core.events)


def held_or_rolling(core, seconds, t, angles, held, goal=True):
    """A goal drive (or a velocity command) with encoders that follow the setpoints, or
    stand still when the rover is held; returns the resets asked for and the slowest v."""
    resets, v_min, out = [], math.inf, None
    end = t + seconds - 1e-9
    while t < end:
        for w in WHEEL_IDS:
            core.encoder(w, t, angles[w])
        t, out = run(core, PERIOD, t, v=None if goal else 0.05)
        if not held:
            for w in out.healthy:
                angles[w] += out.setpoints[w] * PERIOD
        resets += out.resets
        v_min = min(v_min, out.v)
    return t, out, resets, v_min


def goal_under_way():
    """A core driving to a goal 10 m ahead for 5 s: the core, encoder angles, t, output."""
    core = core_with_heartbeats()
    core.set_goal(10.0, 0.0, 0.0)
    angles = {w: 0.0 for w in WHEEL_IDS}
    t, out, _, _ = held_or_rolling(core, 5.0, 0.0, angles, held=False)
    return core, angles, t, out


def test_stalls_of_a_held_goal_drive_are_retried_as_it_backs_off():
    # Four wheels latch stalls one after another against a rock the two left cannot lift
    # the rover over; it never moves the 0.3 m of the retry. After held_s it backs off and
    # resets them once the drive has reversed: turned the other way, wheels held by the
    # rock turn back off it, and they are not judged seized.
    core, angles, t, out = goal_under_way()
    assert out.v > 0.0
    stalled = ('lf', 'rf', 'lr', 'rr')
    for i, w in enumerate(stalled):
        core.wheel_status(w, 'FAULT', 'stall', t + 0.5 * i)
    t, out, resets, _ = held_or_rolling(core, P['stall_retry.held_s'] + 0.5 * PERIOD, t, angles,
                                        True)
    assert resets == [] and set(out.healthy) == {'lm', 'rm'} and core.goal.backoffs == 1
    assert any('held' in e.what and 'backing off' in e.what for e in core.events)
    resets, v_at = [], []
    while not resets:                       # the back-off slows the rover, then reverses it
        t, out, resets, _ = held_or_rolling(core, PERIOD, t, angles, True)
        v_at.append(out.v)
    assert sorted(resets) == sorted(stalled) and v_at[-1] < 0.0 < v_at[0]
    for w in stalled:                                   # the units accept the resets
        core.wheel_status(w, 'ENABLED', 'none', t)
    t, out, resets, v_min = held_or_rolling(core, 30.0, t, angles, held=False)
    backed = [float(e.what.split()[2]) for e in core.events if e.what.startswith('backed off')]
    assert v_min < 0.0 and backed and backed[0] >= P['recovery.backoff_m']
    assert out.v > 0.0, 'and on to the goal again'
    assert len(out.healthy) == 6 and resets == []
    assert not any('seized' in e.what for e in core.events)
    # Under velocity commands the operator drives: a held rover's stalls wait for the 0.3 m.
    core = core_with_heartbeats()
    angles = {w: 0.0 for w in WHEEL_IDS}
    t, out, _, _ = held_or_rolling(core, 2.0, 0.0, angles, held=False, goal=False)
    core.wheel_status('lf', 'FAULT', 'stall', t)
    t, out, resets, _ = held_or_rolling(core, 30.0, t, angles, held=True, goal=False)
    assert resets == [] and 'lf' not in out.healthy


def test_a_held_wheel_whose_back_off_ends_before_it_reverses_is_retried_then():
    # It waits for the back-off to turn it the other way; a back-off cut short (a new
    # goal, ended short) must not leave it out of service until the rover moves 0.3 m.
    core, angles, t, out = goal_under_way()
    core.wheel_status('lf', 'FAULT', 'stall', t)
    t, out, resets, _ = held_or_rolling(core, P['stall_retry.held_s'] + 0.5 * PERIOD, t,
                                        angles, True)
    assert resets == [] and core.stall_retry.records['lf'].waiting
    assert out.v > 0.0 and core.navigator.backoff.active
    core.navigator.backoff.cancel()
    t, out, resets, _ = held_or_rolling(core, PERIOD, t, angles, True)
    assert resets == ['lf'] and not core.stall_retry.records['lf'].retry_reversed


def test_a_held_back_off_ends_and_a_stall_held_after_it_drives_on_not_back():
    # Monte Carlo seed 23, k = 2: lr seized, pushed ahead of the rover as it reversed. Each
    # back-off stood its full minute, a healthy wheel stalled under the load, and the held
    # stall began the next back-off: ten minutes at one spot, until the cap.
    core, angles, t, out = goal_under_way()
    core.wheel_status('lf', 'FAULT', 'stall', t)
    t, out, resets, _ = held_or_rolling(core, P['stall_retry.held_s'] + 2.0, t, angles, True)
    assert resets == ['lf'] and core.goal.backoffs == 1, 'reset once the back-off reversed'
    began = next(e.t for e in core.events if 'backing off' in e.what)
    core.wheel_status('lf', 'ENABLED', 'none', t)
    t, out, _, _ = held_or_rolling(core, 0.5, t, angles, True)
    assert out.v < 0.0
    core.wheel_status('rf', 'FAULT', 'stall', t)          # under the load of a held rover
    t, out, _, _ = held_or_rolling(core, P['stall_retry.held_s'] - 2.0, t, angles, True)
    ended = [e for e in core.events if e.what.startswith('backed off')]
    assert ended and '(held)' in ended[0].what and ended[0].t - began <= \
        P['stall_retry.held_s'] + 0.5, 'ended once held, not after recovery.no_progress_s'
    t, out, resets, v_min = held_or_rolling(core, 6.0, t, angles, True)
    assert resets == ['rf'], 'the wheel held with the rover is reset'
    assert core.goal.backoffs == 1 and any('driving on' in e.what for e in core.events)
    assert v_min >= 0.0 and out.v > 0.0, 'forward, not another back-off'
    # once the rover has moved backoff_m from there, a held stall backs off again
    core.wheel_status('rf', 'ENABLED', 'none', t)
    t, out, _, _ = held_or_rolling(core, 30.0, t, angles, held=False)
    assert core.navigator.backoff.held_at is None
    core.wheel_status('lm', 'FAULT', 'stall', t)
    t, out, _, _ = held_or_rolling(core, P['stall_retry.held_s'] + 2.5, t, angles, True)
    assert core.goal.backoffs == 2 and out.v < 0.0


def test_a_goal_drive_held_within_the_held_tolerance_ends_short_not_backing_off():
    # Monte Carlo seed 4, k = 2: held 0.25 m from its goal, the rover backed off and spent
    # its last ten minutes turning and backing off within 1.3 m of the goal.
    import numpy as np
    from chang_e_rover.hazard.gate import Grid
    tolerance = P['goal_held_tolerance_m']
    assert P['goal_tolerance_m'] < tolerance
    for distance, ends in ((tolerance - 0.05, True), (tolerance + 0.15, False)):
        # a held stall (encoders frozen: the rover does not move)
        core = core_with_heartbeats()
        core.set_goal(distance, 0.0, 0.0)
        angles = {w: 0.0 for w in WHEEL_IDS}
        t, out, _, _ = held_or_rolling(core, 3.0, 0.0, angles, held=True)
        core.wheel_status('lf', 'FAULT', 'stall', t)
        t, out, resets, v_min = held_or_rolling(core, P['stall_retry.held_s'] + 3.0, t,
                                                angles, True)
        assert resets == ['lf'], 'the wheel held with the rover is reset either way'
        assert core.goal.reached == ends and (core.goal.backoffs == 0) == ends, distance
        if ends:
            assert v_min >= 0.0 and out.v == 0.0
            assert abs(core.goal.short_m - distance) < 0.01
            assert any(f'goal reached {distance:.2f} m short' in e.what for e in core.events)
        else:
            assert out.v < 0.0 and core.goal.short_m == 0.0
        # no headway on a clear map (the odometry does not move: no encoders)
        core = core_with_heartbeats()
        core.hazard(Grid(np.zeros((100, 100), np.int8), -5.0, -5.0, 0.1), 0.0)
        core.set_goal(distance, 0.0, 0.0)
        t, out = run(core, P['recovery.no_progress_s'] + 3.0, 0.0)
        assert any('no headway' in e.what for e in core.events)
        assert core.goal.reached == ends and (core.goal.backoffs == 0) == ends, distance
        assert (out.v == 0.0) if ends else (out.v < 0.0)


def test_faults_other_than_stall_are_never_reset_by_the_controller():
    core = core_with_heartbeats()
    t, _ = run(core, 1.0, 0.0, v=0.05)
    core.wheel_status('lf', 'FAULT', 'overcurrent', t)
    x0 = core.odometry.x
    t, out, resets = rolling(core, 30.0, t, {w: 0.0 for w in WHEEL_IDS}, True)
    assert resets == [] and 'lf' not in out.healthy and core.odometry.x - x0 > 1.0


def test_a_goal_drive_held_at_a_hazard_backs_off_and_votes_again():
    import numpy as np
    from chang_e_rover.hazard.gate import Grid
    core = core_with_heartbeats()
    cost = np.zeros((100, 100), np.int8)              # 10 m square, 0.1 m cells, origin -5
    cost[:, 60:63] = 100                             # a wall 1.0-1.3 m ahead, across the map
    core.hazard(Grid(cost, -5.0, -5.0, 0.1), 0.0)
    core.set_goal(4.0, 0.0, 0.0)
    # The odometry does not move (no encoders here): no headway at all.
    wait = P['recovery.no_progress_s']
    t, out = run(core, wait - 1.0, 0.0)
    assert out.v >= 0.0 and not any('backing off' in e.what for e in core.events)
    t, out = run(core, 5.0, t)
    assert any('no headway' in e.what for e in core.events)
    assert out.v < 0.0 and abs(out.omega) < 1e-9, 'straight back, the gate letting it'
    assert core.goal.backoffs == 1
    # never getting anywhere, it ends the back-off once held itself and votes again
    t, out = run(core, P['stall_retry.held_s'] + 0.5, t)
    assert any('backed off' in e.what for e in core.events)
    # ground behind it untraversable too: boxed in (every arc vetoed, the turn in place
    # refused), it backs off without waiting for no_progress_s, and the gate refuses that
    core2 = core_with_heartbeats()
    cost2 = cost.copy()
    cost2[:, 38:41] = 100                            # a wall 1.0-1.3 m behind
    core2.hazard(Grid(cost2, -5.0, -5.0, 0.1), 0.0)
    core2.set_goal(4.0, 0.0, 0.0)
    t, out = run(core2, P['recovery.boxed_in_s'] + 3.0, 0.0)
    assert any('boxed in' in e.what for e in core2.events)
    assert any(e.what.startswith('dead end: (0.00, 0.00)') for e in core2.events)
    assert out.v == 0.0 and core2.gate_state == 'blocked'


def test_the_gate_stops_the_rover_when_the_hazard_maps_stop_coming():
    import numpy as np
    from chang_e_rover.hazard.gate import Grid
    core = core_with_heartbeats()
    grid = Grid(np.zeros((100, 100), np.int8), -5.0, -5.0, 0.1)
    timeout = P['hazard.map_timeout_s']
    assert timeout > 0
    core.hazard(grid, 0.0)
    t, out = run(core, 5.0, 0.0, v=0.05)
    assert out.v > 0.0 and core.gate_state == 'clear'
    # the maps stop: step the core without run(), which plays the hazcams
    last = core.hazard_t
    while t < last + timeout - 0.1:
        core.command_velocity(0.05, 0.0, t)
        out = core.step(t, PERIOD)
        t += PERIOD
    assert out.v > 0.0, 'within the timeout the last map stands'
    while t < last + timeout + 0.5:
        core.command_velocity(0.05, 0.0, t)
        out = core.step(t, PERIOD)
        t += PERIOD
    assert out.v == 0.0 and out.omega == 0.0 and core.gate_state == 'stale'
    assert any('no hazard map for' in e.what for e in core.events)
    core.hazard(grid, t)                  # a map again: on it goes
    t, out = run(core, 2.0, t, v=0.05)
    assert out.v > 0.0 and core.gate_state == 'clear'


def arc_drive(core, seconds, t, angles, gyro, v=None, omega=0.0):
    """Encoders that follow the setpoints, corners that follow, and the gyro given."""
    out = None
    end = t + seconds - 1e-9
    while t < end:
        for w in WHEEL_IDS:
            core.encoder(w, t, angles[w])
        core.yaw_rate(gyro(out))
        t, out = run(core, PERIOD, t, v=v, omega=omega)
        for w in WHEEL_IDS:
            angles[w] += out.setpoints[w] * PERIOD
    return t, out


def test_an_arc_the_gyro_does_not_see_is_not_travelled_and_a_held_goal_drive_backs_off():
    # Velocity commands on a 1 m arc, the wheels turning as commanded
    for seen, counted in ((1.0, (0.9, 1.05)), (0.0, (0.0, 0.05)), (-0.5, (0.0, 0.05))):
        core = core_with_heartbeats()
        angles = {w: 0.0 for w in WHEEL_IDS}
        t, out = arc_drive(core, 20.0, 0.0, angles, v=0.04, omega=0.04,
                           gyro=lambda out, s=seen: 0.0 if out is None else s * out.omega)
        wheels = (angles['lm'] + angles['rm']) / 2 * GEOMETRY.wheel_radius
        share = core.odometry.distance / wheels
        assert counted[0] <= share <= counted[1], (seen, share)
        assert (core.arc_check.followed < P['arc_check.min_ratio']) == (seen < 1.0)
    # A goal drive on an arc the rover does not follow (held: the gyro sees no turn)
    import numpy as np
    from chang_e_rover.hazard.gate import Grid
    core = core_with_heartbeats()
    core.hazard(Grid(np.zeros((100, 100), np.int8), -5.0, -5.0, 0.1), 0.0)
    core.set_goal(2.5, 1.8, 0.0)
    angles = {w: 0.0 for w in WHEEL_IDS}
    t, out = arc_drive(core, 8.0, 0.0, angles, gyro=lambda out: 0.0)
    assert out.v > 0.0 and abs(out.omega) > 0.2 * out.v, 'on an arc'
    wheels = (angles['lm'] + angles['rm']) / 2 * GEOMETRY.wheel_radius
    assert core.odometry.distance < 0.2 * wheels, 'the spinning wheels are not counted'
    assert not any('held' in e.what for e in core.events)
    t, out = arc_drive(core, P['arc_check.held_s'] + 2.0, t, angles, gyro=lambda out: 0.0)
    assert [e for e in core.events if e.what.startswith('held')]
    assert out.v < 0.0 and abs(out.omega) < 1e-3, 'backing straight off (the yaw ramping down)'


def test_held_on_an_arc_near_the_goal_with_a_wheel_out_the_rover_faces_it_not_backs_off():
    # Monte Carlo seed 22, k = 2: lf seized and lm open, held by the dead wheel's drag on
    # the 1 m arc onto a goal 0.67 m away; backing off among its keep-outs fenced it off.
    import numpy as np
    from chang_e_rover.hazard.gate import Grid
    radius = 1.0 / P['arcs.max_curvature']
    cases = (('lm', (0.8, 0.2), True),      # a wheel out, within a turning radius: face it
             (None, (0.8, 0.2), False),     # all wheels in: the arc check's back-off
             ('lm', (2.5, 1.8), False))     # a wheel out, further: back-off and keep-outs
    for out_wheel, goal, faces in cases:
        assert (math.hypot(*goal) < radius) == (goal == (0.8, 0.2))
        core = core_with_heartbeats()
        core.hazard(Grid(np.zeros((100, 100), np.int8), -5.0, -5.0, 0.1), 0.0)
        if out_wheel:
            core.wheel_status(out_wheel, 'FAULT', 'open_circuit', 0.0)
        core.set_goal(*goal, 0.0)
        angles = {w: 0.0 for w in WHEEL_IDS}
        t, out = arc_drive(core, 4.0, 0.0, angles, gyro=lambda out: 0.0)
        assert out.v > 0.0 and abs(out.omega) > P['arc_check.min_curvature'] * out.v, 'an arc'
        t, out = arc_drive(core, P['arc_check.held_s'] + 2.0, t, angles, gyro=lambda out: 0.0)
        held = [e for e in core.events if e.what.startswith('held')]
        assert len(held) == 1, (goal, out_wheel)
        assert held[0].what.endswith('facing it') == faces
        assert (core.goal.backoffs == 0) == faces and bool(core.goal.keep_outs) == \
            (not faces and out_wheel is not None)
        if faces:
            assert out.v == 0.0 and out.omega > 0.0, 'turning in place to the goal on its left'
        else:
            assert out.v < 0.0


def test_the_heading_turns_at_the_levelled_gyro_rate_even_with_no_wheel_to_read():
    core = core_with_heartbeats()
    roll = math.radians(20.0)          # on a side slope: the body's z leans
    core.attitude(math.cos(roll / 2), math.sin(roll / 2), 0.0, 0.0)
    core.yaw_rate(0.05, 0.0, 0.0)
    assert core.odometer.heading_rate == pytest.approx(0.05 * math.cos(roll))
    assert core.gyro == 0.05, 'the yaw loop keeps the body rate'
    # every wheel stalled (no encoder to use): the heading still follows the gyro
    for w in WHEEL_IDS:
        core.wheel_status(w, 'FAULT', 'stall', 0.0)
    t = 0.0
    for _ in range(200):
        core.yaw_rate(0.05, 0.0, 0.0)
        for w in WHEEL_IDS:
            core.wheel_status(w, 'FAULT', 'stall', t)
        core.step(t, PERIOD)
        t += PERIOD
    assert core.odometry.yaw == pytest.approx(10.0 * 0.05 * math.cos(roll), rel=0.02)
    assert core.odometry.x == 0.0 and core.odometry.y == 0.0


def test_the_odometer_of_two_free_wheels_is_their_mean_not_the_faster():
    # Two isolated wheels free-wheel (the odometer then); every encoder reads the true
    # rolling speed with +-20 % noise tick by tick. Taking the faster of the two each tick
    # read 6 % long on the Monte Carlo (seed 7, k = 2); their median reads true.
    import random
    rng = random.Random(3)
    core = core_with_heartbeats()
    angles = {w: 0.0 for w in WHEEL_IDS}
    t, _ = run(core, 2.0, 0.0, v=0.04)
    for w in ('lf', 'rm'):
        core.wheel_status(w, 'FAULT', 'open_circuit', t)
    x0, rolled = core.odometry.x, 0.0
    end = t + 60.0
    while t < end - 1e-9:
        t, out = run(core, PERIOD, t, v=0.04)
        speed = out.v / GEOMETRY.wheel_radius        # the rover's true rolling speed
        rolled += out.v * PERIOD
        for w in WHEEL_IDS:
            angles[w] += speed * PERIOD * (1.0 + rng.uniform(-0.2, 0.2))
            core.encoder(w, t, angles[w])
    assert rolled > 2.0
    assert core.odometry.x - x0 == pytest.approx(rolled, rel=0.015)
