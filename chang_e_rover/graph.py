"""The one list of nodes: launch files, `chang-e-rover bringup` and `sim` all read it.

Pure Python (no rclpy, no launch): each entry says which node runs, in which
namespace, from which console script and with which parameter file section.
"""
from __future__ import annotations

from dataclasses import dataclass, field
import importlib
from typing import Any

from chang_e_rover import config
from chang_e_rover.robot_description import WHEEL_IDS

PACKAGE = 'chang_e_rover'


@dataclass(frozen=True)
class NodeSpec:
    name: str                         # node name
    namespace: str                    # '' for the root namespace
    executable: str                   # console script installed by setup.py
    factory: str                      # 'module:Class' to build it in-process
    params_file: str                  # file under config/
    params_section: str               # top key in that file
    kwargs: dict[str, Any] = field(default_factory=dict)    # constructor keywords
    arguments: tuple[str, ...] = ()   # command-line arguments of the executable
    sim_clock: bool = True            # follows /clock when the stack runs on the simulator
    own_executor: bool = False        # in one-process mode: its own executor and thread
                                      # (for long callbacks: stereo, the relay's disk)
    restart: bool = True              # --processes: restarted when it dies; if not, the
                                      # session ends with it (the simulator: a restart
                                      # would be a new world)

    @property
    def full_name(self) -> str:
        return f'/{self.namespace}/{self.name}' if self.namespace else f'/{self.name}'

    def parameters(self, sim_time: bool) -> dict[str, Any]:
        """Return the node's parameters from its config section, flat and dotted."""
        params = dict(config.load_params(self.params_file, self.params_section))
        params['use_sim_time'] = sim_time and self.sim_clock
        return params

    def load_factory(self):
        module, cls = self.factory.split(':')
        return getattr(importlib.import_module(module), cls)


VEHICLES = ('rover', 'lander')   # each with a computer of its own: its nodes' namespace


def flight_nodes(vehicle: str | None = None) -> list[NodeSpec]:
    """The rover's and lander's flight software, as it runs on the real vehicles; of one
    of them only when vehicle is given (the nodes its own computer runs)."""
    if vehicle is not None and vehicle not in VEHICLES:
        raise ValueError(f'unknown vehicle {vehicle!r}; expected one of {VEHICLES}')
    # In one process the controller and the wheel units share the main executor: their
    # callbacks are short, the GIL runs one at a time whatever the threads, and a thread
    # each would cost a hand-over of the GIL with every message (docs/simulator.md, Speed).
    # A wheel unit's own fault-containment unit is its process (--processes: a unit that
    # dies is node_lost to the controller, and the other five drive on).
    nodes = [NodeSpec('drive_controller', 'rover', 'drive_controller',
                      'chang_e_rover.drive.controller_node:DriveControllerNode',
                      'rover.yaml', 'drive_controller')]
    for wheel in WHEEL_IDS:
        nodes.append(NodeSpec(f'wheel_{wheel}', 'rover', 'wheel_unit',
                              'chang_e_rover.drive.wheel_node:WheelNode', 'rover.yaml',
                              'wheel_unit', kwargs={'wheel': wheel},
                              arguments=(f'--wheel={wheel}',)))
    # The stereo pipeline takes ~0.2 s a pair: its own executor, so driving never waits.
    nodes.append(NodeSpec('hazard_camera', 'rover', 'hazard_camera',
                          'chang_e_rover.hazard.hazard_node:HazardCameraNode', 'rover.yaml',
                          'hazard_camera', own_executor=True))
    nodes.append(NodeSpec('science', 'rover', 'science',
                          'chang_e_rover.science.science_node:ScienceNode', 'rover.yaml',
                          'science'))
    # The terrain camera's campaign; stitching runs on a worker thread of its own.
    nodes.append(NodeSpec('camera', 'lander', 'lander_camera',
                          'chang_e_rover.lander.camera_node:LanderCameraNode', 'lander.yaml',
                          'camera'))
    # The deployment sequence: armed by lander/sequencer/start after landing.
    nodes.append(NodeSpec('sequencer', 'lander', 'lander_sequencer',
                          'chang_e_rover.lander.sequencer_node:SequencerNode', 'lander.yaml',
                          'sequencer'))
    # The relay's link runs on its own thread; the node itself only queues and executes,
    # on an executor of its own: it reads the busiest topics (/diagnostics, odometry) whole.
    nodes.append(NodeSpec('relay', 'lander', 'relay', 'chang_e_rover.relay.relay_node:RelayNode',
                          'relay.yaml', 'relay', own_executor=True))
    return [n for n in nodes if vehicle in (None, n.namespace)]


