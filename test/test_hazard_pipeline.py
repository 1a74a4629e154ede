"""Hazard camera pipeline core on simulator frames (no ROS): colour, stereo, height map, hazards.

Frames come from the simulator's own renderer and detector model; ground truth
is Terrain.true_height and the rover's true camera pose.
"""
import dataclasses
import math
import os

from hypothesis import given, settings, strategies as st
import mujoco
import numpy as np
import pytest

from chang_e_rover import config
from chang_e_rover.hazard.mapper import HazardMapper, limits_from
from chang_e_rover.hazard.stereo import CameraModel, seen_through, StereoParams, StereoPipeline
from chang_e_rover.hazard.traversability import analyse, HeightMap, UNTRAVERSABLE, \
    wheel_closing
from chang_e_rover.imaging.caltarget import calibrate, patch_medians
from chang_e_rover.imaging.colour import CalibrationError, chromaticity, correct
from chang_e_rover.robot_description import load_urdf, rover_geometry
from chang_e_rover.sim.camera import CameraRig, detector_response, intrinsics
from chang_e_rover.sim.model import REGOLITH_RGBA
from chang_e_rover.sim.world import World

SIM = config.load_params('sim.yaml', 'sim')
HAZARD = config.load_params('rover.yaml', 'hazard_camera')
LIMITS = limits_from(HAZARD)
# The rover's own points: the box the flight core drops (HazardMapper.own_box).
OWN_BOX = rover_geometry(load_urdf(config.urdf_path('rover.urdf'))).outline(
    HAZARD['self_filter.end_margin_m'], HAZARD['self_filter.side_margin_m'])
COLOUR_TOLERANCE = 0.01       # chromaticity units (r, g, b summing to 1)
RESPONSE_TOLERANCE = 0.02     # per channel, of the strongest channel's response
# The flight core's line-of-sight filter around the calibration target (HazardMapper).
TARGET_FILTER = HazardMapper(HAZARD, load_urdf(config.urdf_path('rover.urdf')))


class Scene:
    """The rover on a named terrain, moved forward by dx, with its hazcam pair rendered."""

    def __init__(self, terrain: str, dx: float = 0.0, **overrides):
        os.environ.setdefault('MUJOCO_GL', 'egl')
        self.world = w = World(overrides={'terrain.name': terrain, **overrides})
        w.data.qpos[0] += dx
        mujoco.mj_forward(w.model, w.data)
        w.step(1.0)
        rig = CameraRig(w.model, w.cameras)
        rng = np.random.default_rng(0)
        self.raw = {c: detector_response(rig.render(w.data, c), SIM['camera.response_rgb'],
                                         SIM['camera.noise_dn'], rng)
                    for c in ('hazcam_left', 'hazcam_right')}
        rig.close()

    def models(self) -> list[CameraModel]:
        """The pair's calibration as camera_info gives it (ideal pinholes, Tx on the right)."""
        spec = self.world.cameras['hazcam_left']
        K = intrinsics(spec)
        left = np.hstack([K, np.zeros((3, 1))])
        right = left.copy()
        right[0, 3] = -K[0, 0] * self.world.cameras['hazcam_right'].stereo_baseline_m
        return [CameraModel(spec.width, spec.height, K, np.zeros(5), np.eye(3), P)
                for P in (left, right)]

    def pipeline(self) -> StereoPipeline:
        return StereoPipeline(*self.models(), StereoParams())

    def height_map(self, two_scales: bool = False, params: StereoParams | None = None) -> HeightMap:
        w = self.world
        sp = StereoPipeline(*self.models(), params or StereoParams())
        left, right = self.raw['hazcam_left'], self.raw['hazcam_right']
        pts, weights = sp.pair_points(left, right) if two_scales else \
            sp.points(sp.disparity(left, right))
        cid = mujoco.mj_name2id(w.model, mujoco.mjtObj.mjOBJ_CAMERA, 'hazcam_left')
        rot = w.data.cam_xmat[cid].reshape(3, 3) @ np.diag([1.0, -1.0, -1.0])
        xyz = pts @ rot.T + w.data.cam_xpos[cid]
        body = w._root_body
        local = (xyz - w.data.xpos[body]) @ w.data.xmat[body].reshape(3, 3)
        own = (np.abs(local[:, 0]) < OWN_BOX[0]) & (np.abs(local[:, 1]) < OWN_BOX[1])
        for eye in TARGET_FILTER.eyes:     # seen past the calibration target: mismatches
            own |= seen_through(local, eye, TARGET_FILTER.target_box[None])
        hm = HeightMap(20.0, 0.1)
        hm.add(xyz[~own], weights[~own])
        return hm


