"""Mutual imaging: the lander's terrain camera on the rover, the rover's pancam on the lander.

The pointing comes from the two vehicles' poses (imaging/pointing.py, transforms3d);
the simulator renders both cameras at the angles their servos reached and says,
by its segmentation, what each pixel shows.
"""
import math

import mujoco
import numpy as np
import pytest

from chang_e_rover.imaging.pointing import Mount, planar_pose, pose, PointingError
from chang_e_rover.sim.camera import CameraRig
from chang_e_rover.sim.world import LANDER, ROVER, World


def settle(world, robot, targets, timeout=60.0):
    for joint, value in targets.items():
        world.set_joint_target(robot, joint, value)
    names = world.lander_joints if robot == 'lander' else world.rover_joints
    end = world.time + timeout
    while world.time < end:
        world.step(0.1)
        _, q, v, _ = world.joint_state(robot)
        if all(abs(q[names.index(j)] - a) < 1e-3 and abs(v[names.index(j)]) < 1e-3
               for j, a in targets.items()):
            return
    raise AssertionError(f'{robot} camera did not settle at {targets}')


def projected(world, camera, point):
    """Pixel (u, v) of a world point in a MuJoCo camera as rendered (it looks down -z, y up)."""
    cid = world.model.camera(camera).id
    rel = world.data.cam_xmat[cid].reshape(3, 3).T @ (np.asarray(point) - world.data.cam_xpos[cid])
    spec = world.cameras[camera]
    f = spec.focal_px
    return (f * rel[0] / -rel[2] + (spec.width - 1) / 2,
            -f * rel[1] / -rel[2] + (spec.height - 1) / 2)


@pytest.fixture(scope='module')
def scene():
    world = World(overrides={'terrain.name': 'flat'})
    # The rover parked 8 m from the lander, turned so that the lander is off its tail.
    m, d = world.model, world.data
    adr = m.jnt_qposadr[m.joint(ROVER + 'root').id]
    yaw = 2.4
    d.qpos[adr:adr + 3] = [3.0, -4.0, d.qpos[adr + 2]]
    d.qpos[adr + 3:adr + 7] = [math.cos(yaw / 2), 0.0, 0.0, math.sin(yaw / 2)]
    world.step(2.0)
    rig = CameraRig(world.model, world.cameras)
    yield world, rig
    rig.close()


def test_each_camera_points_at_the_other_vehicle(scene):
    world, rig = scene
    truth = world.ground_truth()
    rover_pose = pose(truth.position, truth.quaternion)          # the rover's odom pose
    lz = float(world.terrain.ground_height(np.array(world.lander_xy[0]),
                                           np.array(world.lander_xy[1])))
    lander_pose = planar_pose(*world.lander_xy, lz, world.lander_yaw)
    body = world.lander_robot.links['base_link'].collisions[0].xyz   # the lander's body box
    lander_centre = (lander_pose @ np.array([*body, 1.0]))[:3]
    rover_centre = truth.position                                  # base_link, rocker pivot
    tcam = Mount(world.lander_robot, 'tcam_pan_joint', 'tcam_tilt_joint', 'tcam_optical_frame')
    pancam = Mount(world.rover_robot, 'pancam_pan_joint', 'pancam_tilt_joint',
                   'pancam_optical_frame')
    pan_l, tilt_l = tcam.aim(lander_pose, rover_centre)
    pan_r, tilt_r = pancam.aim(rover_pose, lander_centre)
    assert tcam.off_axis(lander_pose, rover_centre, pan_l, tilt_l) < 1e-4   # URDF 1.5708 rounding
    assert pancam.off_axis(rover_pose, lander_centre, pan_r, tilt_r) < 1e-4
    settle(world, 'lander', {'tcam_pan_joint': pan_l, 'tcam_tilt_joint': tilt_l})
    settle(world, 'rover', {'pancam_pan_joint': pan_r, 'pancam_tilt_joint': tilt_r})
    for camera, target, prefix in (('tcam', rover_centre, ROVER),
                                   ('pancam', lander_centre, LANDER)):
        spec = world.cameras[camera]
        u, v = projected(world, camera, target)
        du, dv = abs(u - (spec.width - 1) / 2) / spec.width, abs(v - (spec.height - 1) / 2) / spec.height
        bodies = rig.segment(world.data, camera)
        names = np.array([world.model.body(i).name for i in range(world.model.nbody)])
        mask = np.zeros(bodies.shape, bool)
        valid = bodies >= 0
        mask[valid] = np.char.startswith(names[bodies[valid]], prefix)
        share = mask.mean()
        ys, xs = np.nonzero(mask)
        cu, cv = xs.mean() / spec.width - 0.5, ys.mean() / spec.height - 0.5
        print(f'{camera}: target centre off by {100 * du:.2f} % x {100 * dv:.2f} % of the frame;'
              f' target covers {100 * share:.1f} %, its pixels centred at '
              f'({100 * cu:+.1f} %, {100 * cv:+.1f} %)')
        assert du <= 0.05 and dv <= 0.05
        assert share > 0.01, f'{camera}: the target is not in view by segmentation'
        assert abs(cu) < 0.15 and abs(cv) < 0.15


def test_a_target_out_of_reach_is_refused(scene):
    world, _ = scene
    pancam = Mount(world.rover_robot, 'pancam_pan_joint', 'pancam_tilt_joint',
                   'pancam_optical_frame')
    here = pose([0.0, 0.0, 0.55])
    with pytest.raises(PointingError, match='out of reach'):
        pancam.aim(here, [0.3, 0.0, 40.0])        # straight overhead: past the tilt stop
    with pytest.raises(PointingError, match='out of reach'):
        pancam.aim(here, [-10.0, 0.0, 0.5])       # dead astern: past the pan stop
    with pytest.raises(PointingError, match='finite'):
        pancam.aim(here, [math.nan, 0.0, 0.0])
    with pytest.raises(PointingError):
        pose([0, 0, 0], [0, 0, 0, 0])


def test_the_lander_pose_in_odom_agrees_with_the_simulator_deck_start():
    """odom starts at the rover's place on the deck: the lander's pose in it is known."""
    from chang_e_rover.lander.mutual import MutualImaging
    world = World(overrides={'terrain.name': 'flat', 'rover_start': 'deck'})
    start = world.ground_truth().position
    m = MutualImaging()
    lander_in_world = m.lander_in_odom[:3, 3] + start
    assert np.allclose(lander_in_world[:2], world.lander_xy, atol=1e-3)
    assert abs(lander_in_world[2]) < 0.02          # its footpads on the ground (z = 0)
    assert abs(m.rover_z + start[2] - 0.55) < 0.02     # the rover's base over that ground
    aims = m.plan(8.0, -2.0, 0.0)
    assert set(aims) == {'tcam', 'pancam'}
    assert m.settled({'tcam_pan_joint': (aims['tcam'][0], 0.0),
                      'tcam_tilt_joint': (aims['tcam'][1], 0.0),
                      'pancam_pan_joint': (aims['pancam'][0], 0.0),
                      'pancam_tilt_joint': (aims['pancam'][1] + 0.01, 0.0)}) is False
