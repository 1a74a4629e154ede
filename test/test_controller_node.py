"""One drive controller node (/rover/drive_controller) in its own context, no simulator and no
wheel units: commands and wheel health in, setpoints, corner targets and diagnostics asserted
(docs/interfaces.md: rover/cmd_vel, rover/wheel_<id>/setpoint, rover/joint_commands,
Diagnostics).

The test stands in for what the controller hears: the six wheel units' status (their
heartbeat, well inside node_lost_s), their motor readings, and the steering servos (the
corners follow their targets at once, as rover/joint_states). The controller runs as on
hardware (use_sim_time false): its control step is a wall-clock timer, and every setpoint is
stamped with the step's clock, which the timing assertions read.
"""
from __future__ import annotations

import math

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import Twist
import pytest
from sensor_msgs.msg import JointState
from std_msgs.msg import Header

from chang_e_rover import config, graph
from chang_e_rover.robot_description import load_urdf, rover_geometry, STEERED_IDS, WHEEL_IDS
from chang_e_rover.ros_common import CONTROL_QOS, DIAGNOSTICS_QOS, kept, STATE_QOS, stamp_to_ns
from chang_e_rover.runner import build_nodes

P = config.load_params('rover.yaml', 'drive_controller')
RADIUS = rover_geometry(load_urdf(config.urdf_path('rover.urdf'))).wheel_radius
ICD_TOP_SPEED = 0.0556                                  # m/s, ICD vehicle figures
TOP = P['max_speed_m_s'] * (1.0 - P['speed_margin'])    # what the controller commands at most
TIMEOUT_NS = round(P['cmd_timeout_s'] * 1e9)
HEARTBEAT_S = P['node_lost_s'] / 4       # the units' reports, well inside node_lost_s
COMMAND_S = 0.1                          # an operator's command stream, 10 Hz
SLOW = 0.5 * TOP                         # a safe command under the top speed (m/s)

assert P['max_speed_m_s'] == pytest.approx(ICD_TOP_SPEED)


