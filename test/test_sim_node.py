"""The /sim node in its own ROS context: topics per the ICD, parameters, lock-step, bad input."""
import math

import numpy as np
import pytest
from rcl_interfaces.srv import SetParameters
from rclpy.parameter import Parameter
from rosgraph_msgs.msg import Clock
from nav_msgs.msg import Odometry
from sensor_msgs.msg import CameraInfo, Image, Imu, JointState, Temperature
from std_msgs.msg import Header

from chang_e_rover import config
from chang_e_rover.robot_description import load_urdf, WHEEL_IDS
from chang_e_rover.ros_common import CONTROL_QOS, SENSOR_QOS, STATE_QOS
from chang_e_rover.sim.camera import CameraRig
from chang_e_rover.sim.sim_node import SimNode


def make_sim(ros, **params):
    overrides = [Parameter(k, value=v) for k, v in {'real_time_factor': 0.0, **params}.items()]
    return ros.add(SimNode(context=ros.context, parameter_overrides=overrides))


def collect(ros, node, msg_type, topic, qos):
    got = []
    node.create_subscription(msg_type, topic, got.append, qos)
    return got


def test_sim_publishes_the_icd_topics(ros):
    sim = make_sim(ros)
    probe = ros.node('probe')
    clock = collect(ros, probe, Clock, '/clock', 10)
    joints = collect(ros, probe, JointState, 'rover/joint_states', STATE_QOS)
    imu = collect(ros, probe, Imu, 'rover/imu', SENSOR_QOS)
    truth = collect(ros, probe, Odometry, 'sim/ground_truth/odom', STATE_QOS)
    motors = {w: collect(ros, probe, JointState, f'rover/wheel_{w}/motor/state', CONTROL_QOS)
              for w in WHEEL_IDS}
    temps = collect(ros, probe, Temperature, 'rover/wheel_lf/motor/temperature', STATE_QOS)
    ros.spin_until(lambda: len(clock) > 40 and joints and imu and truth and temps and
                   all(motors.values()), 30, 'sim topics')
    times = [c.clock.sec + c.clock.nanosec * 1e-9 for c in clock]
    assert all(b > a for a, b in zip(times, times[1:])), '/clock must advance'
    urdf = load_urdf(config.urdf_path('rover.urdf'))
    movable = {j.name for j in urdf.joints.values() if j.kind != 'fixed'}
    assert set(joints[-1].name) == movable
    assert len(joints[-1].effort) == len(joints[-1].name)
    z = truth[-1].pose.pose.position.z
    assert z == pytest.approx(0.55, abs=0.02)   # standing on its wheels on flat ground
    assert imu[-1].linear_acceleration.z == pytest.approx(1.62, abs=0.05)   # lunar gravity
    # a strapdown IMU: no orientation (REP 145), rates with their sample noise
    assert imu[-1].orientation_covariance[0] == -1.0 and imu[-1].orientation.w == 0.0
    assert imu[-1].angular_velocity_covariance[0] == pytest.approx(
        sim.world.imu_model.sample_sigma[0] ** 2)
    assert motors['rr'][-1].name == ['wheel_rr_joint']
    assert temps[-1].temperature == pytest.approx(20.0, abs=0.5)
    del sim


def test_hazcam_frames_are_red_and_carry_calibration(ros):
    sim = make_sim(ros)
    probe = ros.node('probe')
    images = collect(ros, probe, Image, 'rover/hazcam/left/image_raw', SENSOR_QOS)
    infos = collect(ros, probe, CameraInfo, 'rover/hazcam/left/camera_info', SENSOR_QOS)
    ros.spin_until(lambda: images and infos, 60, 'a hazcam frame')
    img, info = images[0], infos[0]
    assert (img.width, img.height, img.encoding) == (1024, 1024, 'rgb8')
    pixels = np.frombuffer(bytes(img.data), np.uint8).reshape(img.height, img.width, 3)
    ground = pixels[600:900, 300:700].reshape(-1, 3).astype(float).mean(axis=0)
    # the rover stands still: a fresh render of the same view is the scene's true colour
    rig = CameraRig(sim.world.model, sim.world.cameras)
    truth = rig.render(sim.world.data, 'hazcam_left')[600:900, 300:700]
    rig.close()
    truth = truth.reshape(-1, 3).astype(float).mean(axis=0)
    np.testing.assert_allclose(ground / truth, sim.params['camera.response_rgb'], rtol=0.03)
    assert ground[0] / ground[2] > 1.5 * truth[0] / truth[2], 'raw frames must look red'
    f = 512 / math.tan(math.radians(45))
    assert info.k[0] == pytest.approx(f) and info.k[4] == pytest.approx(f)
    assert info.header.frame_id == 'hazcam_left_optical_frame'
    assert info.p[3] == 0.0
    right = sim.world.cameras['hazcam_right']
    assert right.stereo_baseline_m == pytest.approx(0.20)   # urdf/rover.urdf


