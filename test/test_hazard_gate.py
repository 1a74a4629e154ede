"""Safety gate and arc voting on synthetic cost grids (no ROS)."""
import math

import numpy as np

from chang_e_rover import config
from chang_e_rover.hazard.gate import arc_poses, Footprint, gate, Grid, KeepOut, vote_arcs
from chang_e_rover.robot_description import load_urdf, rover_geometry

P = config.load_params('rover.yaml', 'drive_controller')
FOOT = Footprint.of_rover(rover_geometry(load_urdf(config.urdf_path('rover.urdf'))),
                          P['hazard.footprint_end_margin_m'], P['hazard.footprint_side_margin_m'])


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


def test_a_keep_out_vetoes_arcs_that_take_its_wheel_back_to_the_place_only():
    # rr (rear right) held the rover 0.5 m ahead of where it stands now: open ground on the map
    rr = (-0.5, -0.425)
    keep = KeepOut('rr', rr, (0.0, -0.425), 0.35)
    curvatures = np.linspace(-1, 1, 15)
    free = vote_arcs(grid_with(), (0.0, 0.0, 0.0), (8.0, 0.0), FOOT, curvatures, 2.0, 0.1, 1.0,
                     30.0)
    assert not any(v.vetoed for v in free)
    kept = {v.curvature: v for v in vote_arcs(grid_with(), (0.0, 0.0, 0.0), (8.0, 0.0), FOOT,
                                              curvatures, 2.0, 0.1, 1.0, 30.0,
                                              keep_outs=(keep,))}
    assert kept[0.0].vetoed and kept[1.0].vetoed and kept[-1.0].vetoed, \
        'every forward arc drives the rear wheel over the place'
    # turned 90 deg in place (the vote's fallback), the wheel's arcs lead away from it
    turned = vote_arcs(grid_with(), (0.0, 0.0, math.pi / 2), (0.0, 8.0), FOOT, curvatures, 2.0,
                       0.1, 1.0, 30.0, keep_outs=(keep,))
    assert not turned[0].vetoed and sum(v.vetoed for v in turned) < len(turned)
    # another wheel's keep-out does not bind rr's neighbours: lf's place far behind it
    other = KeepOut('lf', (0.5, 0.425), (-5.0, 5.0), 0.35)
    assert not vote_arcs(grid_with(), (0.0, 0.0, 0.0), (8.0, 0.0), FOOT, curvatures, 2.0, 0.1,
                         1.0, 30.0, keep_outs=(other,))[0].vetoed


def test_a_wheel_standing_in_its_keep_out_may_leave_it_but_not_go_nearer():
    keep = KeepOut('rr', (-0.5, -0.425), (-0.4, -0.425), 0.35)    # 0.1 m ahead of rr
    ahead = vote_arcs(grid_with(), (0.0, 0.0, 0.0), (8.0, 0.0), FOOT, np.array([0.0]), 2.0,
                      0.1, 1.0, 30.0, keep_outs=(keep,))
    assert ahead[0].vetoed, 'straight on drives the wheel through the place'
    poses = arc_poses(0.0, 0.0, 0.0, 0.0, -1.0, 0.1)             # straight back
    assert not keep.met((0.0, 0.0, 0.0), poses), 'backing away takes it no nearer'
    assert keep.met((-1.0, 0.0, 0.0), arc_poses(-1.0, 0.0, 0.0, 0.0, 1.0, 0.1))


