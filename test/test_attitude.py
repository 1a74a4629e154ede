"""The attitude estimate (drive/attitude.py) and the simulated IMU's errors (sim/imu.py), no ROS.

Synthetic samples of a body at a known attitude, read through the simulator's IMU
model with its configured figures: tilt recovered, bias found at rest and held in
motion, heading drift bounded by what the rest leaves of the bias.
"""
import math

import numpy as np
import pytest

from chang_e_rover import config
from chang_e_rover.drive.attitude import AttitudeEstimator, tilt_from_gravity
from chang_e_rover.sim.imu import ImuModel

P = config.load_params('rover.yaml', 'drive_controller')
IMU = config.section(config.load_params('sim.yaml', 'sim'), 'imu')
G = 1.62
RATE = float(IMU['rate_hz'])
DT = 1.0 / RATE


def gravity_in_body(roll: float, pitch: float) -> np.ndarray:
    """The specific force of a body standing at roll and pitch (ZYX) on the Moon."""
    return G * np.array([-math.sin(pitch), math.cos(pitch) * math.sin(roll),
                         math.cos(pitch) * math.cos(roll)])


def feed(est: AttitudeEstimator, imu: ImuModel, t0: float, seconds: float, roll: float,
         pitch: float, still: bool, rates=(0.0, 0.0, 0.0)) -> float:
    """Feed seconds of samples of a body at (roll, pitch) turning at body rates; return the
    end time and the integral of the estimate's heading rate."""
    heading, t = 0.0, t0
    for _ in range(int(round(seconds * RATE))):
        t += DT
        gyro, accel = imu.measure(t, np.array(rates), gravity_in_body(roll, pitch))
        assert est.update(t, gyro, accel, still)
        heading += est.heading_rate * DT
    return t, heading


@pytest.fixture
def imu():
    return ImuModel(IMU, np.random.default_rng(3))


def test_tilt_from_gravity_inverts_the_body_gravity():
    for roll, pitch in ((0.0, 0.0), (0.1, -0.3), (-0.35, 0.35), (0.05, 1.2)):
        assert tilt_from_gravity(*gravity_in_body(roll, pitch)) == pytest.approx((roll, pitch))


def test_a_static_tilt_is_recovered_within_the_accelerometer_bias(imu):
    est = AttitudeEstimator(P)
    roll, pitch = math.radians(6.0), math.radians(-15.0)
    feed(est, imu, 0.0, 20.0, roll, pitch, still=True)
    # what remains is the accelerometer's bias over gravity (0.5 mg: 0.17 deg, 1 sigma)
    bound = 4 * float(IMU['accel_bias_sigma_m_s2']) / G
    assert abs(est.roll - roll) < bound and abs(est.pitch - pitch) < bound
    off = np.array(imu.accel_bias[:2]) / G
    assert abs(est.pitch - pitch) == pytest.approx(abs(off[0]) / math.cos(pitch), abs=2e-3)


def test_the_gyro_bias_is_found_at_rest_and_held_in_motion(imu):
    est = AttitudeEstimator(P)
    t, _ = feed(est, imu, 0.0, 20.0, 0.0, 0.0, still=True)
    rest = 20.0 - float(P['attitude.rest_settle_s'])
    sigma = float(IMU['gyro_noise_rad_per_sqrt_s']) / math.sqrt(rest)   # mean of the rest
    turn_on = float(IMU['gyro_bias_sigma_rad_s'])
    assert np.max(np.abs(imu.gyro_bias)) > 10 * sigma, 'a bias worth finding'
    np.testing.assert_allclose(est.bias, imu.gyro_bias, atol=max(5 * sigma, turn_on / 30))
    found = list(est.bias)
    feed(est, imu, t, 10.0, 0.0, 0.0, still=False, rates=(0.0, 0.02, 0.05))
    assert est.bias == found, 'held while the rover moves'


