"""The URDF files: what the ICD names, what an independent parser reads, what is refused."""
import math

import numpy as np
import pytest
import yourdfpy

from chang_e_rover import config
from chang_e_rover.robot_description import (DescriptionError, load_urdf, rover_geometry,
                                             STEERED_IDS, WHEEL_IDS)

ROVER = config.urdf_path('rover.urdf')
LANDER = config.urdf_path('lander.urdf')


def test_rover_loads_in_yourdfpy_with_the_icd_joints():
    robot = yourdfpy.URDF.load(str(ROVER), build_scene_graph=True, load_meshes=False)
    joints = {j.name: j.type for j in robot.robot.joints}
    for w in WHEEL_IDS:
        assert joints[f'wheel_{w}_joint'] == 'continuous'
    for w in STEERED_IDS:
        assert joints[f'steer_{w}_joint'] == 'revolute'
    for side in ('left', 'right'):
        assert joints[f'rocker_{side}_joint'] == 'revolute'
        assert joints[f'bogie_{side}_joint'] == 'revolute'
    assert 'steer_lm_joint' not in joints and 'steer_rm_joint' not in joints
    links = {link.name for link in robot.robot.links}
    assert {'hazcam_left', 'hazcam_right', 'pancam', 'imu_link', 'mast'} <= links


def test_masses_add_to_140_kg_in_both_parsers():
    robot = yourdfpy.URDF.load(str(ROVER), load_meshes=False)
    independent = sum(link.inertial.mass for link in robot.robot.links if link.inertial)
    assert independent == pytest.approx(140.0, abs=1e-6)
    assert load_urdf(ROVER).total_mass() == pytest.approx(independent)


def test_inertias_are_physical():
    for link in load_urdf(ROVER).links.values():
        if link.mass == 0:
            continue
        xx, yy, zz = link.inertia[:3]
        assert min(xx, yy, zz) > 0, link.name
        assert xx + yy >= zz and yy + zz >= xx and xx + zz >= yy, f'{link.name} triangle rule'


def test_our_parser_agrees_with_yourdfpy_on_wheel_positions():
    robot = yourdfpy.URDF.load(str(ROVER), build_scene_graph=True, load_meshes=False)
    ours = load_urdf(ROVER)
    for w in WHEEL_IDS:
        theirs = robot.get_transform(f'wheel_{w}', 'base_link')
        np.testing.assert_allclose(ours.transform_to_root(f'wheel_{w}'), theirs, atol=1e-9)


def test_geometry_fits_the_icd_envelope():
    g = rover_geometry(load_urdf(ROVER))
    xs = [x for x, _ in g.wheel_xy.values()]
    ys = [y for _, y in g.wheel_xy.values()]
    length = max(xs) - min(xs) + 2 * g.wheel_radius
    width = max(ys) - min(ys) + g.wheel_width
    assert length <= 1.5 + 1e-9 and width <= 1.0 + 1e-9
    assert g.track == pytest.approx(0.85) and g.wheelbase == pytest.approx(1.0)
    # the middle wheels sit on the steering-free axis: x = 0 keeps their kinematics exact
    assert g.wheel_xy['lm'][0] == pytest.approx(0.0)


def test_config_holds_the_icd_vehicle_limits():
    """The ICD's vehicle limits, stated here once against config/; code and other tests read
    config (the link's figures: test_relay_link.py)."""
    drive = config.load_params('rover.yaml', 'drive_controller')
    hazard = config.load_params('rover.yaml', 'hazard_camera')
    assert drive['max_speed_m_s'] == 0.0556
    assert (hazard['max_slope_deg'], hazard['max_step_m']) == (20.0, 0.20)


def test_footprint_and_self_filter_box_are_the_urdf_wheels_grown_by_config_margins():
    """The gate's footprint and the hazard cameras' own-body box follow the URDF's wheels:
    as they stood when set by hand in config (0.80 m ahead and behind, 0.60 m half-width;
    a box of 0.85 by 0.75 m half-sizes), and wider when the URDF's track is wider."""
    import dataclasses

    from chang_e_rover.hazard.gate import Footprint
    from chang_e_rover.hazard.mapper import HazardMapper
    from chang_e_rover.navigation.navigator import Navigator
    drive = config.load_params('rover.yaml', 'drive_controller')
    hazard = config.load_params('rover.yaml', 'hazard_camera')
    robot = load_urdf(ROVER)
    g = rover_geometry(robot)
    assert (g.half_length, g.half_width) == pytest.approx((0.75, 0.50))
    navigator = Navigator(g, drive, 0.05, lambda *_: None)
    assert navigator.guard.footprint == navigator.voter.footprint == Footprint(-0.80, 0.80, 0.60)
    assert HazardMapper(hazard, robot).own_box == (0.85, 0.75)
    wide = dataclasses.replace(g, wheel_xy={w: (x, 1.1 * y) for w, (x, y) in g.wheel_xy.items()})
    grown = Footprint.of_rover(wide, drive['hazard.footprint_end_margin_m'],
                               drive['hazard.footprint_side_margin_m'])
    assert grown.front == 0.80 and grown.half_width == pytest.approx(0.60 + 0.1 * 0.425)


def test_rocker_differential_is_declared_as_mimic():
    joint = load_urdf(ROVER).joints['rocker_right_joint']
    assert joint.mimic == ('rocker_left_joint', -1.0, 0.0)


def test_lander_has_deck_ramp_and_terrain_camera_mount():
    robot = yourdfpy.URDF.load(str(LANDER), build_scene_graph=True, load_meshes=False)
    joints = {j.name: j.type for j in robot.robot.joints}
    assert joints['ramp_joint'] == 'revolute'
    assert joints['tcam_pan_joint'] == 'continuous'
    assert joints['tcam_tilt_joint'] == 'revolute'
    assert {'deck', 'ramp', 'tcam', 'tcam_optical_frame'} <= {l.name for l in robot.robot.links}
    ours = load_urdf(LANDER)
    assert ours.transform_to_root('deck')[2, 3] == pytest.approx(1.5)
    assert ours.joints['ramp_joint'].lower == pytest.approx(-math.pi / 2, abs=1e-3)


def test_missing_and_malformed_files_are_refused(tmp_path):
    with pytest.raises(DescriptionError, match='not found'):
        load_urdf(tmp_path / 'nothing.urdf')
    bad = tmp_path / 'bad.urdf'
    bad.write_text('<robot name="x"><link name="a"></robot>')
    with pytest.raises(DescriptionError, match='well-formed'):
        load_urdf(bad)
    nan = tmp_path / 'nan.urdf'
    nan.write_text('<robot name="x"><link name="a"/><link name="b"/><joint name="j" type="fixed">'
                   '<parent link="a"/><child link="b"/><origin xyz="nan 0 0"/></joint></robot>')
    with pytest.raises(DescriptionError, match='finite'):
        load_urdf(nan)
