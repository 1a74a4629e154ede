"""ros2 launch chang_e_rover sim_launch.py [terrain:=rocks] [seed:=3] [real_time_factor:=1.0]

The simulator and the whole flight stack, one process per node, from the same
node list (chang_e_rover.graph) that `chang-e-rover sim --processes` uses, the
simulated space link among them (/link, on the simulator's clock; it writes the
telecommand key on first use). Run `chang-e-ground run` for the ground station: it
runs on the wall clock, so keep real_time_factor at 1.0 when it is in the loop.
"""
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, SetEnvironmentVariable
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue

from chang_e_rover import graph

SIM_ARGUMENTS = {  # launch argument -> (sim parameter, type)
    'terrain': ('terrain.name', str),
    'seed': ('terrain.seed', int),
    'real_time_factor': ('real_time_factor', float),
}


def generate_launch_description():
    actions = [SetEnvironmentVariable('FASTDDS_BUILTIN_TRANSPORTS', 'LARGE_DATA')]
    simulator = graph.find('/sim')
    defaults = simulator.parameters(sim_time=True)
    for arg, (param, _) in SIM_ARGUMENTS.items():
        actions.append(DeclareLaunchArgument(arg, default_value=str(defaults[param])))
    for spec in graph.all_nodes():
        params = spec.parameters(sim_time=True)
        if spec == simulator:
            for arg, (param, kind) in SIM_ARGUMENTS.items():
                params[param] = ParameterValue(LaunchConfiguration(arg), value_type=kind)
        actions.append(Node(package=graph.PACKAGE, executable=spec.executable, name=spec.name,
                            namespace=spec.namespace or None, arguments=list(spec.arguments),
                            parameters=[params], output='screen', respawn=True,
                            respawn_delay=1.0))
    # The robot's description and link frames, as ROS tools (RViz, Foxglove) expect them.
    actions.append(Node(**graph.robot_state_publisher_node(True)))
    return LaunchDescription(actions)