def test_rates_over_the_gate_are_not_taken_for_rest(imu):
    """Commands at zero but the body turning (pushed, the deck moving): no bias learned."""
    est = AttitudeEstimator(P)
    feed(est, imu, 0.0, 10.0, 0.0, 0.0, still=True,
         rates=(0.0, 0.0, 2 * float(P['attitude.rest_max_rate_rad_s'])))
    assert est.bias == [0.0, 0.0, 0.0] and est.calibrated_s == 0.0


def test_heading_drift_is_bounded_by_the_bias_left_after_rest(imu):
    est = AttitudeEstimator(P)
    t, _ = feed(est, imu, 0.0, 10.0, 0.0, 0.0, still=True)
    left = np.array(imu.gyro_bias) - np.array(est.bias)
    drive = 100.0
    _, heading = feed(est, imu, t, drive, 0.0, 0.0, still=False)
    arw = float(IMU['gyro_noise_rad_per_sqrt_s']) * math.sqrt(drive)
    walk = float(IMU['gyro_bias_walk_rad_s_per_sqrt_s']) * drive ** 1.5
    assert abs(heading) <= abs(left[2]) * drive + 4 * (arw + walk)
    assert math.degrees(abs(heading)) < 0.2
    # without the rest the turn-on bias is all there is: degrees in the same time
    raw = ImuModel(IMU, np.random.default_rng(3))
    _, uncorrected = feed(AttitudeEstimator(P), raw, 0.0, drive, 0.0, 0.0, still=False)
    assert abs(uncorrected) == pytest.approx(abs(raw.gyro_bias[2]) * drive, rel=0.1)


def test_tilt_follows_a_pitch_change_while_driving(imu):
    """Pitching up a ramp's edge at 0.02 rad/s for 17 s (0 to 20 deg), still=False."""
    est = AttitudeEstimator(P)
    t, _ = feed(est, imu, 0.0, 10.0, 0.0, 0.0, still=True)
    rate, worst = -0.02, 0.0
    for i in range(int(17.5 * RATE)):
        t += DT
        pitch = rate * (i + 1) * DT
        gyro, accel = imu.measure(t, np.array([0.0, rate, 0.0]), gravity_in_body(0.0, pitch))
        est.update(t, gyro, accel, False)
        worst = max(worst, abs(est.pitch - pitch))
    assert math.degrees(worst) < 0.5


def test_bad_samples_change_nothing():
    est = AttitudeEstimator(P)
    assert est.update(1.0, (0.0, 0.0, 0.0), gravity_in_body(0.0, 0.0), True)
    before = (est.roll, est.pitch, list(est.bias))
    assert not est.update(2.0, (math.nan, 0.0, 0.0), gravity_in_body(0.0, 0.0), True)
    assert not est.update(1.0, (0.0, 0.0, 0.0), gravity_in_body(0.3, 0.0), True), 'not after'
    assert not est.update(3.0, (0.0, 0.0), gravity_in_body(0.0, 0.0), True)
    assert (est.roll, est.pitch, list(est.bias)) == before


def test_the_imu_model_repeats_from_its_seed_and_has_the_configured_noise():
    a, b = (ImuModel(IMU, np.random.default_rng(9)) for _ in range(2))
    readings = [[m.measure(i * DT, np.zeros(3), np.zeros(3)) for i in range(2000)]
                for m in (a, b)]
    for (ga, fa), (gb, fb) in zip(*readings):
        assert np.array_equal(ga, gb) and np.array_equal(fa, fb)
    gyro = np.array([g for g, _ in readings[0]])
    sigma_g, sigma_f = a.sample_sigma
    assert np.std(gyro, axis=0) == pytest.approx([sigma_g] * 3, rel=0.1)
    accel = np.array([f for _, f in readings[0]])
    assert np.std(accel, axis=0) == pytest.approx([sigma_f] * 3, rel=0.1)
    with pytest.raises(ValueError):
        ImuModel({**IMU, 'gyro_noise_rad_per_sqrt_s': -1.0}, np.random.default_rng(0))


