"""The hazard cameras and the gate on the simulator: the rover stops itself before what it cannot climb.

The whole drive stack with /rover/hazard_camera (its own executor and thread,
as in one-process bringup) on the ICD test terrains; the operator commands
top speed straight ahead, the features begin 3 m ahead across the path.
"""
import math
import threading

from geometry_msgs.msg import Twist
import pytest

from chang_e_rover import config, graph, runner
from chang_e_rover.robot_description import load_urdf, rover_geometry
from chang_e_rover.ros_common import STATE_QOS
from chang_e_rover.sim.terrain import FEATURE_START_X
from harness import map_quality

TOP_SPEED = config.load_params('rover.yaml', 'drive_controller')['max_speed_m_s']
GEOMETRY = rover_geometry(load_urdf(config.urdf_path('rover.urdf')))
FRONT = max(x for x, _ in GEOMETRY.wheel_xy.values()) + GEOMETRY.wheel_radius   # base to tyre
SKIP = ('relay', 'science')   # not needed here; they only cost time


class HazardStack:
    def __init__(self, ros, terrain: str, seed: int = 1, rock_abundance: float = 0.05,
                 visual_odometry: bool = False):
        self.ros = ros
        specs = [s for s in graph.all_nodes() if s.name not in SKIP]
        self.nodes = runner.build_nodes(specs, {'sim': {
            'real_time_factor': 0.0, 'terrain.name': terrain, 'terrain.seed': seed,
            'terrain.rock_abundance': rock_abundance},
            'hazard_camera': {'vo.enabled': visual_odometry}}, context=ros.context)
        self.stop = threading.Event()
        self.threads = []
        for spec, node in zip(specs, self.nodes):
            if spec.own_executor:
                ex = runner.make_executor(context=ros.context)
                ex.add_node(node)
                th = threading.Thread(target=self._spin, args=(ex,), daemon=True)
                th.start()
                self.threads.append((th, ex, node))
            else:
                ros.add(node)
        self.sim = self.nodes[0]
        self.controller = next(n for n in self.nodes if n.get_name() == 'drive_controller')
        self.hazard = next(n for n in self.nodes if n.get_name() == 'hazard_camera')
        self.cmd = ros.node('operator').create_publisher(Twist, 'rover/cmd_vel', STATE_QOS)

    def _spin(self, ex):
        while not self.stop.is_set():
            ex.spin_once(timeout_sec=0.1)

    def drive_ahead(self, seconds: float) -> float:
        """Command top speed for seconds of sim time; return the furthest tyre front x."""
        front, next_send = -1e9, 0.0
        while self.sim.world.time < seconds:
            if self.sim.world.time >= next_send:
                msg = Twist()
                msg.linear.x = TOP_SPEED
                self.cmd.publish(msg)
                next_send = self.sim.world.time + 0.1
                front = max(front, self.sim.world.ground_truth().position[0] + FRONT)
            self.ros.executor.spin_once(timeout_sec=0.05)
        return front

    def close(self):
        self.stop.set()
        for th, ex, node in self.threads:
            th.join(timeout=2.0)
            ex.remove_node(node)
            node.destroy_node()
            ex.shutdown()


@pytest.fixture
def stack(ros, request):
    # a terrain name, or (name, visual odometry on)
    terrain, vo = request.param if isinstance(request.param, tuple) else (request.param, False)
    s = HazardStack(ros, terrain, visual_odometry=vo)
    yield s
    s.close()


@pytest.mark.parametrize('stack', ['step25', 'ramp25'], indirect=True)
def test_the_rover_stops_short_of_what_it_cannot_climb(stack):
    front = stack.drive_ahead(100.0)
    short = FEATURE_START_X - front
    print(f'stopped with the tyres {short:.2f} m short of the feature')
    assert short >= 0.3, 'stopped at least 0.3 m short, never climbing'
    assert stack.controller.core.gate_state == 'blocked'
    assert stack.hazard.mapper.processed >= 50


def _visual_odometry_was_used(stack):
    """The hazard node's visual odometry reached the controller, and its odometry is on the truth."""
    core, vo = stack.controller.core, stack.hazard.vo
    truth = stack.sim.world.ground_truth().position
    off = math.hypot(core.odometry.x - truth[0], core.odometry.y - truth[1])
    print(f'visual odometry: {vo.linked} pairs linked, {vo.unlinked} not; the controller took '
          f'{core.visual_steps} steps, {core.visual_idle} while standing (not taken), refused '
          f'{core.visual_refused}; odometry {off:.3f} m off')
    assert vo.linked >= 0.8 * stack.hazard.mapper.processed
    assert core.visual_steps >= 20
    assert core.visual_steps + core.visual_idle >= 0.8 * vo.linked and core.visual_refused <= 2
    assert off < 0.05


@pytest.mark.parametrize('stack', ['ramp20'], indirect=True)
def test_the_rover_climbs_a_20_degree_ramp(stack):
    front = stack.drive_ahead(100.0)
    assert front > FEATURE_START_X + 1.5, 'on up the ramp'
    assert stack.controller.core.gate_state == 'clear'


