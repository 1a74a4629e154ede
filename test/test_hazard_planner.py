"""The cost to go over the hazard map (hazard/planner.py), alone and steering a goal drive."""
import math

import numpy as np
import pytest

from chang_e_rover import config
from chang_e_rover.drive.controller import DriveCore
from chang_e_rover.hazard.gate import Grid
from chang_e_rover.hazard.planner import navigation_function
from chang_e_rover.robot_description import load_urdf, rover_geometry, WHEEL_IDS

GEOMETRY = rover_geometry(load_urdf(config.urdf_path('rover.urdf')))
P = config.load_params('rover.yaml', 'drive_controller')
PERIOD = 1.0 / P['control_rate_hz']
HALF_WIDTH = GEOMETRY.outline(P['hazard.footprint_end_margin_m'],
                              P['hazard.footprint_side_margin_m'])[1]


def grid_with(cells=(), unknown=()):
    cost = np.zeros((200, 200), np.int8)          # 20 m square, 0.1 m cells, origin -10
    for value, boxes in ((100, cells), (-1, unknown)):
        for x0, x1, y0, y1 in boxes:
            cost[int(round((y0 + 10) * 10)):int(round((y1 + 10) * 10)),
                 int(round((x0 + 10) * 10)):int(round((x1 + 10) * 10))] = value
    return Grid(cost, -10.0, -10.0, 0.1)


def nav_of(grid, goal):
    return navigation_function(grid, goal, P['planner.cell_m'], HALF_WIDTH,
                               P['arcs.veto_cost'], P['arcs.hazard_weight'], P['arcs.unknown_cost'])


def test_open_known_ground_costs_its_length_and_unknown_ground_more():
    nav = nav_of(grid_with(), (5.0, 0.0))
    assert nav.value(0.0, 0.0) == pytest.approx(5.0, abs=0.15)
    assert nav.value(0.0, 3.0) == pytest.approx(math.hypot(5.0, 3.0), rel=0.05)   # 8-connected
    assert math.degrees(nav.heading(0.0, 0.0, 1.0)) == pytest.approx(0.0, abs=10.0)
    dark = nav_of(grid_with(unknown=[(-10.0, 10.0, -10.0, 10.0)]), (5.0, 0.0))
    rate = 1.0 + P['arcs.hazard_weight'] * P['arcs.unknown_cost'] / 100.0
    assert dark.value(0.0, 0.0) == pytest.approx(5.0 * rate, abs=0.2)
    # a goal off the map: the edge cells are the straight line from there, at the unknown rate
    far = nav_of(grid_with(), (30.0, 0.0))
    assert far.value(0.0, 0.0) == pytest.approx(10.0 + 20.0 * rate, abs=0.3)
    assert far.value(40.0, 0.0) == pytest.approx(10.0 * rate)