class Bench:
    """The controller under test, and the wheel units, servos and operator around it."""

    def __init__(self, ros):
        self.ros = ros
        [self.node] = build_nodes([graph.find('/rover/drive_controller')], sim_time=False,
                                  context=ros.context)
        ros.add(self.node)
        self.probe = probe = ros.node('controller_bench')
        self.clock = probe.get_clock()
        self.command: tuple[float, float] | None = None   # streamed at 10 Hz; None: silent
        self.last_accepted_ns: int | None = None          # when a finite command was last sent
        self.units = {w: ('ENABLED', 'none') for w in WHEEL_IDS}
        self.silent: set[str] = set()
        self.setpoints = {w: [] for w in WHEEL_IDS}       # (stamp ns, velocity list)
        self.steer: dict[str, float] = {w: 0.0 for w in STEERED_IDS}
        self.encoders = {w: 0.0 for w in WHEEL_IDS}
        self.reports: list[tuple[int, DiagnosticStatus]] = []   # the controller's own
        self.cmd_pub = probe.create_publisher(Twist, 'rover/cmd_vel', STATE_QOS)
        # As the simulator and the units write them: kept for a reader that matches late.
        self.status_pubs = {w: probe.create_publisher(DiagnosticArray, f'rover/wheel_{w}/status',
                                                      kept(CONTROL_QOS)) for w in WHEEL_IDS}
        self.joint_pub = probe.create_publisher(JointState, 'rover/joint_states', kept(STATE_QOS))
        self.motor_pubs = {w: probe.create_publisher(JointState, f'rover/wheel_{w}/motor/state',
                                                     kept(CONTROL_QOS)) for w in WHEEL_IDS}
        subs = [probe.create_subscription(JointState, f'rover/wheel_{w}/setpoint',
                                          lambda msg, w=w: self._setpoint(w, msg), CONTROL_QOS)
                for w in WHEEL_IDS]
        subs.append(probe.create_subscription(JointState, 'rover/joint_commands',
                                              self._joint_commands, STATE_QOS))
        subs.append(probe.create_subscription(DiagnosticArray, '/diagnostics',
                                              self._diagnostics, DIAGNOSTICS_QOS))
        probe.create_timer(HEARTBEAT_S, self._heartbeat)
        probe.create_timer(COMMAND_S, self._operator)
        pubs = [self.cmd_pub, self.joint_pub, *self.motor_pubs.values(),
                *self.status_pubs.values()]
        ros.spin_until(lambda: all(p.get_subscription_count() > 0 for p in pubs)
                       and all(s.get_publisher_count() > 0 for s in subs), 15,
                       'the controller on the graph')
        # standing still, six wheels heard and healthy
        self.wait_report(lambda v: v['healthy_wheels'] == '6', 'six healthy wheels')

    # ---- what the controller hears ----------------------------------------------------------
    def _heartbeat(self) -> None:
        stamp = self.clock.now().to_msg()
        for w in WHEEL_IDS:
            if w in self.silent:
                continue
            state, fault = self.units[w]
            status = DiagnosticStatus(
                level=DiagnosticStatus.OK if state == 'ENABLED' else DiagnosticStatus.ERROR,
                name=f'rover/wheel_{w}', hardware_id=f'wheel_{w}', message=state.lower(),
                values=[KeyValue(key=k, value=v) for k, v in (
                    ('state', state), ('fault', fault), ('speed_rad_s', '0.0'),
                    ('current_a', '0.1'), ('temperature_c', '20.0'))])
            self.status_pubs[w].publish(DiagnosticArray(header=Header(stamp=stamp),
                                                        status=[status]))
            # the encoder turns as last asked (an ideal wheel)
            last = self.setpoints[w][-1][1] if self.setpoints[w] else []
            self.encoders[w] += (last[0] if last else 0.0) * HEARTBEAT_S
            self.motor_pubs[w].publish(JointState(
                header=Header(stamp=stamp), name=[f'wheel_{w}_joint'],
                position=[self.encoders[w]], velocity=[last[0] if last else 0.0],
                effort=[0.5]))

    def _operator(self) -> None:
        if self.command is None:
            return
        v, omega = self.command
        msg = Twist()
        msg.linear.x, msg.angular.z = v, omega
        if math.isfinite(v) and math.isfinite(omega):
            self.last_accepted_ns = self.clock.now().nanoseconds
        self.cmd_pub.publish(msg)

    def _joint_commands(self, msg: JointState) -> None:
        """The steering servos: each corner at its target at once."""
        targets = {n[len('steer_'):-len('_joint')]: q for n, q in zip(msg.name, msg.position)
                   if n.startswith('steer_')}
        self.steer.update(targets)
        self.joint_pub.publish(JointState(
            header=Header(stamp=self.clock.now().to_msg()),
            name=[f'steer_{w}_joint' for w in STEERED_IDS],
            position=[self.steer[w] for w in STEERED_IDS]))

    # ---- what the controller says -----------------------------------------------------------
    def _setpoint(self, wheel: str, msg: JointState) -> None:
        assert list(msg.name) == [f'wheel_{wheel}_joint']
        self.setpoints[wheel].append((stamp_to_ns(msg.header.stamp), list(msg.velocity)))

    def _diagnostics(self, msg: DiagnosticArray) -> None:
        for status in msg.status:
            if status.name == 'rover/drive_controller':
                self.reports.append((stamp_to_ns(msg.header.stamp), status))

    def latest(self) -> dict[str, list[float]]:
        return {w: (s[-1][1] if s else [math.nan]) for w, s in self.setpoints.items()}

    def speeds(self) -> dict[str, float]:
        """The newest setpoint of each wheel, as ground speed (m/s)."""
        return {w: v[0] * RADIUS for w, v in self.latest().items() if v}

    def wait_speeds(self, ok, what: str, timeout: float = 6.0) -> dict[str, float]:
        self.ros.spin_until(lambda: all(self.setpoints.values()) and ok(self.speeds()),
                            timeout, what)
        return self.speeds()

    def values(self) -> dict[str, str]:
        return {kv.key: kv.value for kv in self.reports[-1][1].values}

    def wait_report(self, ok, what: str, timeout: float = 5.0) -> DiagnosticStatus:
        self.ros.spin_until(lambda: self.reports and ok(self.values()), timeout, what)
        return self.reports[-1][1]

    def all_since(self, t_ns: int) -> list[tuple[int, str, list[float]]]:
        return sorted((t, w, v) for w, s in self.setpoints.items() for t, v in s if t >= t_ns)


