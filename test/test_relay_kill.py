"""The relay's process killed with SIGKILL five times during one downlink: nothing lost or doubled."""
import os
from pathlib import Path
import random
import signal
import time

from nav_msgs.msg import Odometry
import numpy as np
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rclpy.serialization import deserialize_message
from std_msgs.msg import Float32MultiArray

from chang_e_rover import config
from chang_e_rover.relay.ground_cli import make_ground, make_link
from chang_e_rover.ros_common import STATE_QOS
from chang_e_rover.science.instruments import LPR_SAMPLES

ROOT = Path(__file__).resolve().parent.parent
PLAN = config.load_params('relay.yaml', 'relay')
LPR_APID, ODOM_APID = PLAN['downlink.lpr.apid'], PLAN['downlink.odom.apid']
TRACES = 200


def start_relay(processes):
    return processes.python('-m', 'chang_e_rover.cli', 'node', '/lander/relay', '--ros-args',
                            '-p', 'downlink.odom.rate_hz:=100.0',
                            '-p', f'store_path:={config.state_path("kill_test/store.sqlite")}',
                            stdout=open(os.devnull, 'w'), stderr=open(os.devnull, 'w'))


def test_relay_killed_five_times_during_a_downlink_loses_and_repeats_nothing(
        ros, processes, monkeypatch):
    monkeypatch.setenv('PYTHONPATH', str(ROOT))
    rng = random.Random(7)
    got: dict[int, list[int]] = {LPR_APID: [], ODOM_APID: []}

    def on_product(apid, product, time_ns):
        if apid == LPR_APID:
            got[apid].append(int(deserialize_message(product.body, Float32MultiArray).data[0]))
        elif apid == ODOM_APID:
            got[apid].append(int(deserialize_message(product.body, Odometry).pose.pose.position.x))

    link = make_link().start()
    ground = make_ground(archive=False)
    ground.on_product = on_product
    ground.start()
    relay = start_relay(processes)
    probe = ros.node('producer')
    # The burst stays in the producer's writer until the relay has it (its plan takes
    # every trace, read with no depth limit).
    lpr = probe.create_publisher(Float32MultiArray, '/rover/lpr/trace',
                                 QoSProfile(depth=TRACES, reliability=ReliabilityPolicy.RELIABLE))
    odom = probe.create_publisher(Odometry, '/rover/odom', STATE_QOS)
    odom_count, producing = [0], [True]

    def publish_odom():
        if not producing[0]:
            return
        # Housekeeping keeps coming while the relay dies and restarts: what it took
        # must all arrive; what came while it was dead was never accepted.
        o = Odometry()
        o.pose.pose.position.x = float(odom_count[0])
        odom_count[0] += 1
        odom.publish(o)
    probe.create_timer(0.2, publish_odom)
    try:
        ros.spin_until(lambda: ground.status is not None and probe.count_subscribers(
            '/rover/lpr/trace') > 0, 60, 'the relay up')
        for i in range(TRACES):         # ~8 KB each: 9 packets, 1.7 MB in all (~25 s of link)
            trace = np.full(LPR_SAMPLES, 0.1, np.float32)
            trace[0] = i
            lpr.publish(Float32MultiArray(data=trace.tolist()))
            ros.spin_for(0.01)
        ros.spin_until(lambda: ground.status.next_seq.get(LPR_APID, 0) > TRACES * 9, 60,
                       'every trace stored')
        delivered_at_kill = []
        for _ in range(5):
            ros.spin_for(rng.uniform(1.0, 4.0))
            os.killpg(relay.pid, signal.SIGKILL)
            relay.wait()
            delivered_at_kill.append(len(got[LPR_APID]))
            relay = start_relay(processes)
        producing[0] = False
        assert delivered_at_kill[-1] < TRACES, 'all five kills came during the downlink'

        def drained():
            st = ground.status
            # The relay keeps downlinking its own diagnostics; the two streams under
            # test must be complete up to what it numbered.
            return (st is not None and time.monotonic() - ground.status_rx < 2.0 and all(
                ground.apids.get(a) is not None and ground.apids[a].next == st.next_seq.get(a)
                for a in (LPR_APID, ODOM_APID)))
        ros.spin_until(drained, 240, 'the queue drained to the ground')
    finally:
        ground.stop()
        link.stop()
    assert got[LPR_APID] == list(range(TRACES)), 'every trace once, in order'
    odoms = got[ODOM_APID]
    assert odoms == sorted(set(odoms)), 'housekeeping once each, in order'
    assert len(odoms) > 20
    duplicates = sum(s.duplicates for s in ground.apids.values())
    assert duplicates > 0, 'restarted relays repeated unacknowledged packets; the ground dropped them'