def test_a_wall_is_closed_with_the_rovers_half_width_and_the_way_goes_round_it():
    # a wall across the straight line from 1 m below it to far above, the goal behind it
    nav = nav_of(grid_with([(2.0, 2.3, -1.0, 10.0)]), (5.0, 0.0))
    assert math.isinf(nav.to_go[100 // 2, 115 // 2])              # on the wall
    half = HALF_WIDTH
    y_gap = -1.0 - half - 0.25                                     # just past the closed band
    assert math.isfinite(nav.value(2.15, y_gap))
    # from the start the cost to go is the way round the wall's lower end, not through it
    round_end = math.hypot(2.15, y_gap) + math.hypot(5.0 - 2.15, y_gap)
    assert nav.value(0.0, 0.0) == pytest.approx(round_end, rel=0.08)
    assert nav.value(0.0, 0.0) > 5.0 + 0.3
    assert math.degrees(nav.heading(0.0, 0.0, 1.0)) < -20.0      # it turns toward the gap
    # a gap narrower than the rover is closed: the way goes round the other end instead
    narrow = nav_of(grid_with([(2.0, 2.3, -10.0, -0.5), (2.0, 2.3, 0.3, 10.0)]), (5.0, 0.0))
    assert math.isinf(narrow.value(2.15, -0.1))
    with pytest.raises(ValueError):
        navigation_function(Grid(np.zeros((1, 1), np.int8), 0.0, 0.0, 0.1), (1.0, 0.0), 0.2,
                            0.6, 90, 1.0, 30.0)


def drive(core, goal, seconds):
    """A goal drive on a kinematic rover: corners follow at once, the pose integrates the
    controller's (v, omega) after the gate; return the path and whether it arrived."""
    core.set_goal(*goal, 0.0)
    t, path = 0.0, []
    o = core.odometry
    while t < seconds:
        for w in WHEEL_IDS:
            core.wheel_status(w, 'ENABLED', 'none', t)
        if t - core.hazard_t >= 5.0:
            core.hazard(core.hazard_map, t)    # the same map again, within its timeout
        out = core.step(t, PERIOD)
        core.steering(out.steer)
        core.yaw_rate(out.omega)
        o.yaw += out.omega * PERIOD
        o.x += out.v * math.cos(o.yaw) * PERIOD
        o.y += out.v * math.sin(o.yaw) * PERIOD
        path.append((t, o.x, o.y))
        if core.goal.reached:
            return path, True
        t += PERIOD
    return path, False


# A cup open behind the rover, the goal beyond its bottom: arcs of 2 m toward the goal all
# meet the cup; the way out is back through its mouth and round an arm.
CUP = [(2.5, 2.8, -2.3, 2.3), (0.0, 2.8, 2.0, 2.3), (0.0, 2.8, -2.3, -2.0)]


@pytest.mark.timeout(300)
def test_a_goal_drive_leaves_a_cup_that_holds_arc_voting_alone():
    grid = grid_with(CUP)
    inside = DriveCore(GEOMETRY, {**P, 'planner.cell_m': 0.0}, start_t=0.0)
    inside.hazard(grid, 0.0)
    path, reached = drive(inside, (6.0, 0.0), 900.0)
    assert not reached and max(x for _, x, _ in path) < 2.5, 'without the planner: held in the cup'
    core = DriveCore(GEOMETRY, P, start_t=0.0)
    core.hazard(grid, 0.0)
    path, reached = drive(core, (6.0, 0.0), 900.0)
    assert reached, f'held at ({core.odometry.x:.2f}, {core.odometry.y:.2f})'
    xy = np.array([(x, y) for _, x, y in path])
    assert np.all(grid.lookup(xy[:, 0], xy[:, 1]) < 100), 'the centre never crossed the cup'
    assert path[-1][0] < 700.0


def test_a_dead_end_is_closed_round_its_place_but_never_round_the_goal():
    grid = grid_with()
    open_nav = nav_of(grid, (5.0, 0.0))

    def with_dead_ends(*discs):
        return navigation_function(grid, (5.0, 0.0), P['planner.cell_m'], HALF_WIDTH,
                                   P['arcs.veto_cost'], P['arcs.hazard_weight'],
                                   P['arcs.unknown_cost'], discs)
    shut = with_dead_ends((2.5, 0.0, 0.6))
    assert math.isinf(shut.to_go[50, 62]) and math.isfinite(open_nav.to_go[50, 62])  # (2.5, 0)
    assert math.isfinite(shut.value(0.0, 0.0))
    assert shut.value(0.0, 0.0) > open_nav.value(0.0, 0.0) + 0.1, 'the way goes round it'
    at_goal = with_dead_ends((4.8, 0.0, 0.5))
    assert at_goal.value(0.0, 0.0) == pytest.approx(open_nav.value(0.0, 0.0)), \
        'a dead end round the goal would make it unreachable: not closed'


# A corridor 2.2 m wide heading east, shut at its far end, with an exit north along its last
# 2 m and the goal beyond that: the cost to go leads in (the exit is wide enough for the
# rover's centre), but the rover's footprint cannot turn into the exit nor in place.
CORRIDOR = [(1.0, 4.0, 1.1, 1.4), (1.0, 6.3, -1.4, -1.1), (6.0, 6.3, -1.1, 4.1)]


@pytest.mark.timeout(300)
def test_boxed_in_at_a_corridors_side_exit_the_rover_backs_out_and_goes_round():
    grid = grid_with(CORRIDOR)
    off = DriveCore(GEOMETRY, {**P, 'recovery.dead_end_m': 0.0, 'recovery.boxed_in_s': 0.0},
                    start_t=0.0)
    off.hazard(grid, 0.0)
    path, reached = drive(off, (5.0, 5.0), 600.0)
    assert not reached, 'without dead ends: back in after each back-off, held to the end'
    core = DriveCore(GEOMETRY, P, start_t=0.0)
    core.hazard(grid, 0.0)
    path, reached = drive(core, (5.0, 5.0), 600.0)
    assert reached, f'held at ({core.odometry.x:.2f}, {core.odometry.y:.2f})'
    assert any('dead end' in e.what for e in core.events)
    xy = np.array([(x, y) for _, x, y in path])
    out = xy[xy[:, 1] > 1.4]
    assert out[0, 0] < 1.0, 'it left the corridor by the way it came in, and went round'