def test_forward_drives_all_wheels_ahead_clamped_and_a_turn_drives_the_sides_opposite(ros):
    bench = Bench(ros)
    start = bench.clock.now().nanoseconds
    bench.command = (1.0, 0.0)                 # far over the top speed: clamped
    speeds = bench.wait_speeds(lambda s: all(x == pytest.approx(TOP) for x in s.values()),
                               'all six wheels at the top speed')
    assert all(abs(bench.steer[w]) < 1e-9 for w in STEERED_IDS), 'straight: corners straight'
    driven = bench.all_since(start)
    assert all(v and 0.0 <= v[0] * RADIUS <= ICD_TOP_SPEED for _, _, v in driven), \
        'forward, and never past the ICD top speed'
    assert speeds == {w: pytest.approx(TOP) for w in WHEEL_IDS}
    assert bench.values()['mode'] == 'velocity'
    assert float(bench.values()['speed_limit_m_s']) == pytest.approx(TOP, abs=1e-4)

    bench.command = (0.0, P['max_yaw_rate_rad_s'])      # turn in place, to the left
    steer = bench.steer

    def turning(s):
        return (s['lm'] < 0 < s['rm'] and s['lf'] < 0 < s['rf'] and abs(s['lm'] + s['rm']) < 1e-9
                and abs(steer['lf'] + steer['rf']) < 1e-9)     # the twist's end: v = 0
    speeds = bench.wait_speeds(turning, 'a turn in place')
    for left, right in (('lf', 'rf'), ('lm', 'rm'), ('lr', 'rr')):
        assert speeds[left] < 0 < speeds[right]
        assert speeds[left] == pytest.approx(-speeds[right])
    # the corners turn tangent to the circle about the centre: front and rear opposite,
    # left and right mirrored
    assert all(abs(steer[w]) > 0.5 for w in STEERED_IDS)
    assert steer['lf'] == pytest.approx(-steer['rf'])
    assert steer['lr'] == pytest.approx(-steer['rr'])
    assert steer['lf'] == pytest.approx(-steer['lr'])
    assert max(abs(x) for x in speeds.values()) <= TOP + 1e-9


def test_a_non_finite_command_is_refused_and_the_last_safe_one_stands_until_the_timeout(ros):
    bench = Bench(ros)
    bench.command = (SLOW, 0.0)
    bench.wait_speeds(lambda s: all(x == pytest.approx(SLOW) for x in s.values()),
                      'all six wheels at the commanded speed')
    ros.spin_for(2 * COMMAND_S)
    bench.command = (math.nan, 0.0)
    ros.spin_for(2 * COMMAND_S)
    bench.command = (SLOW, math.inf)
    last_accepted = bench.last_accepted_ns
    bench.wait_report(lambda v: int(v['rejected_commands']) >= 2, 'the refusals counted')
    # no setpoint may fall before the timeout counted from the last accepted command
    # (accepted no earlier than it was sent), and they all stop after it
    bench.wait_speeds(lambda s: all(x == 0.0 for x in s.values()), 'the rover stopped')
    after = bench.all_since(last_accepted)
    assert all(v and math.isfinite(v[0]) and v[0] * RADIUS <= SLOW + 1e-9 for _, _, v in after)
    slowed = min(t for t, _, v in after if v[0] * RADIUS < SLOW - 1e-9)
    assert slowed > last_accepted + TIMEOUT_NS, 'the last safe command stands until the timeout'
    ros.spin_for(0.5)
    assert all(x == 0.0 for x in bench.speeds().values()), 'and stays stopped'


