"""hazard/view_steps.py: which stereo pairs the hazard map takes (no ROS)."""
import math

import pytest

from chang_e_rover import config
from chang_e_rover.hazard.view_steps import ViewSteps


def steps() -> ViewSteps:
    return ViewSteps(step_m=0.2, step_deg=10.0, max_interval_s=4.0)


def test_driving_straight_a_pair_is_mapped_each_step_of_travel():
    views = steps()
    taken = [t for t in range(20) if views.take(float(t), 0.056 * t, 0.0, 0.0)]
    # 0.056 m a second: the first pair, then each 0.2 m (4 pairs of 0.056 m)
    assert taken == [0, 4, 8, 12, 16]
    assert views.skipped == 15


def test_turning_in_place_a_pair_is_mapped_each_step_of_turn():
    views = steps()
    taken = [t for t in range(8) if views.take(float(t), 1.0, 2.0, math.remainder(
        3.0 + 0.1 * t, math.tau))]     # 5.7 deg a second, across +-pi
    assert taken == [0, 2, 4, 6]


def test_a_rover_that_comes_to_rest_is_mapped_once_where_it_stands_then_at_the_interval():
    views = steps()
    assert views.take(0.0, 0.0, 0.0, 0.0)
    assert not views.take(1.0, 0.05, 0.0, 0.0)
    assert not views.take(2.0, 0.10, 0.0, 0.0), 'still moving, not a step yet'
    assert views.take(3.0, 0.10, 0.0, 0.0), 'at rest where no pair was mapped'
    assert not views.take(4.0, 0.10, 0.0, 0.0), 'that view is in the map'
    assert not views.take(6.0, 0.10, 0.0, 0.0)
    assert views.take(7.0, 0.10, 0.0, 0.0), 'max_interval_s after the last one mapped'


def test_sim_time_going_back_maps_at_once():
    views = steps()
    assert views.take(100.0, 0.0, 0.0, 0.0)
    assert views.take(1.0, 0.0, 0.0, 0.0), 'a rebuilt world'


def test_zero_steps_map_every_pair():
    views = ViewSteps(0.0, 0.0, 0.0)
    assert all(views.take(float(t), 0.0, 0.0, 0.0) for t in range(5))


@pytest.mark.parametrize('bad', [dict(step_m=-0.1), dict(step_deg=math.nan),
                                 dict(max_interval_s=math.inf)])
def test_bad_steps_are_refused_with_the_parameter_named(bad):
    args = dict(step_m=0.2, step_deg=10.0, max_interval_s=4.0) | bad
    name = 'map.' + next(iter(bad))
    with pytest.raises(ValueError, match=name):
        ViewSteps(**args)


def test_the_map_comes_inside_the_drives_map_timeout():
    hazard = config.load_params('rover.yaml', 'hazard_camera')
    drive = config.load_params('rover.yaml', 'drive_controller')
    views = ViewSteps.from_params(hazard)
    assert views.max_interval_s + drive['hazard.map_latency_s'] < drive['hazard.map_timeout_s']


def test_the_mapper_maps_every_pair_while_its_colour_response_is_measured():
    import numpy as np
    from chang_e_rover.hazard.mapper import HazardMapper
    from chang_e_rover.robot_description import load_urdf
    mapper = HazardMapper(config.load_params('rover.yaml', 'hazard_camera'),
                          load_urdf(config.urdf_path('rover.urdf')))
    mapper.odometry(1.0, 2.0, 0.3)
    assert mapper.wants(0.0) and mapper.wants(1.0), 'the response is not known yet'
    mapper.response = np.ones(3)
    assert mapper.wants(2.0), 'the first view after it'
    assert not mapper.wants(3.0), 'the same view again'
    assert mapper.views.skipped == 1