@pytest.fixture(scope='module')
def step25():
    return Scene('step25', dx=1.3)


def test_the_calibration_target_measures_the_response_and_removes_the_red_cast(step25):
    """The flight core's estimate from the target alone, against the simulator's configured
    response (read here only): within 2 % per channel (docs/hazard.md: 8-bit rendering and
    read noise put about 0.5 % on a patch median); the corrected grey patch is grey and the
    corrected regolith the material's colour."""
    raw = step25.raw['hazcam_left']
    ground = raw.min(axis=2) > 8                     # not sky
    raw_chroma = chromaticity(raw[ground].mean(axis=0))
    true_chroma = chromaticity(REGOLITH_RGBA[:3])
    assert raw_chroma[0] / raw_chroma[1] > 1.3 * true_chroma[0] / true_chroma[1], 'raw is red'
    mapper = HazardMapper(HAZARD, load_urdf(config.urdf_path('rover.urdf')))
    k = step25.models()[0].K
    cal = calibrate(raw, mapper.target, mapper.cam_from_target, k)
    truth = np.asarray(SIM['camera.response_rgb']) / max(SIM['camera.response_rgb'])
    residual = np.abs(cal.response - truth)
    print(f'response {cal.response.round(4)} truth {truth.round(4)} residual '
          f'{residual.round(4)}; grey fit {cal.grey_error:.4f}, colour {cal.colour_error:.4f}')
    assert residual.max() < RESPONSE_TOLERANCE
    fixed = correct(raw, cal.response)
    grey = patch_medians(fixed, mapper.target, mapper.cam_from_target, k)[
        mapper.target.names.index('grey')]
    print(f'corrected grey patch {grey}: chromaticity {chromaticity(grey).round(4)}')
    assert np.abs(chromaticity(grey) - 1 / 3).max() < 0.005, f'grey patch corrected: {grey}'
    raw_grey = patch_medians(raw, mapper.target, mapper.cam_from_target, k)[
        mapper.target.names.index('grey')]
    assert raw_grey[0] / raw_grey[2] > 1.7, 'the raw grey patch is red'
    error = np.abs(chromaticity(fixed[ground].mean(axis=0)) - true_chroma).max()
    assert error < COLOUR_TOLERANCE
    # The same correction serves the other camera of the pair.
    other = correct(step25.raw['hazcam_right'], cal.response)
    other_ground = step25.raw['hazcam_right'].min(axis=2) > 8
    assert np.abs(chromaticity(other[other_ground].mean(axis=0)) - true_chroma).max() < \
        COLOUR_TOLERANCE


def test_a_frame_without_the_target_is_refused_with_the_reason(step25):
    mapper = HazardMapper(HAZARD, load_urdf(config.urdf_path('rover.urdf')))
    k = step25.models()[0].K
    t, pose = mapper.target, mapper.cam_from_target
    # the right camera's frame where the left one sees the target: regolith, not patches
    with pytest.raises(CalibrationError, match='not uniform'):
        calibrate(step25.raw['hazcam_right'], t, pose, k)
    away = pose.copy()
    away[:3, 3] += pose[:3, :3] @ np.array([0.0, 0.5, 0.0])      # half a metre aside
    with pytest.raises(CalibrationError, match='not in view'):
        calibrate(step25.raw['hazcam_left'], t, away, k)
    bright = np.clip(step25.raw['hazcam_left'].astype(int) * 3, 0, 255).astype(np.uint8)
    with pytest.raises(CalibrationError, match='saturated'):
        calibrate(bright, t, pose, k)
    with pytest.raises(CalibrationError):
        calibrate(np.zeros((1024, 1024, 3), np.uint8), t, pose, k)    # nothing in view


def test_height_map_within_5_m_against_the_true_heightfield(step25):
    hm = step25.height_map()
    X, Y = hm.cell_centres()
    H = hm.heights()
    rx, ry = step25.world.ground_truth().position[:2]
    near = np.isfinite(H) & (np.hypot(X - rx, Y - ry) < 5.0)
    err = H[near] - step25.world.terrain.true_height(X[near], Y[near])
    rmse = float(np.sqrt(np.mean(err ** 2)))
    print(f'height RMSE within 5 m: {rmse:.3f} m over {near.sum()} cells; '
          f'median |error| {np.median(np.abs(err)):.3f} m')
    assert near.sum() > 300 and rmse < 0.08
    assert np.median(np.abs(err)) < 0.02