def test_without_a_command_for_the_timeout_the_rover_stops(ros):
    bench = Bench(ros)
    sent = bench.clock.now().nanoseconds
    msg = Twist()
    msg.linear.x = SLOW
    bench.cmd_pub.publish(msg)                 # one command, then silence
    bench.wait_speeds(lambda s: all(x > 0.0 for x in s.values()), 'the wheels driven')
    bench.wait_speeds(lambda s: all(x == 0.0 for x in s.values()), 'the rover stopped')
    # the command was taken no earlier than it was sent: no wheel slows down before
    # cmd_timeout_s after that
    peak = {w: 0.0 for w in WHEEL_IDS}
    slowed = []
    for t, w, v in bench.all_since(sent):
        speed = v[0] if v else -math.inf        # no demand: the wheel was isolated
        if speed < peak[w]:
            slowed.append((t, w, v))
        peak[w] = max(peak[w], speed)
    assert min(peak.values()) * RADIUS > 0.5 * SLOW, 'it drove before it stopped'
    assert slowed[0][0] > sent + TIMEOUT_NS, \
        f'{slowed[0]} slowed {(slowed[0][0] - sent) * 1e-9:.3f} s after the command'


def test_a_wheel_in_fault_is_no_longer_driven_and_the_controller_reports_five_healthy(ros):
    bench = Bench(ros)
    bench.command = (1.0, 0.0)
    bench.wait_speeds(lambda s: all(x == pytest.approx(TOP) for x in s.values()),
                      'all six wheels at the top speed')
    assert bench.values()['isolated_wheels'] == ''
    bench.units['lm'] = ('FAULT', 'stall')
    status = bench.wait_report(lambda v: v['healthy_wheels'] == '5', 'five healthy wheels')
    values = bench.values()
    assert status.level == DiagnosticStatus.WARN and 'lm (stall)' in status.message
    assert values['isolated_wheels'] == 'lm'
    assert float(values['speed_limit_m_s']) == pytest.approx(TOP, abs=1e-4)
    fault_seen = bench.reports[-1][0]
    # no demand to the isolated wheel (an empty setpoint), the others at the top speed
    speeds = bench.wait_speeds(lambda s: 'lm' not in s and all(
        x == pytest.approx(TOP) for x in s.values()), 'five wheels at the top speed')
    assert set(speeds) == set(WHEEL_IDS) - {'lm'}
    ros.spin_for(0.3)
    assert all(v == [] for t, v in bench.setpoints['lm'] if t >= fault_seen)
    assert bench.latest()['lm'] == []
    # back in service: driven again, six healthy
    bench.units['lm'] = ('ENABLED', 'none')
    bench.wait_report(lambda v: v['healthy_wheels'] == '6', 'six healthy wheels again')
    bench.wait_speeds(lambda s: all(x == pytest.approx(TOP) for x in s.values()),
                      'all six wheels at the top speed again')
    # a unit that falls silent is lost after node_lost_s, as a fault is
    bench.silent.add('rr')
    status = bench.wait_report(lambda v: v['healthy_wheels'] == '5', 'rr lost')
    assert 'rr (node_lost)' in status.message and bench.values()['isolated_wheels'] == 'rr'
    bench.wait_speeds(lambda s: 'rr' not in s, 'no demand to the lost wheel')


