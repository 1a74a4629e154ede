"""The navcams on the mast, mapped by the flight core (no ROS): the rover turned away from
the 0.25 m step, its mast panned to the rear, sees the step where the hazcams cannot.

Frames from the simulator's renderer and detector model; the mast's angles as the
simulator's joints read them; ground truth is Terrain.true_height.
"""
import math
import os

import mujoco
import numpy as np
import pytest

from chang_e_rover import config
from chang_e_rover.hazard.mapper import HazardMapper
from chang_e_rover.hazard.mast import angles_before, mast_still, PAN, TILT
from chang_e_rover.hazard.traversability import UNTRAVERSABLE
from chang_e_rover.imaging.caltarget import calibrate
from chang_e_rover.robot_description import load_urdf
from chang_e_rover.sim.camera import CameraRig, detector_response
from chang_e_rover.sim.world import World
from harness import pair_models

SIM = config.load_params('sim.yaml', 'sim')
HAZARD = config.load_params('rover.yaml', 'hazard_camera')
LOOK_TILT = config.load_params('rover.yaml', 'drive_controller')['mast.look_tilt_rad']
CAMERAS = ('hazcam_left', 'hazcam_right', 'navcam_left', 'navcam_right')


@pytest.fixture(scope='module')
def turned():
    """The rover 1 m short of the step's start, facing away from it, mast to the rear."""
    os.environ.setdefault('MUJOCO_GL', 'egl')
    w = World(overrides={'terrain.name': 'step25'})
    w.data.qpos[0] += 2.0 - 3.0      # base_link 1 m short of the step... then turned:
    w.data.qpos[3:7] = [0.0, 0.0, 0.0, 1.0]     # yaw pi (w x y z)
    mujoco.mj_forward(w.model, w.data)
    pan = load_urdf(config.urdf_path('rover.urdf')).joints[PAN].upper
    w.set_joint_target('rover', PAN, pan)
    w.set_joint_target('rover', TILT, LOOK_TILT)
    w.step(8.0)
    rig = CameraRig(w.model, w.cameras)
    rng = np.random.default_rng(0)
    raw = {c: detector_response(rig.render(w.data, c), SIM['camera.response_rgb'],
                                SIM['camera.noise_dn'], rng) for c in CAMERAS}
    rig.close()
    names, q, _, _ = w.joint_state('rover')
    angles = dict(zip(names, q))
    return w, raw, (float(angles[PAN]), float(angles[TILT]))


def test_the_mast_panned_to_the_rear_maps_the_step_behind_the_rover(turned):
    w, raw, (pan, tilt) = turned
    assert pan == pytest.approx(3.1, abs=0.01) and tilt == pytest.approx(LOOK_TILT, abs=0.01)
    mapper = HazardMapper(HAZARD, load_urdf(config.urdf_path('rover.urdf')))
    mapper.cameras(*pair_models(w, 'hazcam'))
    mapper.mast.cameras(*pair_models(w, 'navcam'))
    truth = w.ground_truth()
    x, y, z = (float(v) for v in truth.position)
    qw, qx, qy, qz = truth.quaternion
    yaw = math.atan2(2 * (qw * qz + qx * qy), 1 - 2 * (qy * qy + qz * qz))
    mapper.odometry(x, y, yaw)
    with pytest.raises(RuntimeError, match='response'):
        mapper.process_navcam(raw['navcam_left'], raw['navcam_right'], pan, tilt)
    assert not mapper.wants_navcam(0.0, pan)
    mapper.response = calibrate(raw['hazcam_left'], mapper.target, mapper.cam_from_target,
                                mapper.left_camera.K).response
    assert mapper.wants_navcam(0.0, pan)
    assert not mapper.wants_navcam(1.0, pan), 'the same view is not mapped twice'
    assert mapper.wants_navcam(1.5, pan - 0.2), 'a new pan is a new view'
    assert mapper.process_navcam(raw['navcam_left'], raw['navcam_right'], pan, tilt) > 5000
    # Heights against the truth: odom's z is base_link's at the start (world z here).
    hm = mapper.map
    X, Y = hm.cell_centres()
    H = hm.heights()
    seen = np.isfinite(H)
    behind = seen & (X > x + 1.0)
    assert behind.sum() > 400, 'the ground behind the rover is seen'
    assert not np.any(seen & (X < x - 1.0)), 'nothing ahead: only the navcams were mapped'
    err = H[behind] + z - w.terrain.true_height(X[behind], Y[behind])
    print(f'{behind.sum()} cells behind; median |error| {np.median(np.abs(err)):.3f} m, '
          f'95th {np.percentile(np.abs(err), 95):.3f} m')
    assert np.median(np.abs(err)) < 0.03
    # The step's edge (x = 3) is a hazard, and nothing off it.
    cost, x0, y0 = mapper.window(x, y)
    res = hm.resolution
    XX, YY = np.meshgrid(x0 + (np.arange(cost.shape[1]) + 0.5) * res,
                         y0 + (np.arange(cost.shape[0]) + 0.5) * res)
    bad = cost == UNTRAVERSABLE
    assert np.count_nonzero(bad & (np.abs(XX - 3.0) < 0.25) & (np.abs(YY) < 0.5)) >= 5
    assert np.all(np.abs(XX[bad] - 3.0) < 0.4), 'untraversable only at the step edge'


def test_a_pair_takes_the_mast_angles_before_it_only_if_the_mast_stood():
    assert mast_still((3.1, 0.3), (3.1005, 0.3))
    assert not mast_still((3.0, 0.3), (3.1, 0.3))
    assert not mast_still((3.1, 0.29), (3.1, 0.3))
    readings = [(100, (3.0, 0.3)), (200, (3.1, 0.3)), (300, (3.1, 0.3)), (400, (2.0, 0.3))]
    assert angles_before(readings, 300) is None, 'it moved between 100 and 200'
    assert angles_before(readings, 301) == (3.1, 0.3)
    assert angles_before(readings, 401) is None
    assert angles_before(readings[:1], 150) is None, 'one reading cannot say it stood'


def test_led_by_the_rear_the_rover_maps_the_way_on_with_the_navcams_not_by_turning():
    """lf seizes at the start of an 8 m drive on flat ground, mapped from the stereo pairs (the
    flight-core harness: HazardMapper and DriveCore, no ROS): the rear leads, the mast looks
    the way on, and past the 6 m the hazcams saw before the turn the rover needs no look.
    Without the navcams it turns its body to look there (docs/drive.md, Look)."""
    from harness import Rover
    rover = Rover('flat', hazcams=True)
    rover.inject('lf', 'stall')
    assert rover.drive_to(8.0, 0.0, timeout=400.0)
    events = [e.what for e in rover.core.events]
    assert 'lf locked: leading with the rear' in events
    looks = [e.t for e in rover.core.events if e.what.endswith('turning to look')]
    assert rover.hazcams.navcam_pairs > 20
    x = [x for t, x, _, _ in rover.truth if looks and t >= looks[-1]]
    assert len(looks) <= 1 and (not x or x[0] < 1.0), \
        f'looks at {looks}: the only one where the rear began to lead'
    assert abs(rover.position()[0] - 8.0) < 0.3