def sim_nodes() -> list[NodeSpec]:
    """The simulated hardware that stands in for the rover, the lander and the Moon, and
    the space link between the lander's relay and the ground (on the simulator's clock)."""
    return [NodeSpec('sim', '', 'sim', 'chang_e_rover.sim.sim_node:SimNode', 'sim.yaml', 'sim',
                     sim_clock=False, restart=False),
            NodeSpec('link', '', 'space_link', 'chang_e_rover.relay.link_node:LinkNode',
                     'relay.yaml', 'link')]


def lockstep_nodes() -> list[str]:
    """The flight nodes in the simulator's lock-step loop (sim/lockstep.py), by name: the
    simulator waits for all of them before its first step (its lockstep.expect)."""
    return [s.name for s in flight_nodes()
            if s.name.startswith('wheel_')
            or s.name in ('drive_controller', 'hazard_camera', 'camera')]


def recorder(path: str) -> tuple[NodeSpec, dict[str, dict[str, Any]]]:
    """The rover-side recorder (`--record PATH`), and its path as a parameter override.
    Outside the lock-step loop (it only listens); restarted like any node, a restarted
    recorder refuses to overwrite its file and records nothing."""
    return (NodeSpec('recorder', '', 'recorder', 'chang_e_rover.record.recorder_node:RecorderNode',
                     'record.yaml', 'recorder', own_executor=True),
            {'recorder': {'path': path}})


def live(port: int | None = None) -> tuple[NodeSpec, dict[str, dict[str, Any]]]:
    """The live view (`--foxglove [PORT]`): a Foxglove WebSocket server, and its port as a
    parameter override when one is given (else config/live.yaml's). Outside the lock-step
    loop (it only listens)."""
    return (NodeSpec('live', '', 'live', 'chang_e_rover.live.live_node:LiveNode', 'live.yaml',
                     'live', own_executor=True),
            {'live': {'port': port}} if port is not None else {})


def robot_state_publisher_node(use_sim_time) -> dict[str, Any]:
    """What the launch files give ROS 2's robot_state_publisher (a system ROS has it; the
    pip wheels do not): urdf/rover.urdf as /robot_description, the link frames on /tf and
    /tf_static from /rover/joint_states. The drive controller adds odom -> base_link."""
    return {'package': 'robot_state_publisher', 'executable': 'robot_state_publisher',
            'name': 'robot_state_publisher', 'output': 'screen',
            'parameters': [{'robot_description': config.urdf_path('rover.urdf').read_text(),
                            'use_sim_time': use_sim_time}],
            'remappings': [('joint_states', '/rover/joint_states')]}


def all_nodes() -> list[NodeSpec]:
    return sim_nodes() + flight_nodes()


def optional_nodes() -> list[NodeSpec]:
    """The nodes a session adds on request (--record, --foxglove), with default parameters."""
    return [recorder('')[0], live()[0]]


def find(name: str) -> NodeSpec:
    """Return the node spec whose full name (or bare name) is name."""
    known = all_nodes() + optional_nodes()
    for spec in known:
        if name in (spec.full_name, spec.name):
            return spec
    raise KeyError(f'no node {name!r} in the graph; known: {[s.full_name for s in known]}')
