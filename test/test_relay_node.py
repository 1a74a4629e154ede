"""/lander/relay on the ROS graph: downlink plan to archive, telecommand to rover motion."""
import math

from nav_msgs.msg import Odometry
import numpy as np
import pytest
from rosbags.highlevel import AnyReader
from sensor_msgs.msg import Image
from std_msgs.msg import Float32MultiArray, MultiArrayDimension

from chang_e_rover import graph, runner
from chang_e_rover.navigation.goal_status import GoalState, GoalStatus
from chang_e_rover.relay.clock import LinkClock
from chang_e_rover.relay.endpoint import ACCEPT_FAILED, ACCEPTED, CODES, COMPLETED, STARTED
from chang_e_rover.relay.ground_cli import make_ground, make_link
from chang_e_rover.ros_common import SENSOR_QOS, STATE_QOS
from chang_e_rover.science.instruments import LPR_SAMPLES


@pytest.fixture
def link():
    lk = make_link().start()
    yield lk
    lk.stop()


def wait(ros, predicate, timeout, what):
    ros.spin_until(predicate, timeout, what)


def test_plan_topics_reach_the_ground_archive(ros, link, tmp_path):
    relay = ros.add(graph.find('/lander/relay').load_factory()(
        namespace='lander', context=ros.context,
        parameter_overrides=runner_params({'downlink.odom.rate_hz': 100.0})))
    ground = make_ground(archive_dir=str(tmp_path / 'archive')).start()
    try:
        probe = ros.node('instrument')
        lpr = probe.create_publisher(Float32MultiArray, '/rover/lpr/trace', STATE_QOS)
        odom = probe.create_publisher(Odometry, '/rover/odom', STATE_QOS)
        cam = probe.create_publisher(Image, '/rover/pancam/image_raw', SENSOR_QOS)
        ros.spin_for(1.0)
        good = np.sin(np.linspace(0, 20, LPR_SAMPLES)).astype(np.float32) * 0.5
        for i, trace in enumerate((good, np.full(LPR_SAMPLES, np.nan, np.float32), good)):
            msg = Float32MultiArray(data=trace.tolist())
            msg.layout.dim = [MultiArrayDimension(label='sample', size=LPR_SAMPLES,
                                                  stride=LPR_SAMPLES)]
            lpr.publish(msg)
            o = Odometry()
            o.pose.pose.position.x = float(i)
            odom.publish(o)
            ros.spin_for(0.1)
        img = Image(height=480, width=640, encoding='rgb8', step=640 * 3)
        img.data = (np.random.default_rng(0).integers(0, 255, (480, 640, 3), np.uint8)).tobytes()
        cam.publish(img)
        wait(ros, lambda: len(ground.archive.images) >= 1
             and ground.archive.counts.get('/rover/lpr/trace', 0) >= 3
             and ground.archive.counts.get('/rover/odom', 0) >= 3, 60, 'products on the ground')
    finally:
        ground.stop()
    assert relay.endpoint.tc_refused == 0
    assert ground.archive.invalid == 1, 'the NaN trace is flagged, not dropped'
    # An independent reader (rosbags) opens the archive and decodes every message in it.
    seen = {}
    with AnyReader([ground.archive.path]) as reader:
        for channel, _, raw in reader.messages():
            seen.setdefault(channel.topic, []).append(reader.deserialize(raw, channel.msgtype))
    assert [m.pose.pose.position.x for m in seen['/rover/odom']][:3] == [0.0, 1.0, 2.0]
    traces = seen['/rover/lpr/trace']
    assert len(traces) == 3 and len(traces[0].data) == LPR_SAMPLES
    assert math.isnan(traces[1].data[0]) and traces[2].data[5] == pytest.approx(good[5])
    pancam, = seen['/rover/pancam/image_raw/compressed']    # as image_transport names it
    assert pancam.format == 'jpeg'
    jpg = ground.archive.images[0]
    import cv2
    thumb = cv2.imread(str(jpg))
    assert thumb.shape == (240, 320, 3), 'pancam downlinked at half size'


def runner_params(extra):
    from rclpy.parameter import Parameter
    return [Parameter(k, value=v) for k, v in extra.items()]