def test_while_the_rear_leads_the_mast_turns_to_the_way_on_once_and_the_navcams_image(ros):
    """The core says when the navcams are to look (the rear leads a goal drive: test_leading):
    the node then sends the mast's pan and tilt once, with the corners, and the navcams'
    imaging on at that change and off at the next."""
    from std_msgs.msg import Bool
    from chang_e_rover.hazard.mast import PAN, TILT
    bench = Bench(ros)
    imaging, mast = [], []
    bench.probe.create_subscription(Bool, 'rover/navcam/imaging',
                                    lambda m: imaging.append(m.data), STATE_QOS)
    bench.probe.create_subscription(
        JointState, 'rover/joint_commands',
        lambda m: mast.append(dict(zip(m.name, m.position))) if PAN in m.name else None,
        STATE_QOS)
    core, looking = bench.node.core, {'on': False}
    step = core.step

    def stepped(t, dt):
        out = step(t, dt)
        out.navcams = looking['on']
        return out
    core.step = stepped
    ros.spin_for(0.5)
    assert imaging == [] and mast == []
    looking['on'] = True
    ros.spin_until(lambda: imaging == [True] and mast, 5, 'the navcams asked for')
    ros.spin_for(0.5)
    assert len(mast) == 1 and imaging == [True], 'sent once, at the change'
    pan = load_urdf(config.urdf_path('rover.urdf')).joints[PAN].upper
    assert mast[0][PAN] == pytest.approx(pan) and mast[0][TILT] == pytest.approx(
        P['mast.look_tilt_rad'])
    assert all(f'steer_{w}_joint' in mast[0] for w in STEERED_IDS)
    looking['on'] = False
    ros.spin_until(lambda: imaging == [True, False], 5, 'the navcams at rest')
    assert len(mast) == 1, 'the mast is left where it looked'


def test_odometry_flags_roll_and_pitch_as_no_estimate_until_the_drive_has_aligned(ros):
    from chang_e_rover.ros_common import attitude_known
    [node] = build_nodes([graph.find('/rover/drive_controller')], sim_time=False,
                         context=ros.context)
    ros.add(node)
    sent = []
    node.odom_pub.publish = sent.append
    node._publish_odometry()
    assert attitude_known(sent[-1]), 'no IMU heard: nothing to wait for'
    t, dt = 0.0, 0.02
    while t < P['attitude.align_s'] + 1.0:      # at rest, level: the gyro's bias is averaged
        node.core.imu(t, (0.0, 0.0, 0.0), (0.0, 0.0, 1.62))
        if t == 0.0:
            node._publish_odometry()
            assert node.core.aligning and not attitude_known(sent[-1])
        t = round(t + dt, 6)
    node._publish_odometry()
    assert not node.core.aligning and attitude_known(sent[-1])


def test_in_simulation_a_step_waits_for_its_periods_inputs_and_the_units_statuses(ros):
    """With use_sim_time the step of period t runs once the six motor readings, the IMU
    sample and the joint states stamped t are in, and the status of the period before from
    every unit on the graph, in whatever order they arrive (DDS keeps one topic's order, not
    the order across topics): an IMU sample in after the readings still goes into its
    period's step, and a unit's status into the step after its stamp."""
    from sensor_msgs.msg import Imu
    from chang_e_rover.ros_common import ns_to_stamp, SIM_SENSOR_QOS
    [node] = build_nodes([graph.find('/rover/drive_controller')], sim_time=True,
                         context=ros.context)
    ros.add(node)
    probe = ros.node('simulator_stand_in')
    probe.create_publisher(Imu, 'rover/imu', kept(SIM_SENSOR_QOS))
    probe.create_publisher(JointState, 'rover/joint_states', kept(STATE_QOS))
    probe.create_publisher(DiagnosticArray, 'rover/wheel_lf/status', kept(CONTROL_QOS))
    ros.spin_until(lambda: all(s.get_publisher_count() > 0 for s in node.period_subs.values())
                   and node.status_subs['lf'].get_publisher_count() > 0, 15,
                   'the IMU, joint states and a unit matched')
    order = []
    step, imu, status = node.core.step, node.core.imu, node.core.wheel_status
    node.core.step = lambda t, dt: order.append(('step', round(t * 1e3))) or step(t, dt)
    node.core.imu = lambda t, *a: order.append(('imu', round(t * 1e3))) or imu(t, *a)
    node.core.wheel_status = lambda w, s, f, t: order.append(('lf', round(t * 1e3))) or status(
        w, s, f, t)
    header = lambda ms: Header(stamp=ns_to_stamp(ms * 1_000_000))

    def readings(ms: int) -> None:
        for w in WHEEL_IDS:
            node.motor_state_callback(w, JointState(header=header(ms), name=[f'wheel_{w}_joint'],
                                                    position=[0.0], velocity=[0.0],
                                                    effort=[0.0]))

    def imu_sample(ms: int) -> None:
        msg = Imu(header=header(ms))
        msg.linear_acceleration.z = 1.62
        node.imu_callback(msg)

    def joints(ms: int) -> None:
        node.joint_states_callback(JointState(header=header(ms),
                                              name=[f'steer_{w}_joint' for w in STEERED_IDS],
                                              position=[0.0] * len(STEERED_IDS)))

    joints(0)
    imu_sample(0)
    readings(0)
    readings(50)
    joints(50)
    assert order == [('imu', 0), ('step', 0)], 'stepped without the IMU sample of its period'
    imu_sample(50)
    assert order == [('imu', 0), ('step', 0), ('imu', 50)], "stepped without lf's status"
    lf = DiagnosticStatus(name='rover/wheel_lf', values=[
        KeyValue(key='state', value='ENABLED'), KeyValue(key='fault', value='none')])
    node.status_callback('lf', DiagnosticArray(header=header(0), status=[lf]))
    assert order == [('imu', 0), ('step', 0), ('imu', 50), ('lf', 0), ('step', 50)]


