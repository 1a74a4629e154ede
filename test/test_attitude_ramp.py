"""The flight software's attitude against the simulator's truth, up the 20 deg ramp.

The flight cores on the simulator (test/harness.py): the IMU with its errors
(sim/imu.py, config/sim.yaml imu.*), the attitude estimate and the odometry's
heading (drive/attitude.py, drive/odometry.py) against the true pose (the
simulator's ground truth, as sim/ground_truth/odom carries it). The rover stands
20 s first, as it stands on the lander's deck before it drives off.
"""
import math

from chang_e_rover import config
from harness import Rover

IMU = config.section(config.load_params('sim.yaml', 'sim'), 'imu')
GRAVITY = 1.62
REST_S = 20.0
GOAL = (7.0, 0.0)         # the ramp begins at 3 m: the last 2.5 m at 20 deg


def rpy(q) -> tuple[float, float, float]:
    w, x, y, z = (float(v) for v in q)
    return (math.atan2(2 * (w * x + y * z), 1 - 2 * (x * x + y * y)),
            math.asin(max(-1.0, min(1.0, 2 * (w * y - z * x)))),
            math.atan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z)))


def wrap(a: float) -> float:
    return math.atan2(math.sin(a), math.cos(a))


def test_roll_pitch_and_heading_follow_the_truth_up_the_ramp():
    rover = Rover('ramp20')
    rover.run(REST_S)
    start = rpy(rover.world.ground_truth().quaternion)
    heading0 = wrap(rover.core.odometry.yaw - start[2])
    worst = {'roll': 0.0, 'pitch': 0.0, 'heading': 0.0}
    steepest = [0.0]

    def compare(r: Rover) -> None:
        roll, pitch, yaw = rpy(r.world.ground_truth().quaternion)
        steepest[0] = min(steepest[0], pitch)
        for key, err in (('roll', r.core.roll - roll), ('pitch', r.core.pitch - pitch),
                         ('heading', wrap(r.core.odometry.yaw - yaw) - heading0)):
            worst[key] = max(worst[key], abs(err))

    assert rover.drive_to(*GOAL, timeout=300.0, during=compare)
    drive_s = rover.world.time - REST_S
    est = rover.core.attitude_estimator
    left = [a - b for a, b in zip(rover.world.imu_model.gyro_bias, est.bias)]
    print(f'up the ramp ({drive_s:.0f} s, pitch to {math.degrees(steepest[0]):.1f} deg): worst '
          + ', '.join(f'{k} {math.degrees(v):.3f} deg' for k, v in worst.items())
          + f'; gyro bias left after the rest {[f"{v:.1e}" for v in left]} rad/s')
    assert math.degrees(steepest[0]) < -19.0, 'the rover was on the 20 deg slope'
    # Roll and pitch: the accelerometer's bias over lunar gravity (0.5 mg: 0.17 deg, 1 sigma)
    # and the rover's own accelerations over the filter's 10 s: within 1 deg.
    assert math.degrees(max(worst['roll'], worst['pitch'])) < 1.0
    assert max(worst['roll'], worst['pitch']) < 5 * float(IMU['accel_bias_sigma_m_s2']) / GRAVITY
    # Heading: the bias the rest leaves (angle random walk over 19.5 s of rest: 0.0003 deg/s,
    # 1 sigma) and the walk since, over the drive: well under 1 deg.
    assert math.degrees(worst['heading']) < 1.0