def test_the_drive_learns_the_bias_only_while_it_stands_and_levels_the_heading(imu):
    """DriveCore.imu: still while nothing is commanded and no wheel turns; the odometry
    takes the corrected rates and the estimate's tilt."""
    from chang_e_rover.drive.controller import DriveCore
    from chang_e_rover.robot_description import load_urdf, rover_geometry, WHEEL_IDS
    core = DriveCore(rover_geometry(load_urdf(config.urdf_path('rover.urdf'))), P, 0.0)
    roll = math.radians(10.0)
    t = 0.0
    for _ in range(int(10 * RATE)):             # standing on a side slope
        t += DT
        core.imu(t, *imu.measure(t, np.zeros(3), gravity_in_body(roll, 0.0)))
    est = core.attitude_estimator
    assert est.calibrated_s > 9.0
    assert core.roll == pytest.approx(roll, abs=0.01) and core.pitch == pytest.approx(0, abs=0.01)
    learned = list(est.bias)
    core.command_velocity(0.05, 0.0, t)          # commanded: not at rest, whatever the gyro says
    for _ in range(int(5 * RATE)):
        t += DT
        core.imu(t, *imu.measure(t, np.zeros(3), gravity_in_body(roll, 0.0)))
    assert est.bias == learned
    core.command_velocity(0.0, 0.0, t)
    core.governor.update(t, 10.0)                # ramped down to rest
    for w in WHEEL_IDS:                          # a wheel still turning: not at rest either
        core.encoder(w, t, 0.0)
        core.encoder(w, t + 1.0, 0.05 if w == 'lf' else 0.0)
    for _ in range(int(5 * RATE)):
        t += DT
        core.imu(t, *imu.measure(t, np.zeros(3), gravity_in_body(roll, 0.0)))
    assert est.bias == learned
    # the heading: the body's z rate, less the bias, levelled with the estimated roll
    t += DT
    core.imu(t, *imu.measure(t, np.array([0.0, 0.0, 0.05]), gravity_in_body(roll, 0.0)))
    assert core.gyro == pytest.approx(0.05, abs=5e-4)
    assert core.odometer.heading_rate == pytest.approx(0.05 * math.cos(roll), abs=5e-4)


def test_the_imu_puts_out_the_interval_means_so_a_jolt_between_samples_is_not_aliased():
    from transforms3d.axangles import axangle2mat
    from chang_e_rover.sim.imu import interval_means, rotation_vector
    gravity = np.array([0.0, 0.0, -G])
    axis = np.array([0.3, -0.5, 0.8]) / np.linalg.norm([0.3, -0.5, 0.8])
    r0 = axangle2mat([1.0, 2.0, 0.5], 0.4)
    assert rotation_vector(axangle2mat(axis, 0.7)) == pytest.approx(0.7 * axis)
    # turning steadily about a body axis at 0.6 rad/s, accelerating at 0.2 m/s^2 along x
    r1 = r0 @ axangle2mat(axis, 0.6 * DT)
    v0 = np.array([0.05, 0.0, 0.0])
    rates, force = interval_means(r0, v0, r1, v0 + [0.2 * DT, 0.0, 0.0], DT, gravity)
    assert rates == pytest.approx(0.6 * axis)
    assert force == pytest.approx(0.5 * (r0 + r1).T @ np.array([0.2, 0.0, G]))
    # a 30 Hz rock of the chassis (0.02 rad peak) sampled at 20 Hz: the means integrate to
    # the true angle, where the rates at the sample instants wander off it
    def angle(t):
        return 0.02 * math.sin(2 * math.pi * 30.0 * t)
    means = instants = 0.0
    for k in range(1, 200):
        t0, t1 = (k - 1) * DT, k * DT
        rate, _ = interval_means(axangle2mat([1, 0, 0], angle(t0)), np.zeros(3),
                                 axangle2mat([1, 0, 0], angle(t1)), np.zeros(3), DT, gravity)
        means += rate[0] * DT
        instants += 0.02 * 2 * math.pi * 30.0 * math.cos(2 * math.pi * 30.0 * t1) * DT
        assert abs(means - angle(t1)) < 1e-9
    assert abs(instants - angle(t1)) > 0.1, 'the instantaneous rates alias the rocking'