def test_telecommand_drives_the_rover_to_a_goal_and_completion_comes_back(ros):
    # The whole graph, the space link among it (/link), on the simulator's clock; the
    # ground station follows that clock too (through the relay node's).
    nodes = runner.build_nodes(graph.all_nodes(), {'sim': {'real_time_factor': 0.0}},
                               context=ros.context, sim_time=True)
    for node in nodes:
        ros.add(node)
    sim = nodes[0]
    relay = next(n for n in nodes if n.get_name() == 'relay')
    assert relay.endpoint.clock.simulated
    ground = make_ground(archive=False, clock=LinkClock(relay.get_clock())).start()
    try:
        wait(ros, lambda: sim.world.time > 1.0 and ground.status is not None, 60, 'relay status')
        seq = ground.send('drive_goal', x_m=1.0, y_m=0.0)
        wait(ros, lambda: any(r.kind == STARTED for r in ground.pending[seq].reports), 60,
             'the telecommand accepted and started')
        wait(ros, lambda: ground.pending[seq].finished or any(
            r.kind == COMPLETED for r in ground.pending[seq].reports), 240, 'completion')
        kinds = [r.kind for r in ground.pending[seq].reports]
        assert kinds[:3] == [ACCEPTED, STARTED, COMPLETED], ground.pending[seq].reports
        pos = sim.world.ground_truth().position
        assert math.hypot(pos[0] - 1.0, pos[1]) < 0.25
        # Point the lander's terrain camera and enter safe mode: both complete.
        point = ground.send('point_camera', camera=1, pan_rad=0.5, tilt_rad=0.2)
        mode = ground.send('set_mode', mode=1)
        bad = ground.send('point_camera', camera=0, pan_rad=0.0, tilt_rad=2.0)   # past the stop
        for seq in (point, mode, bad):
            wait(ros, lambda: ground.pending[seq].finished or any(
                r.kind == COMPLETED for r in ground.pending[seq].reports), 120, f'TC {seq}')
        assert [r.kind for r in ground.pending[point].reports] == [ACCEPTED, STARTED, COMPLETED]
        assert [r.kind for r in ground.pending[mode].reports] == [ACCEPTED, STARTED, COMPLETED]
        assert [(r.kind, r.code) for r in ground.pending[bad].reports] == [
            (ACCEPT_FAILED, CODES['bad_arguments'])]
        assert relay.endpoint.mode == 1
        wait(ros, lambda: ground.status.mode == 1, 30, 'safe mode in the relay status')
        # A replay of the same bytes is refused and executes nothing.
        refused = ground.status.tc_refused
        before = list(ground.pending[point].reports)
        ground._uplink.append(ground.pending[point].raw)
        wait(ros, lambda: any(r.kind == ACCEPT_FAILED and r.code == CODES['replay']
                              and r.seq == point for r in ground.reports), 60,
             'the replay refused and reported')
        wait(ros, lambda: ground.status.tc_refused > refused, 30, 'the refusal counted')
        new = ground.pending[point].reports[len(before):]
        assert not new, f'the replay executed something, or was taken for a verdict: {new}'
        assert ground.pending[point].repeats_refused >= 1, 'counted as a repeat refused'
        assert ground.summary()['telecommand_repeats_refused'] >= 1
    finally:
        ground.stop()


def _goal_status(state: GoalState, x: float, stamp_ns: int, short: float = 0.0,
                 reason: str = '') -> 'DiagnosticStatus':
    from diagnostic_msgs.msg import DiagnosticStatus, KeyValue
    status = GoalStatus(state, x, 0.0, stamp_ns, 0.1, short, reason)
    return DiagnosticStatus(name='rover/goal_status',
                            values=[KeyValue(key=k, value=v) for k, v in status.to_values()])


def test_drive_goal_completes_on_the_controllers_verdict_and_says_how_short_it_ended(ros):
    from diagnostic_msgs.msg import DiagnosticStatus, KeyValue
    from chang_e_rover.relay.telecommands import BY_NAME, Telecommand
    relay = ros.add(graph.find('/lander/relay').load_factory()(
        namespace='lander', context=ros.context))
    check = relay._tc_drive_goal(Telecommand(1, BY_NAME['drive_goal'], {'x_m': 5.0, 'y_m': 0.0}))
    x, y, stamp = relay.goal_target
    assert (x, y) == (5.0, 0.0)
    assert check() is None, 'no verdict before the controller gives one'
    relay.goal_status_callback(_goal_status(GoalState.ACTIVE, 5.0, stamp))
    assert check() is None
    relay.goal_status_callback(_goal_status(GoalState.REACHED, 4.0, stamp))
    assert check() is None, 'another goal reached is not this one'
    relay.goal_status_callback(_goal_status(GoalState.REACHED, 5.0, stamp - 1))
    assert check() is None, 'an earlier goal to the same point (a latched status) is not this one'
    relay.goal_status_callback(_goal_status(GoalState.HELD, 5.0, stamp, reason='backing off'))
    assert check() is None, 'held, it is still under way'
    relay.goal_status_callback(_goal_status(GoalState.REACHED, 5.0, stamp))
    assert check() == (True, 'goal (5.00, 0.00) reached')
    # Held within goal_held_tolerance_m, the drive ends there: the report says how short.
    relay.goal_status_callback(_goal_status(GoalState.REACHED_SHORT, 5.0, stamp, 0.18))
    assert check() == (True, 'goal (5.00, 0.00) reached, held 0.18 m short')
    # A status that is not one (the old formatted string, an unknown state) changes nothing.
    for bad in ([KeyValue(key='goal', value='(5.00, 0.00) reached')],
                [KeyValue(key=k, value='DONE' if k == 'state' else v)
                 for k, v in GoalStatus(GoalState.ACTIVE, 5.0, 0.0, stamp).to_values()]):
        relay.goal_status_callback(DiagnosticStatus(name='rover/goal_status', values=bad))
        assert check() == (True, 'goal (5.00, 0.00) reached, held 0.18 m short')
    relay.goal_status_callback(_goal_status(GoalState.FAILED, 5.0, stamp,
                                            reason='cancelled by a velocity command'))
    assert check() == (False, 'goal (5.00, 0.00) failed: cancelled by a velocity command')