def test_the_navcams_image_only_while_asked_half_a_period_after_the_hazcams(ros):
    from std_msgs.msg import Bool
    sim = make_sim(ros)
    probe = ros.node('probe')
    hazcam = collect(ros, probe, CameraInfo, 'rover/hazcam/left/camera_info', SENSOR_QOS)
    navcam = collect(ros, probe, CameraInfo, 'rover/navcam/left/camera_info', SENSOR_QOS)
    for cam in ('hazcam', 'navcam'):     # someone looks: the cameras render
        collect(ros, probe, Image, f'rover/{cam}/left/image_raw', SENSOR_QOS)
    imaging = probe.create_publisher(Bool, 'rover/navcam/imaging', STATE_QOS)
    ros.spin_until(lambda: len(hazcam) >= 2, 60, 'two hazcam frames')
    assert navcam == [], 'no navcam frame before the drive asks'
    imaging.publish(Bool(data=True))
    ros.spin_until(lambda: len(navcam) >= 2, 60, 'two navcam frames')
    imaging.publish(Bool(data=False))
    ros.spin_until(lambda: not sim.navcam_imaging, 10, 'imaging off')
    heard = len(navcam)
    t_off = sim.world.time
    ros.spin_until(lambda: sim.world.time > t_off + 2.0, 60, 'two more seconds')
    assert len(navcam) == heard, 'no navcam frame once the drive stops asking'
    stamps = [m.header.stamp.sec + m.header.stamp.nanosec * 1e-9 for m in navcam]
    assert all(math.isclose(s % 1.0, 0.5, abs_tol=1e-6) for s in stamps), stamps
    info = navcam[0]
    assert (info.width, info.height) == (1024, 1024)
    assert info.header.frame_id == 'navcam_left_optical_frame'
    assert sim.world.cameras['navcam_right'].stereo_baseline_m == pytest.approx(0.27)


def set_params(ros, node_name, params):
    probe = ros.node('param_probe')
    client = probe.create_client(SetParameters, f'/{node_name}/set_parameters')
    assert client.wait_for_service(10)
    future = client.call_async(SetParameters.Request(
        parameters=[Parameter(k, value=v).to_parameter_msg() for k, v in params.items()]))
    ros.spin_until(future.done, 10, 'set_parameters')
    return future.result().results


def test_fault_parameters_take_effect_and_bad_values_are_refused(ros):
    sim = make_sim(ros)
    [ok] = set_params(ros, 'sim', {'fault.wheel_lf': 'open_circuit'})
    assert ok.successful and sim.world.motors.faults[0] == 'open_circuit'
    [bad] = set_params(ros, 'sim', {'fault.wheel_lf': 'gremlins'})
    assert not bad.successful and 'expected' in bad.reason
    assert sim.world.motors.faults[0] == 'open_circuit'
    [bad] = set_params(ros, 'sim', {'real_time_factor': -1.0})
    assert not bad.successful
    [bad] = set_params(ros, 'sim', {'terrain.rock_abundance': 0.5})
    assert not bad.successful and '0 to 0.4' in bad.reason
    [ro] = set_params(ros, 'sim', {'physics.gravity_m_s2': 9.81})
    assert not ro.successful and sim.world.model.opt.gravity[2] == pytest.approx(-1.62)


def test_lock_step_waits_for_a_driver_on_the_graph_and_its_watchdog_names_it(ros):
    """A driver that is on the graph is waited for, however long, until the wall-clock
    watchdog stops the simulation with an error naming it; one that answers is stepped
    with; one that leaves is no longer waited for."""
    from chang_e_rover.ros_common import ns_to_stamp
    from chang_e_rover.sim.lockstep import LockstepStalled
    sim = make_sim(ros, **{'lockstep.watchdog_s': 3.0})
    probe = ros.node('silent_driver')
    pub = probe.create_publisher(JointState, 'rover/wheel_lf/motor/command', CONTROL_QOS)
    probe.create_subscription(JointState, 'rover/wheel_lf/motor/state', lambda m: None,
                              CONTROL_QOS)
    ros.spin_until(lambda: sim.lockstep.channels['wheel_lf'].present, 10, 'the driver present')
    t0 = sim.world.time
    ros.spin_for(1.0)
    assert sim.world.time - t0 <= sim.period_s + 1e-9, 'must wait for the driver'
    pub.publish(JointState(header=Header(stamp=ns_to_stamp(round(sim.world.time * 1e9))),
                           effort=[0.0]))
    ros.spin_until(lambda: sim.world.time >= t0 + sim.period_s - 1e-9, 5,
                   'the step its answer allows')
    with pytest.raises(LockstepStalled, match='wheel_lf'):
        ros.spin_for(5.0)
    assert sim.failure and 'wheel_lf' in sim.failure


def test_lock_step_stops_waiting_for_a_driver_that_left_the_graph(ros):
    sim = make_sim(ros)
    probe = ros.node('leaving_driver')
    pub = probe.create_publisher(JointState, 'rover/wheel_rr/motor/command', CONTROL_QOS)
    sub = probe.create_subscription(JointState, 'rover/wheel_rr/motor/state', lambda m: None,
                                    CONTROL_QOS)
    ros.spin_until(lambda: sim.lockstep.channels['wheel_rr'].present, 10, 'the driver present')
    t0 = sim.world.time
    probe.destroy_publisher(pub)
    probe.destroy_subscription(sub)
    ros.spin_until(lambda: sim.world.time > t0 + 1.0, 10, 'stepping on without it')


def test_non_finite_motor_command_is_refused(ros):
    sim = make_sim(ros)
    probe = ros.node('driver')
    pub = probe.create_publisher(JointState, 'rover/wheel_rm/motor/command', CONTROL_QOS)
    probe.create_subscription(JointState, 'rover/wheel_rm/motor/state', lambda m: None,
                              CONTROL_QOS)
    ros.spin_until(lambda: sim.lockstep.channels['wheel_rm'].present, 10, 'the driver present')
    pub.publish(JointState(effort=[2.5]))
    ros.spin_until(lambda: sim.world.torque_command[4] == 2.5, 10, 'the good command')
    pub.publish(JointState(effort=[math.nan]))
    pub.publish(JointState(effort=[1.0, 2.0]))
    ros.spin_for(0.5)
    assert sim.world.torque_command[4] == 2.5