def test_the_far_band_matched_at_full_resolution_measures_far_ground_at_least_as_well():
    """Two scales (StereoPipeline.pair_points) against the half-resolution match alone."""
    scene = Scene('rocks', **{'terrain.seed': 3, 'terrain.rock_abundance': 0.1})
    X = Y = None
    errors = {}
    for two in (False, True):
        hm = scene.height_map(two_scales=two)
        X, Y = hm.cell_centres()
        H = hm.heights()
        rx, ry = scene.world.ground_truth().position[:2]
        r = np.hypot(X - rx, Y - ry)
        far = np.isfinite(H) & (r > 3.8) & (r < 6.0)    # beyond far_from_m from the cameras
        truth = scene.world.terrain.true_height(X[far], Y[far])
        errors[two] = (int(far.sum()), float(np.sqrt(np.mean((H[far] - truth) ** 2))))
    print(f'far ground (3.8-6 m from base_link): half resolution {errors[False]}, '
          f'with the far band at full resolution {errors[True]} (cells, RMSE m)')
    assert errors[True][0] >= 0.9 * errors[False][0], 'the far band covers the far ground'
    assert errors[True][1] <= 1.1 * errors[False][1]
    # off, it is the half-resolution match alone
    sp = StereoPipeline(*scene.models(), StereoParams(far_from_m=0.0))
    assert sp.far_matcher is None


def _segment_meets_box(eye, point, lo, hi) -> bool:
    """One line of sight at a time: does the segment eye -> point touch the box?"""
    t0, t1 = 0.0, 1.0
    for e, p, a, b in zip(eye, point, lo, hi):
        d = p - e
        if d == 0.0:
            if not a <= e <= b:
                return False
            continue
        ta, tb = sorted(((a - e) / d, (b - e) / d))
        t0, t1 = max(t0, ta), min(t1, tb)
    return t0 <= t1


def test_seen_through_agrees_with_one_line_of_sight_at_a_time():
    """The vectorised filter of points seen through the rover's wheels against a plain
    per-point segment-box test, on random points around wheel-sized boxes, with rays
    along an axis (through a box's slab, beside it, and along its face) among them."""
    rng = np.random.default_rng(7)
    eye = np.array([0.5, 0.1, 1.2])
    boxes = np.array([[[0.2, -0.3, -0.1], [0.6, 0.3, 0.4]], [[1.0, 0.5, 0.0], [1.4, 0.8, 0.3]],
                      [[0.5, -1.2, 0.0], [0.9, -0.8, 0.3]]])     # a face in the eye's x plane
    points = rng.uniform([-1.0, -2.0, -0.5], [4.0, 2.0, 1.0], (3000, 3))
    points[:200, 0] = eye[0]        # rays in the plane x = eye's: through box 0's x slab
    points[200:400, 1] = eye[1]     # inside box 0's y slab, beside box 1's
    points[400:600, 2] = eye[2]     # above both boxes' z slabs: never through them
    got = seen_through(points, eye, boxes)
    want = [any(_segment_meets_box(eye, p, lo, hi) for lo, hi in boxes) for p in points]
    assert 100 < got.sum() < len(points) - 100, 'a mix of hidden and seen points'
    assert not got[400:600].any()
    assert got.tolist() == want


