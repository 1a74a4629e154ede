"""The flight nodes in the simulator's lock-step loop: who they are, when one counts as
on the graph, how their answers are read, and which runs therefore repeat.

Pure, no rclpy: sim_node.py asks the ROS graph and hands over plain values;
sim/lockstep.py keeps what each node owes and says when a step may go.
"""
from __future__ import annotations

import math
from typing import Any, Callable, Iterable

from chang_e_rover import config
from chang_e_rover.robot_description import WHEEL_IDS
from chang_e_rover.sim.lockstep import Lockstep

# The nodes in the loop: channel -> (the node's name, None for any node; the topic it answers
# on, and a topic of the simulator's it reads). A motor driver's contract is its topics,
# so any node on a wheel's command topic is that wheel's driver.
EVERY_STEP = {**{f'wheel_{w}': (None, f'rover/wheel_{w}/motor/command',
                                f'rover/wheel_{w}/motor/state') for w in WHEEL_IDS},
              'drive_controller': ('drive_controller', 'rover/odom', 'rover/wheel_rr/motor/state')}
ON_DEMAND = {'hazard_camera': ('hazard_camera', 'rover/hazard/map',
                               'rover/hazcam/right/image_raw'),
             'camera': ('camera', 'lander/panorama', 'lander/tcam/image_raw')}
# The frames an on-demand channel owes an answer for: the right hazcam's or navcam's
# completes a stereo pair (the pipeline owes a map), the terrain camera's is the lander
# camera's.
OWED_FOR = {'hazcam_right': 'hazard_camera', 'navcam_right': 'hazard_camera', 'tcam': 'camera'}
# Which on-demand channel answers which frames, and under which diagnostics key.
ANSWERS = {'rover/hazard_camera': ('hazard_camera', 'pair_stamp_ns'),
           'lander/camera': ('camera', 'frame_stamp_ns')}

OnGraph = Callable[[str | None, str, str], bool]


def map_latency_s() -> float:
    """How long after its pair the drive takes a hazard map into use in simulation
    (config/rover.yaml, the drive controller's hazard.map_latency_s): the simulator
    must have the map before then."""
    return float(config.load_params('rover.yaml', 'drive_controller')['hazard.map_latency_s'])


# Sent every control period: the drive controller's step of a period waits for the IMU
# sample and the joint states stamped with it, a wheel unit's answer to a reading for the
# motor temperature stamped with it (each topic keeps its order, the topics not theirs).
PER_PERIOD_RATES = ('imu.rate_hz', 'joint_states_rate_hz', 'motor_temperature_rate_hz')


def check_period_inputs(params: dict[str, Any]) -> None:
    """Raise ValueError unless the PER_PERIOD_RATES are the control rate."""
    rate = 1.0 / float(params['physics.control_period_s'])
    for key in PER_PERIOD_RATES:
        if not math.isclose(float(params[key]), rate, rel_tol=1e-9):
            raise ValueError(f'{key}={params[key]}: expected the control rate, {rate:g} Hz '
                             '(1 / physics.control_period_s): the flight nodes in the loop '
                             "step on each period's sample")


def make_lockstep(params: dict[str, Any]) -> Lockstep:
    """The loop's bookkeeping from /sim's lockstep.* parameters: every channel above, the
    ones named in lockstep.expect waited for before the first step."""
    expect = [n.strip() for n in str(params['lockstep.expect']).split(',') if n.strip()]
    return Lockstep(list(EVERY_STEP), list(ON_DEMAND), round(map_latency_s() * 1e9),
                    float(params['lockstep.watchdog_s']), expect)


class Presence:
    """Who of the loop is on the graph, told to the lock-step bookkeeping.

    A node counts as present once it both answers and reads on the graph, matched with
    the simulator, at two checks in a row (so that nothing it is sent is lost to a match
    not yet made); a node that left counts as gone at once.
    """

    def __init__(self, lockstep: Lockstep):
        self.lockstep = lockstep
        self._seen_before: dict[str, bool] = {}

    def check(self, on_graph: OnGraph) -> None:
        """Look for every channel's node: on_graph(node name or None, the topic it answers
        on, the topic of the simulator's it reads) says whether it is there now."""
        for name, (node, answers, reads) in {**EVERY_STEP, **ON_DEMAND}.items():
            seen = on_graph(node, answers, reads)
            if seen and not self._seen_before.get(name, False):
                self._seen_before[name] = True
                continue
            self._seen_before[name] = seen
            self.lockstep.presence(name, seen)


def answers_in(status_name: str, values: Iterable[tuple[str, str]]) -> list[tuple[str, int]]:
    """The (channel, stamp in ns) answers in one diagnostics status: the hazard pipeline is
    done with the pair its pair_stamp_ns names, the lander camera with the frame its
    frame_stamp_ns names. values are the status's (key, value) pairs."""
    if status_name not in ANSWERS:
        return []
    channel, key = ANSWERS[status_name]
    return [(channel, int(value)) for k, value in values
            if k == key and value.lstrip('-').isdigit()]


def reproducibility(lockstep: Lockstep, real_time_factor: float) -> tuple[bool, str]:
    """Whether a run repeats, and the line that says why: the loop's answers are judged in
    sim time, but what a node outside the loop sends lands at the step it arrives, and
    with real-time pacing that step is set by the wall clock."""
    loop = sorted(n for n, c in lockstep.channels.items() if c.present)
    rtf = real_time_factor
    text = (f'lock-step with {", ".join(loop) or "no flight node"}; '
            + (f'paced at {rtf:g}x real time: what nodes outside the loop send (an '
               'operator, the mission, the relay) lands at a step set by the wall clock, '
               'so a run that they drive does not repeat' if rtf > 0 else
               'not paced: a run driven only by the loop repeats step for step'))
    return rtf == 0, text
