"""The flight cores through a seeded rock field (no ROS): hazard cameras, gate, arc voting.

The harness renders the hazcam pair at its rate and runs the same HazardMapper
and DriveCore as /rover/hazard_camera and /rover/drive_controller, with the six
wheel units, on the simulator, deterministically (the ROS stack's own run of
this field is in test_hazard_stack.py). Ground truth: the simulator's rocks and
heightfield, and its contact list.
"""
import math

import pytest

from harness import HAZARD, map_quality, Rover

TALL = HAZARD['max_step_m']     # m: the rover's step limit
GOAL = (15.0, 0.0)


@pytest.fixture(scope='module')
def crossing():
    rover = Rover('rocks', hazcams=True, **{'terrain.seed': 3, 'terrain.rock_abundance': 0.1})
    w = rover.world
    tall = {f'rock_{i}' for i, r in enumerate(w.terrain.rocks) if 0.5 * r[2] > TALL}
    touched: set[str] = set()
    path: list[tuple[float, float]] = []

    def watch(_):
        touched.update(w.rover_contacts() & tall)
        p = tuple(w.ground_truth().position[:2])
        if not path or math.dist(path[-1], p) > 0.1:
            path.append(p)

    reached = rover.drive_to(*GOAL, 600.0, during=watch)
    m = rover.hazcams.mapper
    h = rover.hazcams
    quality = map_quality(m.map, m.limits, w, path, views=h.views, K=h.K, size=h.size,
                          registration_m=rover.odom_error_max)
    x, y = rover.position()
    print(f'reached {reached} at ({x:.2f}, {y:.2f}) after {w.time:.0f} s; odometry error '
          f'at most {rover.odom_error_max:.3f} m; '
          f'map within 5 m: {quality}; '
          f'events: {[f"{e.t:.0f} s {e.what}" for e in rover.core.events]}')
    rover.hazcams.close()
    return {'rover': rover, 'reached': reached, 'xy': (x, y), 'tall': tall,
            'touched': touched, 'quality': quality}


@pytest.mark.timeout(1800)
def test_flight_cores_reach_a_goal_15_m_away_through_rocks_touching_none_over_20_cm(crossing):
    c = crossing
    assert len(c['tall']) > 20, 'a field with tall rocks to avoid'
    # Reached by the controller (its odometry within goal_tolerance_m), and by ground truth
    # within the odometry's bound on the rock field (issue 3: drift at most 5 % of the
    # distance): the truth lay 0.39-0.48 m off in the runs of 2026-12-01, the odometry
    # 0.35-0.45 m off at worst.
    assert c['reached'] and math.dist(c['xy'], GOAL) < 0.05 * math.hypot(*GOAL), \
        f"goal not reached: {c['xy']}"
    assert not c['touched'], f"touched rocks taller than {TALL} m: {c['touched']}"
    # A wheel held against a rock it could climb may latch a stall (the unit cannot tell
    # terrain from a seized motor); the controller's retry must bring it back.
    core = c['rover'].core
    assert len(core.healthy(c['rover'].world.time)) == 6, \
        f"wheels left out of service: {c['rover'].detected}"
    q = c['quality']
    assert q['cells'] > 5000 and q['rmse_m'] < 0.08, 'height map against the true heightfield'
    assert q['false_hazard_share'] <= 0.05, 'false hazards at most 5 % of free cells'


def test_the_map_finds_99_percent_of_the_rocks_of_20_cm_within_5_m(crossing):
    # Within the cameras' 5 m (rocks whose top was in a frame within 5 m of the camera). One
    # field, one path; recall over rocks in general: bench/bench_hazard_recall.py.
    q = crossing['quality']
    assert q['rocks'] >= 5 and q['recall'] >= 0.99, q['missed']