def test_a_disparity_whose_partner_the_right_camera_cannot_see_is_dropped():
    """A plank 30 px of disparity near on ground 10 px away: the ground just left of it has
    its partner behind the plank in the right image; a pixel at the left edge has its
    partner off the image. Both are dropped, the rest kept."""
    K = np.array([[256.0, 0, 256], [0, 256.0, 256], [0, 0, 1]])
    left = np.hstack([K, np.zeros((3, 1))])
    right = left.copy()
    right[0, 3] = -256.0 * 0.2
    sp = StereoPipeline(*(CameraModel(512, 512, K, np.zeros(5), np.eye(3), P)
                          for P in (left, right)), StereoParams(scale=1.0))
    disp = np.full((4, 200), 10.0, np.float32)
    disp[:, 60:100] = 30.0                     # the plank: right-image columns 30-69
    disp[:, 1] = 3.0                            # partner at column -2: off the image
    kept = sp._keep_visible_partners(disp.copy()) > 0
    block = StereoParams().block_size
    hidden = [u for u in range(60) if 30 - block // 2 <= u - 10 <= 69 + block // 2]
    assert not kept[:, hidden].any(), 'ground whose partner the plank hides'
    assert not kept[:, :block // 2 + 11].any(), 'partners off the right image or at its edge'
    visible = [u for u in range(200) if u not in hidden and u >= block // 2 + 11]
    assert kept[:, visible].all()
    assert kept[:, 60:100].all(), 'the plank itself'


def test_hidden_partners_dropped_take_pits_out_of_a_rock_field():
    """Points below the true ground (> 0.15 m) on a rock field's first pair, with the
    z-buffer test and without it (the left edge's test is on in both)."""
    scene = Scene('rocks', **{'terrain.seed': 3, 'terrain.rock_abundance': 0.1})
    w = scene.world
    cid = mujoco.mj_name2id(w.model, mujoco.mjtObj.mjOBJ_CAMERA, 'hazcam_left')
    rot = w.data.cam_xmat[cid].reshape(3, 3) @ np.diag([1.0, -1.0, -1.0])
    counts = {}
    default = StereoParams().occlusion_tolerance_px
    for tolerance in (math.inf, default):
        sp = StereoPipeline(*scene.models(), StereoParams(occlusion_tolerance_px=tolerance))
        pts, _ = sp.pair_points(scene.raw['hazcam_left'], scene.raw['hazcam_right'])
        xyz = pts @ rot.T + w.data.cam_xpos[cid]
        low = xyz[:, 2] - w.terrain.true_height(xyz[:, 0], xyz[:, 1]) < -0.15
        counts[tolerance] = (len(pts), int(low.sum()))
    print('points, of them below the ground: without the z-buffer', counts[math.inf],
          'with it', counts[default])
    (n_off, low_off), (n_on, low_on) = counts.values()
    assert low_on <= 0.8 * low_off
    assert n_on >= 0.97 * n_off


def test_a_pit_narrower_than_a_wheel_is_bridged_a_wider_one_and_a_rock_are_not():
    """The ground is judged as the wheels meet it (traversability.wheel_closing): a stereo
    pit one or two cells across is no step for a 0.25 m wheel, a pit it drops into is."""
    h = np.zeros((60, 60))
    h[10, 10] = -0.4                      # one 10 cm cell, 0.4 m deep
    h[10:12, 40:42] = -0.4                # 20 cm across
    h[40:47, 10:17] = -0.4                # 70 cm across: the wheel drops in
    h[40:43, 40:43] = 0.3                 # a 30 cm rock
    cost = analyse(h, 0.1, LIMITS).cost
    near = lambda i, j: cost[i - 3:i + 4, j - 3:j + 4]
    assert (near(10, 10) < UNTRAVERSABLE).all() and (near(10, 41) < UNTRAVERSABLE).all()
    assert (near(43, 13) == UNTRAVERSABLE).any()
    assert (near(41, 41) == UNTRAVERSABLE).any()
    # Without the wheel's closing, the one-cell pit is a step of 0.4 m.
    no_closing = dataclasses.replace(LIMITS, wheel_radius_m=0.0)
    raw = analyse(h, 0.1, no_closing).cost
    assert (raw[7:14, 7:14] == UNTRAVERSABLE).any()
    # Rocks on open ground, one just over the step limit, cost what they cost without it.
    rocks = np.zeros((40, 40))
    rocks[10:12, 10:12] = 0.21
    rocks[25:29, 25:29] = 0.3
    assert np.array_equal(analyse(rocks, 0.1, LIMITS).cost, analyse(rocks, 0.1, no_closing).cost)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-0.5, 0.5), min_size=144, max_size=144),
       st.lists(st.booleans(), min_size=144, max_size=144))
def test_the_wheel_closing_never_lowers_the_ground_keeps_the_unseen_and_settles(zs, unseen):
    h = np.where(np.reshape(unseen, (12, 12)), np.nan, np.reshape(zs, (12, 12)))
    closed = wheel_closing(h, 0.1, LIMITS.wheel_radius_m, LIMITS.step_margin_m)
    seen = np.isfinite(h)
    assert np.array_equal(np.isfinite(closed), seen)
    assert (closed[seen] >= h[seen] - 1e-12).all()
    assert np.allclose(wheel_closing(closed, 0.1, LIMITS.wheel_radius_m, LIMITS.step_margin_m),
                       closed,
                       equal_nan=True, atol=1e-12)


def test_the_25_cm_step_is_marked_untraversable(step25):
    hm = step25.height_map()
    a = analyse(hm.heights(), hm.resolution, LIMITS)
    X, Y = hm.cell_centres()
    edge = (np.abs(X - 3.0) < 0.25) & (np.abs(Y) < 0.5)
    assert np.count_nonzero(a.cost[edge] == UNTRAVERSABLE) >= 5


