"""Safety gate and arc voting on synthetic cost grids (no ROS)."""
import math

import numpy as np

from chang_e_rover.hazard.gate import arc_poses, Footprint, gate, Grid, vote_arcs

FOOT = Footprint(-0.8, 0.8, 0.6)


def grid_with(cells=()):
    cost = np.zeros((200, 200), np.int8)          # 20 m square, 0.1 m cells, origin -10
    for x0, x1, y0, y1 in cells:
        cost[int((y0 + 10) * 10):int((y1 + 10) * 10), int((x0 + 10) * 10):int((x1 + 10) * 10)] = 100
    return Grid(cost, -10.0, -10.0, 0.1)


def test_arc_poses_follow_the_circle():
    poses = arc_poses(0.0, 0.0, 0.0, 1.0, math.pi / 2, 0.01)
    assert np.allclose(poses[-1], [1.0, 1.0, math.pi / 2], atol=0.02)
    straight = arc_poses(1.0, 2.0, math.pi / 2, 0.0, 1.0, 0.1)
    assert np.allclose(straight[-1], [1.0, 3.0, math.pi / 2])


def test_gate_refuses_motion_into_a_wall_within_reach_only():
    g = grid_with([(2.0, 2.3, -3.0, 3.0)])             # a wall 2 m ahead
    far = gate(g, (0.0, 0.0, 0.0), 0.05, 0.0, FOOT, 0.8, 0.1)
    assert not far.blocked                              # front 0.8 + reach 0.8 < 2.0
    near = gate(g, (0.5, 0.0, 0.0), 0.05, 0.0, FOOT, 0.8, 0.1)
    assert near.blocked and 1.0 < near.where[0] < 1.3
    assert 1.95 <= near.cell[0] < 2.3, 'the ground it meets, in the wall'
    assert not gate(g, (0.5, 0.0, 0.0), -0.05, 0.0, FOOT, 0.8, 0.1).blocked   # backing away
    assert not gate(g, (0.5, 0.0, 0.0), 0.0, 0.0, FOOT, 0.8, 0.1).blocked


def test_gate_checks_motion_backwards_too():
    g = grid_with([(-1.3, -1.0, -3.0, 3.0)])           # a wall 1.0 m behind
    assert gate(g, (0.0, 0.0, 0.0), -0.03, 0.0, FOOT, 0.8, 0.1).blocked
    assert not gate(g, (0.0, 0.0, 0.0), 0.03, 0.0, FOOT, 0.8, 0.1).blocked
    back = arc_poses(0.0, 0.0, 0.0, 0.5, -1.0, 0.1)
    assert len(back) == 10 and back[-1][0] < -0.9 and back[-1][2] < 0.0


def test_gate_checks_the_swept_arc_not_just_straight_ahead():
    g = grid_with([(0.9, 1.6, 0.9, 1.6)])               # a rock ahead and to the left
    assert not gate(g, (0.0, 0.0, 0.0), 0.05, 0.0, FOOT, 0.8, 0.1).blocked
    assert gate(g, (0.0, 0.0, 0.0), 0.05, 0.05, FOOT, 0.8, 0.1).blocked      # turning left into it


def test_arc_voting_goes_around_an_obstacle_and_vetoes_through_it():
    g = grid_with([(2.0, 2.4, -0.3, 0.3)])              # a boulder straight on the way
    votes = vote_arcs(g, (0.0, 0.0, 0.0), (8.0, 0.0), FOOT, np.linspace(-1, 1, 15), 2.0, 0.1,
                      1.0, 30.0)
    straight = next(v for v in votes if abs(v.curvature) < 1e-9)
    assert straight.vetoed
    assert not votes[0].vetoed and abs(votes[0].curvature) > 0.1 and votes[0].progress > 0.5
    clear = vote_arcs(grid_with(), (0.0, 0.0, 0.0), (8.0, 0.0), FOOT, np.linspace(-1, 1, 15),
                      2.0, 0.1, 1.0, 30.0)
    assert abs(clear[0].curvature) < 1e-9               # nothing in the way: straight on


def test_a_hazard_under_the_rover_does_not_hold_it_but_new_ones_ahead_do():
    # a stray hazard cell under the rover's middle, and a wall 2 m ahead
    g = grid_with([(0.0, 0.1, 0.0, 0.1), (2.0, 2.3, -3.0, 3.0)])
    here = (0.0, 0.0, 0.0)
    assert not gate(g, here, 0.05, 0.0, FOOT, 0.8, 0.1).blocked       # it can drive away
    assert not gate(g, here, -0.05, 0.0, FOOT, 0.8, 0.1).blocked
    assert not gate(g, here, 0.0, 0.1, FOOT, 0.8, 0.1).blocked        # or turn
    best = vote_arcs(g, here, (5.0, 0.0), FOOT, np.linspace(-1, 1, 15), 2.0, 0.1, 1.0, 30.0)[0]
    assert not best.vetoed
    # the wall ahead still stops it once within reach; the grid itself is not changed
    assert gate(g, (0.5, 0.0, 0.0), 0.05, 0.0, FOOT, 0.8, 0.1).blocked
    assert g.cost[100, 100] == 100
    # a rock the footprint's edge already overlaps: driving on along it enters new rock
    side = grid_with([(-0.5, 2.0, 0.5, 0.9)])
    assert gate(side, here, 0.05, 0.0, FOOT, 0.8, 0.1).blocked


def test_a_turn_in_place_refused_names_the_ground_it_would_sweep_not_the_rover():
    g = grid_with([(0.7, 0.8, 0.7, 0.8)])               # a cell the left-front corner sweeps
    turn = gate(g, (0.0, 0.0, 0.0), 0.0, 0.1, FOOT, 0.8, 0.1)
    assert turn.blocked and turn.where == (0.0, 0.0)
    assert 0.6 <= turn.cell[0] <= 0.9 and 0.6 <= turn.cell[1] <= 0.9