@pytest.mark.parametrize('stack', [('step20', True)], indirect=True)
def test_the_rover_climbs_a_20_cm_step(stack):
    # Each wheel in turn is held against the step face until its unit breaks away (the
    # integral raised to the torque that lifts it); none may be judged seized on the way.
    # With the hazard node's visual odometry on (off by default in the ROS stack, see
    # docs/drive.md, "Visual odometry"): its steps reach the controller through rover/visual_odom.
    front = stack.drive_ahead(110.0)
    assert stack.controller.core.gate_state == 'clear'
    assert front > FEATURE_START_X + 1.0
    truth = stack.sim.world.ground_truth().position
    rear = truth[0] + min(x for x, _ in GEOMETRY.wheel_xy.values())
    assert rear > FEATURE_START_X + 0.3, f'the whole rover up: rear axle at x={rear:.2f} m'
    faults = {w: v.fault for w, v in stack.controller.core.wheels.items() if v.fault != 'none'}
    assert not faults, f'wheels judged failed on a step they can climb: {faults}'
    _visual_odometry_was_used(stack)


@pytest.fixture
def rock_field(ros):
    s = HazardStack(ros, 'rocks', seed=3, rock_abundance=0.1)
    yield s
    s.close()


@pytest.mark.timeout(2400)
def test_through_a_rock_field_to_a_goal_15_m_away(rock_field, ros):
    """The flown stack through the rocks, and its own map (stereo, registered by its own
    odometry) against the simulator's true rocks and heightfield."""
    from geometry_msgs.msg import PoseStamped
    from sensor_msgs.msg import CameraInfo
    from transforms3d.euler import quat2euler
    from chang_e_rover.sim.camera import intrinsics
    s = rock_field
    w = s.sim.world
    limit = config.load_params('rover.yaml', 'hazard_camera')['max_step_m']
    tall = {f'rock_{i}' for i, r in enumerate(w.terrain.rocks) if 0.5 * r[2] > limit}
    probe = ros.node('navigator')
    goal_pub = probe.create_publisher(PoseStamped, 'rover/goal', STATE_QOS)
    # The left hazcam's true pose at each frame (a step or two late at most: this
    # callback shares the simulator's thread): which rocks the cameras had in view.
    cam = w.model.camera('hazcam_left').id
    views = []
    probe.create_subscription(CameraInfo, 'rover/hazcam/left/camera_info', lambda _: views.append(
        (w.data.cam_xpos[cam].copy(), w.data.cam_xmat[cam].reshape(3, 3).copy())), 10)
    touched: set[str] = set()
    path, odom_error = [], 0.0
    worst = {'roll': 0.0, 'pitch': 0.0, 'heading': 0.0}   # attitude error, deg, once aligned
    heading0 = None
    while w.time < 3.0:
        ros.executor.spin_once(timeout_sec=0.05)
    goal = PoseStamped()
    goal.header.frame_id = 'odom'
    goal.pose.position.x, goal.pose.orientation.w = 15.0, 1.0
    goal_pub.publish(goal)
    core = s.controller.core
    while w.time < 420.0 and not (core.goal is not None and core.goal.reached):
        ros.executor.spin_once(timeout_sec=0.05)
        touched |= w.rover_contacts() & tall
        truth = w.ground_truth().position[:2]
        odom_error = max(odom_error, math.dist(truth, (core.odometry.x, core.odometry.y)))
        if not core.aligning and core.attitude_estimator.roll is not None:
            roll, pitch, yaw = quat2euler(w.ground_truth().quaternion, 'sxyz')
            off = core.odometry.yaw - yaw
            heading = math.atan2(math.sin(off), math.cos(off))
            heading0 = heading if heading0 is None else heading0
            for key, err in (('roll', core.roll - roll), ('pitch', core.pitch - pitch),
                             ('heading', heading - heading0)):
                worst[key] = max(worst[key], abs(math.degrees(err)))
        if not path or math.dist(path[-1], truth) > 0.1:
            path.append(tuple(truth))
    spec = w.cameras['hazcam_left']
    q = map_quality(s.hazard.map, s.hazard.limits, w, path, views=views, K=intrinsics(spec),
                    size=(spec.width, spec.height), registration_m=odom_error)
    print(f'attitude error at most (deg): {worst}')
    print(f'map within 5 m: {q}; odometry error at most {odom_error:.3f} m; '
          f'{len(views)} frames; events: {[f"{e.t:.0f} s {e.what}" for e in core.events]}')
    pos = w.ground_truth().position
    assert core.goal is not None and core.goal.reached, f'goal not reached; rover at {pos[:2]}'
    assert math.hypot(pos[0] - 15.0, pos[1]) < 0.5, 'arrived (odometry drift on rocks ~1 %)'
    assert not touched, f'touched rocks taller than {limit} m: {touched}'
    assert len(core.healthy(w.time)) == 6, 'no wheel left out of service by the rocks'
    # The map as flown: the aims, strictly. Rocks of max_step_m or more whose top
    # was in a frame within the cameras' 5 m; false hazards among cells the truth calls
    # free; heights within 5 m of the path.
    assert len(tall) > 20 and q['rocks'] >= 5, 'a field with tall rocks in view'
    assert q['recall'] >= 0.99, f"rocks missed: {q['missed']}"
    assert q['false_hazard_share'] <= 0.01, 'false hazards at most 1 % of free cells'
    # The drive's own attitude over the rocks, once aligned (the ramp's bound,
    # test_attitude_ramp.py): roll and pitch within 1 deg, heading drift under 1 deg.
    assert max(worst.values()) < 1.0, f'attitude error (deg): {worst}'
    assert q['cells'] > 5000 and q['rmse_m'] < 0.08, 'height map against the true heightfield'