def test_the_published_window_at_the_map_edge_is_analysed_like_any_other():
    """A window clipped by the map's edge is not square; the analysis takes any rectangle
    (a rover 24 m out on a 60 m map already has its 16 m window clipped)."""
    from chang_e_rover.hazard.mapper import HazardMapper
    from chang_e_rover.robot_description import load_urdf
    p = config.load_params('rover.yaml', 'hazard_camera')
    m = HazardMapper(p, load_urdf(config.urdf_path('rover.urdf')))
    hm = m.map
    X, Y = hm.cell_centres()
    edge = hm.origin + hm.n * hm.resolution                # the map's +x, +y edge
    z = np.where(X > edge - 3.0, 0.3, 0.0)                 # a 0.3 m step 3 m inside the edge
    pts = np.column_stack([X.ravel(), Y.ravel(), z.ravel()])
    for _ in range(hm.min_points):
        hm.add(pts, np.ones(len(pts)))
    for x, y in ((edge - 2.0, 0.0), (edge - 2.0, edge - 2.0), (0.0, 0.0)):
        cost, x0, y0 = m.window(x, y)
        full = analyse(hm.heights(), hm.resolution, m.limits).cost
        j0, i0 = (int(round((v - hm.origin) / hm.resolution)) for v in (x0, y0))
        ny, nx = cost.shape
        inner = (slice(10, ny - 10), slice(10, nx - 10))  # away from the window's own border
        assert np.array_equal(cost[inner], full[i0:i0 + ny, j0:j0 + nx][inner])
    cost, x0, y0 = m.window(edge - 2.0, 0.0)
    assert cost.shape[0] != cost.shape[1], 'clipped by the edge'
    assert (cost == UNTRAVERSABLE).any(), 'the step in it is found'


def test_the_25_degree_ramp_is_marked_untraversable():
    scene = Scene('ramp25', dx=1.3)
    hm = scene.height_map()
    a = analyse(hm.heights(), hm.resolution, LIMITS)
    X, Y = hm.cell_centres()
    on_ramp = (X > 3.3) & (X < 4.0) & (np.abs(Y) < 0.5)
    flagged = np.count_nonzero(a.cost[on_ramp] == UNTRAVERSABLE)
    seen = np.count_nonzero(a.cost[on_ramp] >= 0)
    assert seen > 20 and flagged >= 0.8 * seen
    assert np.nanmedian(a.slope_deg[on_ramp]) == pytest.approx(25.0, abs=2.0)


def test_the_flight_core_maps_the_step_ahead_and_nothing_else_as_a_hazard(step25):
    """HazardMapper, as /rover/hazard_camera and the harness run it, on the same pair."""
    from chang_e_rover.hazard.mapper import HazardMapper
    from chang_e_rover.robot_description import load_urdf
    mapper = HazardMapper(config.load_params('rover.yaml', 'hazard_camera'),
                          load_urdf(config.urdf_path('rover.urdf')))
    left, right = step25.raw['hazcam_left'], step25.raw['hazcam_right']
    with pytest.raises(RuntimeError):
        mapper.process(left, right)              # no calibration, no pose yet
    bad = step25.models()
    with pytest.raises(ValueError):
        mapper.cameras(bad[0], bad[0])           # no baseline in the right P
    mapper.cameras(*step25.models())
    x, y = step25.world.ground_truth().position[:2]
    mapper.odometry(float(x), float(y), 0.0)
    assert mapper.process(left, right) > 5000
    cost, x0, y0 = mapper.window(float(x), float(y))
    res = mapper.map.resolution
    X = x0 + (np.arange(cost.shape[1]) + 0.5) * res
    Y = y0 + (np.arange(cost.shape[0]) + 0.5) * res
    XX, YY = np.meshgrid(X, Y)
    edge = (np.abs(XX - 3.0) < 0.25) & (np.abs(YY) < 0.5)
    bad = cost == UNTRAVERSABLE
    assert np.count_nonzero(bad[edge]) >= 5
    assert np.count_nonzero(cost >= 0) > 150
    assert np.all(np.abs(XX[bad] - 3.0) < 0.4), 'untraversable only at the step edge'
    assert mapper.response is None and len(mapper.estimates) == 1   # still estimating


def send_pair(node, sec: int) -> None:
    """A 2 x 2 stereo pair stamped sec, to the hazard node's image callbacks."""
    from sensor_msgs.msg import Image
    for side in ('left', 'right'):
        msg = Image(height=2, width=2, encoding='rgb8', step=6, data=bytes(12))
        msg.header.stamp.sec = sec
        node.image_callback(f'hazcam/{side}', msg)


