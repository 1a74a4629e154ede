"""--record: the graph's topics in an MCAP that an independent reader (rosbags) decodes whole."""
from geometry_msgs.msg import Twist
from rclpy.parameter import Parameter
from rosbags.highlevel import AnyReader

from chang_e_rover import graph, runner
from chang_e_rover.record.recorder_node import RecorderNode
from chang_e_rover.ros_common import STATE_QOS


def test_a_short_session_recorded_decodes_whole_in_rosbags(ros, tmp_path):
    path = tmp_path / 'run.mcap'
    spec, params = graph.recorder(str(path))
    nodes = runner.build_nodes(graph.all_nodes() + [spec],
                               {'sim': {'real_time_factor': 0.0}, **params}, context=ros.context)
    for node in nodes:
        ros.add(node)
    sim, recorder = nodes[0], nodes[-1]
    cmd = ros.node('operator').create_publisher(Twist, 'rover/cmd_vel', STATE_QOS)
    ros.spin_until(lambda: '/rover/odom' in recorder.subs and sim.world.time > 1.0, 120,
                   'the recorder on the graph')
    while sim.world.time < 4.0:
        cmd.publish(Twist())
        ros.spin_for(0.1)
    ros.executor.remove_node(recorder)
    recorder.destroy_node()
    heard = dict(recorder.bag.counts)
    with AnyReader([path]) as reader:
        decoded = {}
        for channel, t, raw in reader.messages():
            reader.deserialize(raw, channel.msgtype)        # every message decodes
            decoded[channel.topic] = decoded.get(channel.topic, 0) + 1
        types = {c.topic: c.msgtype for c in reader.connections}
    assert decoded == {t: n for t, n in heard.items() if n}, 'what was heard is what is read'
    assert types['/rover/odom'] == 'nav_msgs/msg/Odometry'
    assert types['/rover/wheel_lf/motor/state'] == 'sensor_msgs/msg/JointState'
    assert decoded['/clock'] >= 40 and decoded['/rover/wheel_lf/motor/state'] >= 40
    assert decoded.get('/rover/hazcam/left/image_raw', 0) >= 2, 'the hazcam frames at 1 Hz'


def test_a_path_that_cannot_be_written_is_named_and_nothing_else_stops(ros, tmp_path):
    taken = tmp_path / 'taken.mcap'
    taken.write_bytes(b'keep')
    for path, said in ((taken, 'exists'), (tmp_path / 'file' / 'x.mcap', 'cannot be written'),
                       (tmp_path / 'x.bag', '.mcap')):
        (tmp_path / 'file').write_text('a file, not a folder')
        node = ros.add(RecorderNode(context=ros.context, parameter_overrides=[
            Parameter('path', value=str(path))]))
        assert node.bag is None and not node.subs, said
        ros.spin_for(0.2)
    assert taken.read_bytes() == b'keep'


def test_sim_mission_and_bringup_each_take_record_and_foxglove(tmp_path):
    from chang_e_rover import cli
    for command in ('sim', 'mission', 'bringup'):
        args = cli.parser().parse_args([command, '--record', str(tmp_path / 'run.mcap'),
                                        '--foxglove', '8790'])
        specs, overrides = cli._session(graph.flight_nodes(), {}, args)
        names = [s.name for s in specs]
        assert 'recorder' in names and 'live' in names, (command, names)
        assert overrides['live']['port'] == 8790, command
        args = cli.parser().parse_args([command])
        assert cli._session(graph.flight_nodes(), {}, args)[0] == graph.flight_nodes()