def test_in_simulation_the_step_a_pairs_outputs_are_due_at_waits_for_them(ros):
    """A stereo pair's hazard map and visual odometry step count from hazard.map_latency_s
    after the pair: with use_sim_time the step at that time waits for the pipeline's answer
    to the pair (taken, as the left hazcam's camera_info says) and for the outputs the
    answer names, in whatever order they arrive; a pair answered with none is not waited
    for past its answer, and a pipeline that left the graph is not waited for."""
    from nav_msgs.msg import OccupancyGrid, Odometry
    from sensor_msgs.msg import CameraInfo
    from chang_e_rover.ros_common import ANSWER_QOS, ns_to_stamp
    [node] = build_nodes([graph.find('/rover/drive_controller')], sim_time=True,
                         context=ros.context)
    ros.add(node)
    probe = ros.node('hazard_pipeline_stand_in')
    pipeline = probe.create_publisher(DiagnosticArray, 'rover/hazard/status', ANSWER_QOS)
    ros.spin_until(lambda: node.hazard_status_sub.get_publisher_count() > 0, 15,
                   'the pipeline matched')
    order = []
    step, hazard = node.core.step, node.core.hazard
    node.core.step = lambda t, dt: order.append(('step', round(t * 1e3))) or step(t, dt)
    node.core.hazard = lambda grid, t: order.append(('map', round(t * 1e3))) or hazard(grid, t)
    header = lambda ms: Header(stamp=ns_to_stamp(ms * 1_000_000), frame_id='odom')
    latency_ms = round(node.map_latency * 1e3)

    def readings(ms: int) -> None:
        for w in WHEEL_IDS:
            node.motor_state_callback(w, JointState(header=header(ms), name=[f'wheel_{w}_joint'],
                                                    position=[0.0], velocity=[0.0],
                                                    effort=[0.0]))

    def answer(ms: int, outputs: str) -> None:
        node.hazard_status_callback(DiagnosticArray(header=header(ms), status=[DiagnosticStatus(
            name='rover/hazard_camera', values=[KeyValue(key='pair_outputs', value=outputs)])]))

    answer(0, 'none')                   # the pipeline has answered a pair: it reads frames
    node.pair_taken_callback(CameraInfo(header=header(1000)))
    readings(1000 + latency_ms - 50)
    readings(1000 + latency_ms)
    assert order == [('step', 1000 + latency_ms - 50)], 'stepped before the answer to the pair'
    answer(1000, 'visual_odom hazard/map')
    vo = Odometry(header=header(1000))
    vo.pose.pose.orientation.w = 1.0
    node.visual_odom_callback(vo)
    assert len(order) == 1, 'stepped before the map its pair had sent'
    grid = OccupancyGrid(header=header(1000))
    grid.info.width = grid.info.height = 2
    grid.info.resolution = 0.1
    grid.data = [0] * 4
    node.hazard_map_callback(grid)
    assert order[1:] == [('map', 1000 + latency_ms), ('step', 1000 + latency_ms)]
    node.pair_taken_callback(CameraInfo(header=header(2000)))
    answer(2000, 'none')
    readings(2000 + latency_ms)
    assert order[-1] == ('step', 2000 + latency_ms), 'waited for outputs not sent'
    node.pair_taken_callback(CameraInfo(header=header(3000)))
    readings(100)                       # sim time started again: the old world's pair
    readings(3000 + latency_ms)         # is owed no answer in the new one
    assert order[-2:] == [('step', 100), ('step', 3000 + latency_ms)], 'waited across worlds'
    node.pair_taken_callback(CameraInfo(header=header(4000)))
    probe.destroy_publisher(pipeline)
    ros.spin_until(lambda: node.hazard_status_sub.get_publisher_count() == 0, 15,
                   'the pipeline gone')
    readings(4000 + latency_ms)
    assert order[-1] == ('step', 4000 + latency_ms), 'waited for a pipeline that left'