def stub_process(node, error: Exception) -> dict[str, bool]:
    """Stand in for the mapper's processing of a pair: it counts the pair, or raises error
    while the returned switch's 'on' is true."""
    switch = {'on': False}

    def process(left, right):
        if switch['on']:
            raise error
        node.mapper.processed += 1

    node.mapper.process = process
    return switch


def test_a_fault_inside_the_pipeline_drops_the_pair_and_the_node_lives_on(ros):
    """Any exception from the pipeline (not only a refused input) drops the pair and is
    counted; the node's thread lives on, diagnostics go ERROR after three in a row, no map
    goes out for them, and the next good pair is mapped as before."""
    from diagnostic_msgs.msg import DiagnosticStatus
    from chang_e_rover.hazard.hazard_node import FAILING_PAIRS, HazardCameraNode
    node = ros.add(HazardCameraNode(context=ros.context))
    published = []
    node.publish_map = lambda x, y, stamp_ns: published.append((x, y))
    node.mapper.ready = lambda: True
    from nav_msgs.msg import Odometry
    odom = Odometry()
    odom.pose.pose.position.x, odom.pose.pose.position.y = 1.0, 2.0
    odom.pose.pose.orientation.w = 1.0
    node.odom_callback(odom)
    fail = stub_process(node, IndexError('index 460 is out of bounds for axis 0 with size 460'))
    fail['on'] = True

    def pair(sec: int):
        send_pair(node, sec)
        odom.header.stamp.sec = sec         # the drive's pose at the pair: it is mapped
        node.odom_callback(odom)

    pair(1)
    assert node.pairs_failed == 1 and node.diagnostic_status().level != DiagnosticStatus.ERROR
    for sec in range(2, 1 + FAILING_PAIRS):
        pair(sec)
    status = node.diagnostic_status()
    assert status.level == DiagnosticStatus.ERROR and 'IndexError' in status.message
    assert {v.key: v.value for v in status.values}['pairs_failed'] == str(FAILING_PAIRS)
    assert published == [], 'no map for a failed pair'
    fail['on'] = False
    pair(10)
    assert len(published) == 1 and node.failing == 0, (node.failing, node.last_error)
    assert node.diagnostic_status().level == DiagnosticStatus.OK


def test_each_pair_is_answered_on_the_status_topic_naming_the_outputs_it_sent(ros):
    """The drive controller in simulation waits at a pair's due step for the pipeline's
    answer and the outputs it names: the answer goes out on rover/hazard/status stamped
    with the pair, naming hazard/map for a mapped pair and none for a dropped one."""
    from diagnostic_msgs.msg import DiagnosticArray
    from nav_msgs.msg import OccupancyGrid, Odometry
    from chang_e_rover.hazard.hazard_node import HazardCameraNode
    from chang_e_rover.ros_common import ANSWER_QOS, LATCHED_QOS, stamp_to_ns
    node = ros.add(HazardCameraNode(context=ros.context))
    probe = ros.node('drive_stand_in')
    heard = []
    probe.create_subscription(OccupancyGrid, 'rover/hazard/map',
                              lambda m: heard.append(('map', stamp_to_ns(m.header.stamp))),
                              LATCHED_QOS)
    probe.create_subscription(DiagnosticArray, 'rover/hazard/status', lambda m: heard.append((
        'status', stamp_to_ns(m.header.stamp),
        {v.key: v.value for v in m.status[0].values}['pair_outputs'])), ANSWER_QOS)
    ros.spin_until(lambda: node.status_pub.get_subscription_count() > 0
                   and node.map_pub.get_subscription_count() > 0, 15, 'the controller matched')
    node.mapper.ready = lambda: True
    node.mapper.window = lambda x, y: (np.zeros((2, 2), np.int8), 0.0, 0.0)
    refuse = stub_process(node, ValueError('frame refused'))
    odom = Odometry()
    odom.pose.pose.orientation.w = 1.0
    for sec, refused in ((1, False), (2, True)):
        refuse['on'] = refused
        odom.header.stamp.sec = sec - 1
        node.odom_callback(odom)
        send_pair(node, sec)
        odom.header.stamp.sec = sec
        node.odom_callback(odom)
    ros.spin_until(lambda: len(heard) == 3, 15, 'the answers')
    ros.spin_for(1.2)       # the once-a-second report goes to /diagnostics only
    # two topics: DDS keeps each one's order, not the order across them
    assert sorted(heard, key=repr) == [('map', 10**9), ('status', 10**9, 'hazard/map'),
                                       ('status', 2 * 10**9, 'none')]


