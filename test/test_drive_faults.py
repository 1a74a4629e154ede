"""Fault-tolerant driving on the simulator: every fault on every wheel, pairs, a lost unit.

Runs the flight cores (six WheelUnits and the DriveCore) on the MuJoCo world
through test/harness.py: the same values the nodes exchange, without DDS, so
the whole matrix runs in minutes. Every test measures: detection time from
the injection, the rover's true position against the goal, its true speed.
"""
import math

import pytest

from chang_e_rover.drive.wheel_health import FAULT
from chang_e_rover.robot_description import WHEEL_IDS
from harness import CONTROLLER, Rover

GOAL = (5.0, 0.0)
GOAL_TOLERANCE = 0.25       # issue: reach a goal 5 m away within 0.25 m
DETECTION_LIMIT = 1.0       # s of sim time from injection to latched fault
INJECT_AT = 30.0            # s: mid-traverse, about 1.6 m out
FAULTS = ('stall', 'open_circuit', 'encoder_dropout', 'overcurrent', 'overtemperature')


def drive_with_faults(faults: dict[str, str], kill: tuple[str, ...] = ()) -> Rover:
    rover = Rover()

    def inject(r: Rover):
        if r.world.time >= INJECT_AT and not r.fault_injected:
            for wheel, kind in faults.items():
                r.inject(wheel, kind)
            for wheel in kill:
                r.kill(wheel)

    reached = rover.drive_to(*GOAL, timeout=240.0, during=inject)
    assert reached, f'goal not reached; stopped at {rover.position()}'
    return rover


def arrival_error(rover: Rover) -> float:
    x, y = rover.position()
    return math.hypot(x - GOAL[0], y - GOAL[1])


def test_straight_5_m_on_flat_keeps_line_and_speed():
    rover = Rover()
    assert rover.drive_to(*GOAL, timeout=200.0)
    assert max(abs(y) for _, _, y, _ in rover.truth) <= 0.1
    assert max(s for *_, s in rover.truth) <= CONTROLLER['max_speed_m_s']
    assert arrival_error(rover) <= GOAL_TOLERANCE


@pytest.mark.parametrize('fault', FAULTS)
@pytest.mark.parametrize('wheel', WHEEL_IDS)
def test_single_fault_is_detected_isolated_and_the_goal_reached(wheel, fault):
    rover = drive_with_faults({wheel: fault})
    assert wheel in rover.detected, f'{fault} on {wheel} never detected'
    t, kind = rover.detected[wheel]
    assert kind == fault
    assert t - rover.fault_injected[wheel] <= DETECTION_LIMIT
    assert rover.units[wheel].state == FAULT
    assert wheel not in rover.core.healthy(rover.world.time)
    assert arrival_error(rover) <= GOAL_TOLERANCE
    others = [w for w in WHEEL_IDS if w != wheel]
    assert all(rover.units[w].fault == 'none' for w in others), 'no healthy wheel blamed'


# Pairs: both on one side (front and middle, middle and rear), one each side,
# both middle wheels, and two steered corners diagonally. Left out, and said so
# in docs/drive.md: two *seized* wheels on one bogie, where yaw balance leaves
# almost no forward force (the rover crawls at about 0.016 m/s).
PAIRS = [(('lf', 'stall'), ('lm', 'open_circuit')),
         (('rm', 'open_circuit'), ('rr', 'stall')),
         (('lm', 'overcurrent'), ('rm', 'encoder_dropout')),
         (('lf', 'open_circuit'), ('rr', 'overtemperature'))]


@pytest.mark.parametrize('pair', PAIRS, ids=lambda p: '+'.join(f'{w}:{k}' for w, k in p))
def test_two_failed_wheels_still_reach_the_goal(pair):
    rover = drive_with_faults(dict(pair))
    for wheel, fault in pair:
        assert rover.detected[wheel][1] == fault
    assert len(rover.core.healthy(rover.world.time)) == 4
    assert arrival_error(rover) <= GOAL_TOLERANCE


def test_a_lost_wheel_unit_is_node_lost_within_a_second():
    rover = drive_with_faults({}, kill=('rf',))
    t, kind = rover.detected['rf']
    assert kind == 'node_lost' and t - rover.fault_injected['rf'] <= DETECTION_LIMIT
    assert arrival_error(rover) <= GOAL_TOLERANCE


def test_reset_after_the_fault_clears_brings_the_wheel_back():
    rover = Rover()
    rover.core.command_velocity(0.03, 0.0, rover.world.time)
    rover.run(5.0)
    rover.inject('lm', 'overtemperature')
    rover.run(2.0, until=lambda r: 'lm' in r.detected)
    assert rover.units['lm'].state == FAULT
    ok, why = rover.units['lm'].reset(rover.world.time)
    assert not ok and 'winding at' in why          # still hot: refused, with the reason
    rover.world.set_fault('lm', 'none')            # the fault clears; the winding cools
    for _ in range(600):
        rover.core.command_velocity(0.03, 0.0, rover.world.time)
        rover.run(0.5)
        ok, why = rover.units['lm'].reset(rover.world.time)
        if ok:
            break
    assert ok, why
    rover.core.command_velocity(0.03, 0.0, rover.world.time)
    rover.run(1.0)
    assert 'lm' in rover.core.healthy(rover.world.time)
    assert abs(rover.units['lm'].setpoint) > 0.05, 'back in the allocation'