def test_a_pairs_outputs_sent_before_the_controller_matched_still_reach_it(ros):
    """The hazard pipeline's answer to a pair is kept for a reader that matches late, and so
    is every output it names that the step waits for: a controller (re)started after the
    pipeline's visual odometry step of the pair hears the step as well as the answer, or it
    would wait for it for ever."""
    from nav_msgs.msg import Odometry
    from chang_e_rover.ros_common import ns_to_stamp
    [hazard] = build_nodes([graph.find('/rover/hazard_camera')], sim_time=True,
                           context=ros.context)
    ros.add(hazard)
    stamp = ns_to_stamp(1_000_000_000)
    vo = Odometry(header=Header(stamp=stamp, frame_id='visual_odom'))
    vo.pose.pose.orientation.w = 1.0
    hazard.vo_pub.publish(vo)
    hazard.status_pub.publish(DiagnosticArray(header=Header(stamp=stamp), status=[
        DiagnosticStatus(name='rover/hazard_camera',
                         values=[KeyValue(key='pair_outputs', value='visual_odom')])]))
    [node] = build_nodes([graph.find('/rover/drive_controller')], sim_time=True,
                         context=ros.context)
    ros.add(node)
    ros.spin_until(lambda: node._pairs._answering, 15, "the pipeline's answer")
    ros.spin_until(lambda: node._pairs._outputs_ns['visual_odom'] >= 1_000_000_000, 5,
                   'the visual odometry step the answer names')


def test_what_the_loop_waits_for_by_stamp_is_kept_for_a_reader_that_matches_late(ros):
    """Every input a node of the loop waits for by stamp (the motor readings and
    temperatures, the IMU sample, the joint states, the units' statuses) is written
    transient local and, in simulation, read so: a sample sent before a subscription
    matched (the first period, in one process per node) still comes, or the node would
    wait for it for ever and the simulator with it. On hardware the readers take any
    driver's samples (volatile)."""
    from rclpy.qos import DurabilityPolicy
    kept_ = DurabilityPolicy.TRANSIENT_LOCAL
    nodes = build_nodes([graph.find('/sim'), graph.find('/rover/wheel_lf'),
                         graph.find('/rover/drive_controller')],
                        {'sim': {'paused': True, 'terrain.name': 'flat'}}, context=ros.context)
    sim, unit, controller = nodes
    writers = [sim.joint_pub, sim.imu_pub, *sim.motor_pubs.values(), *sim.temp_pubs.values(),
               unit.status_pub]
    assert all(w.qos_profile.durability == kept_ for w in writers)
    readers = [*controller.period_subs.values(), *controller.status_subs.values(),
               unit.temperature_sub, *[s for n in (controller, unit) for s in n.subscriptions
                                       if s.topic_name.endswith('/motor/state')]]
    assert len(readers) == 2 + 6 + 1 + 7
    assert all(r.qos_profile.durability == kept_ for r in readers)
    [hardware] = build_nodes([graph.find('/rover/wheel_rf')], sim_time=False, context=ros.context)
    assert all(s.qos_profile.durability != kept_ for s in hardware.subscriptions
               if s.topic_name.endswith(('/motor/state', '/motor/temperature')))
    for node in (*nodes, hardware):
        node.destroy_node()