def test_no_pair_is_mapped_before_the_drive_has_a_roll_and_pitch_estimate(ros):
    """rover/odom flags roll and pitch as no estimate (variances -1) while the drive aligns
    at rest after start-up, the rover perhaps still settling: a pair levelled with such a
    roll (-12.7 deg here) would put its points well above the ground, and where no later
    pair looks again they would stay. Such pairs are answered but not mapped."""
    from nav_msgs.msg import Odometry
    from chang_e_rover.hazard.hazard_node import HazardCameraNode
    from chang_e_rover.ros_common import attitude_known, PITCH_VAR, ROLL_VAR
    node = ros.add(HazardCameraNode(context=ros.context))
    node.mapper.ready = lambda: True
    mapped = []
    node.pair = lambda stamp, left, right: mapped.append((stamp, node.mapper.roll))

    def odom(sec: int, roll: float, known: bool):
        msg = Odometry()
        msg.header.stamp.sec = sec
        msg.pose.pose.orientation.w = math.cos(roll / 2)
        msg.pose.pose.orientation.x = math.sin(roll / 2)
        if not known:
            msg.pose.covariance[ROLL_VAR] = msg.pose.covariance[PITCH_VAR] = -1.0
        assert attitude_known(msg) == known
        node.odom_callback(msg)

    def pair(sec: int):
        send_pair(node, sec)

    odom(1, math.radians(-12.7), known=False)
    pair(2)
    odom(3, math.radians(-1.8), known=True)
    assert mapped == [] and node.pairs_unlevelled == 1 and node.last_pair_ns == 2 * 10**9
    pair(4)
    odom(5, math.radians(-1.8), known=True)
    assert len(mapped) == 1 and mapped[0][1] == pytest.approx(math.radians(-1.8))
    values = {v.key: v.value for v in node.diagnostic_status().values}
    assert values['pairs_unlevelled'] == '1'


def test_a_pair_waits_for_the_pose_stamped_at_it_so_arrival_order_changes_nothing(ros):
    """The odometry of the step before a pair may arrive after the pair (another topic,
    another process): the pair waits until an odometry stamped at or after it is in, and
    is mapped with the newest one older than itself, whatever came first."""
    from nav_msgs.msg import Odometry
    from chang_e_rover.hazard.hazard_node import HazardCameraNode
    node = ros.add(HazardCameraNode(context=ros.context))
    node.mapper.ready = lambda: True
    mapped = []
    node.pair = lambda stamp, left, right: mapped.append((stamp, node.mapper.pose[0]))

    def odom(sec: int):
        msg = Odometry()
        msg.header.stamp.sec = sec
        msg.pose.pose.position.x = float(sec)       # where the rover was at sec
        msg.pose.pose.orientation.w = 1.0
        node.odom_callback(msg)

    def pair(sec: int):
        send_pair(node, sec)

    odom(1)
    pair(3)
    odom(2)                         # the step before the pair, in after it
    assert mapped == [], 'mapped before its pose was in'
    odom(3)
    assert mapped == [(3 * 10**9, 2.0)]
    pair(5)
    pair(6)                         # no pose came for 5: the newer pair replaces it
    odom(6)
    assert [m[0] for m in mapped] == [3 * 10**9, 6 * 10**9]
    values = {v.key: v.value for v in node.diagnostic_status().values}
    assert values['pairs_superseded'] == '1'



def test_a_pair_waits_for_the_joint_states_stamped_at_it_while_they_are_published(ros):
    """The steering angles come on their own topic, whose messages DDS may deliver after
    the odometry's: with a joint state publisher on the graph, a pair is mapped once the
    joint states stamped at or after it are in, with the newest angles older than it."""
    from nav_msgs.msg import Odometry
    from sensor_msgs.msg import JointState
    from chang_e_rover.hazard.hazard_node import HazardCameraNode
    from chang_e_rover.ros_common import STATE_QOS
    node = ros.add(HazardCameraNode(context=ros.context))
    ros.node('servos').create_publisher(JointState, 'rover/joint_states', STATE_QOS)
    ros.spin_until(lambda: node.joint_sub.get_publisher_count() > 0, 15, 'the servos matched')
    node.mapper.ready = lambda: True
    mapped = []
    node.pair = lambda stamp, left, right: mapped.append((stamp, node.mapper.steer['lf']))

    def joints(sec: int):
        msg = JointState(name=['steer_lf_joint', 'steer_rf_joint'], position=[sec * 0.1] * 2)
        msg.header.stamp.sec = sec
        node.joint_callback(msg)

    def odom(sec: int):
        msg = Odometry()
        msg.header.stamp.sec = sec
        msg.pose.pose.orientation.w = 1.0
        node.odom_callback(msg)

    joints(1)
    odom(2)
    send_pair(node, 3)
    odom(3)
    assert mapped == [], 'mapped before the joint states of its stamp were in'
    joints(2)
    joints(3)
    assert mapped == [(3 * 10**9, pytest.approx(0.2))]