def test_the_arc_being_driven_passes_a_keep_out_by_its_slack_only():
    # lf's place 0.32 m to the left of its straight track: the straight arc misses it by less
    # than the 0.35 m radius, so it is vetoed, unless it is the arc being driven (the pose
    # shifting a centimetre as the corners swing must not close it on the next vote)
    lf = (0.5, 0.425)
    keep = KeepOut('lf', lf, (1.5, 0.425 + 0.32), 0.35)
    straight = np.array([0.0])
    args = (grid_with(), (0.0, 0.0, 0.0), (8.0, 0.0), FOOT, straight, 2.0, 0.1, 1.0, 30.0)
    assert vote_arcs(*args, keep_outs=(keep,))[0].vetoed
    assert vote_arcs(*args, keep_outs=(keep,), driven=0.5, keep_out_slack=0.05)[0].vetoed, \
        'the slack is for the arc being driven only'
    assert not vote_arcs(*args, keep_outs=(keep,), driven=0.0, keep_out_slack=0.05)[0].vetoed
    # nearer than radius less slack: refused all the same
    near = KeepOut('lf', lf, (1.5, 0.425 + 0.25), 0.35)
    assert vote_arcs(*args, keep_outs=(near,), driven=0.0, keep_out_slack=0.05)[0].vetoed
    # a wheel standing inside its keep-out (Monte Carlo seed 4, k = 2, 0.25 m from the goal,
    # lf 0.15 m from its place): the driven arc's bound is where it stands, less the slack
    inside = KeepOut('lf', lf, (0.5 + 0.15, 0.425 + 0.16), 0.35)     # 0.219 m off now
    arc = np.array([-0.3])      # turns right, lf passes 0.181 m off the place: 4 cm nearer
    shifted = (grid_with(), (0.0, 0.0, 0.0), (8.0, 0.0), FOOT, arc, 2.0, 0.1, 1.0, 30.0)
    assert vote_arcs(*shifted, keep_outs=(inside,))[0].vetoed
    assert not vote_arcs(*shifted, keep_outs=(inside,), driven=-0.3, keep_out_slack=0.05)[0].vetoed


def test_a_dead_wheels_track_avoids_small_rocks_while_another_arc_is_open():
    # a 6 cm rock (cost 30: within the limits, the footprint may cross it) 1 m ahead of lf,
    # then 0.15 m ahead of it: under the footprint, cleared for the footprint, not for lf
    lf = (0.5, 0.425)
    cost = np.zeros((200, 200), np.int8)
    for rock_x in (1.5, 0.65):
        for gx, gy in ((rock_x, 0.425), (rock_x + 0.05, 0.45)):
            cost[int((gy + 10) * 10), int((gx + 10) * 10)] = 30
        curvatures = np.linspace(-1, 1, 15)
        args = (Grid(cost.copy(), -10.0, -10.0, 0.1), (0.0, 0.0, 0.0), (8.0, 0.0), FOOT,
                curvatures, 2.0, 0.1, 1.0, 30.0)
        healthy = {v.curvature: v for v in vote_arcs(*args)}
        assert not any(v.vetoed for v in healthy.values()), \
            'with every wheel driven the rock is within the limits'
        dead = {v.curvature: v for v in vote_arcs(*args, dead_wheels=(lf,), dead_wheel_cost=25.0)}
        assert dead[0.0].vetoed and dead[0.0].track == 0.3, f'lf meets the rock at {rock_x}'
        assert not dead[1.0].vetoed and not dead[-1.0].vetoed
        assert not vote_arcs(*args, dead_wheels=((0.5, -0.425),), dead_wheel_cost=25.0)[0].vetoed, \
            'rf passes beside it'
        assert not vote_arcs(*args, dead_wheels=(lf,), dead_wheel_cost=31.0)[0].vetoed
        cost[:] = 0
    # a rock's edge in the cell beside lf's line (0.5-0.6 m; the line at 0.425): within a
    # band of 0.08 m, so the straight arc is vetoed, unless it is the arc being driven (its
    # centre line only: the pose shifting a centimetre must not veto it and open it on
    # alternate votes)
    cost[105, int((1.5 + 10) * 10)] = 30
    args = (Grid(cost.copy(), -10.0, -10.0, 0.1), (0.0, 0.0, 0.0), (8.0, 0.0), FOOT,
            np.array([0.0, 0.57]), 2.0, 0.1, 1.0, 30.0)
    dead = dict(dead_wheels=(lf,), dead_wheel_cost=25.0, dead_wheel_band=0.08)
    assert {v.curvature: v.vetoed for v in vote_arcs(*args, **dead)}[0.0]
    assert not {v.curvature: v.vetoed for v in vote_arcs(*args, driven=0.0, **dead)}[0.0]
    cost[:] = 0
    # a field of such rocks across every arc: none is vetoed for them (no fence)
    cost[:, 105:125] = 30
    field = vote_arcs(Grid(cost, -10.0, -10.0, 0.1), (0.0, 0.0, 0.0), (8.0, 0.0), FOOT,
                      np.linspace(-1, 1, 15), 2.0, 0.1, 1.0, 30.0, dead_wheels=(lf,),
                      dead_wheel_cost=25.0)
    assert not any(v.vetoed for v in field)