def test_a_navcam_pair_is_mapped_at_the_mast_angles_before_it_only_if_the_mast_stood(ros):
    """A navcam pair goes to the mapper alone (no visual odometry), posed at the mast's
    angles in the newest joint states older than it, and only when those equal the ones
    before them: a pair taken while the mast slews is answered but not mapped."""
    from nav_msgs.msg import Odometry
    from sensor_msgs.msg import Image, JointState
    from chang_e_rover.hazard.hazard_node import HazardCameraNode
    from chang_e_rover.hazard.mast import PAN, TILT
    node = ros.add(HazardCameraNode(context=ros.context))
    node.mapper.mast.pipeline = object()            # calibrated
    node.mapper.response = np.ones(3)               # the detectors' response measured
    node.mapper.window = lambda x, y: (np.zeros((2, 2), np.int8), 0.0, 0.0)
    node.pair = lambda *a: pytest.fail('a navcam pair went the hazcam way')
    mapped = []
    node.mapper.process_navcam = lambda left, right, pan, tilt: mapped.append((pan, tilt))

    def joints(ms: int, pan: float):
        msg = JointState(name=[PAN, TILT], position=[pan, 0.26])
        msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(ms * 10**6, 10**9)
        node.joint_callback(msg)

    def odom(ms: int):
        msg = Odometry()
        msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(ms * 10**6, 10**9)
        msg.pose.pose.orientation.w = 1.0
        node.odom_callback(msg)

    def navcam_pair(ms: int):
        for side in ('left', 'right'):
            msg = Image(height=2, width=2, encoding='rgb8', step=6, data=bytes(12))
            msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(ms * 10**6, 10**9)
            node.image_callback(f'navcam/{side}', msg)

    odom(300)
    for ms, pan in ((400, 2.9), (450, 3.0)):        # slewing
        joints(ms, pan)
    navcam_pair(500)
    odom(500)
    joints(500, 3.1)
    assert mapped == [] and node.navcam_slewing == 1 and node.last_pair_ns == 5 * 10**8
    for ms in (550, 600, 1450):
        joints(ms, 3.1)
    navcam_pair(1500)
    odom(1500)
    joints(1500, 3.1)
    assert mapped == [(3.1, 0.26)] and node.navcam_mapped == 1
    values = {v.key: v.value for v in node.diagnostic_status().values}
    assert values['navcam_pairs_mapped'] == '1' and values['navcam_pairs_slewing'] == '1'

def test_visual_odometry_steps_give_the_height_where_the_pitch_misleads():
    """Down the lander's ramp the body pitches more than the path it slides down: the
    height integrated from the pitch drifts, and each visual step's vertical replaces it."""
    from chang_e_rover.robot_description import rpy_matrix
    m = HazardMapper(HAZARD, load_urdf(config.urdf_path('rover.urdf')))
    body, path = math.radians(33.0), math.radians(29.0)
    m.attitude(0.0, body)
    m.odometry(0.0, 0.0, 0.0)
    m.visual_frame(None)
    true_z, x = 0.0, 0.0
    for _ in range(40):            # 40 frames 0.05 m apart along the path
        step = 0.05 * np.array([math.cos(path), 0.0, -math.sin(path)])     # in odom
        x += step[0]
        true_z += step[2]
        for k in range(1, 5):      # the odometry between the frames
            m.odometry(x - step[0] * (1 - k / 4), 0.0, 0.0)
        m.visual_frame(rpy_matrix((0.0, body, 0.0)).T @ step)
    assert abs(m.z - true_z) > 0.15, 'the pitch alone drifts by decimetres'
    assert m.height == pytest.approx(true_z, abs=1e-9)
    m.attitude(0.0, 0.0)           # standing: a step that reads as motion is not taken
    m.visual_frame(np.array([0.3, 0.0, 0.2]))
    assert m.height == pytest.approx(true_z, abs=1e-9)
