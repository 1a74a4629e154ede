"""ros2 launch chang_e_rover sim_launch.py [terrain:=rocks] [seed:=3] [real_time_factor:=1.0]

The simulator and the whole flight stack, one process per node, from the same
node list (chang_e_rover.graph) that `chang-e-rover sim --processes` uses, and
the simulated space link (`chang-e-ground link`); run `chang-e-ground run` for
the ground station.
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
    for spec in graph.sim_nodes():
        defaults = spec.parameters(sim_time=True)
        for arg, (param, _) in SIM_ARGUMENTS.items():
            actions.append(DeclareLaunchArgument(arg, default_value=str(defaults[param])))
    for spec in graph.all_nodes():
        params = spec.parameters(sim_time=True)
        if spec in graph.sim_nodes():
            for arg, (param, kind) in SIM_ARGUMENTS.items():
                params[param] = ParameterValue(LaunchConfiguration(arg), value_type=kind)
        actions.append(Node(package=graph.PACKAGE, executable=spec.executable, name=spec.name,
                            namespace=spec.namespace or None, arguments=list(spec.arguments),
                            parameters=[params], output='screen', respawn=True,
                            respawn_delay=1.0))
    # The simulated space link between the lander relay and the ground (not a ROS node);
    # it writes a telecommand key to the state folder on first use.
    for helper in graph.sim_helpers():
        actions.append(Node(package=graph.PACKAGE, executable=helper.executable,
                            name=helper.name, arguments=list(helper.arguments), output='screen',
                            respawn=True, respawn_delay=1.0))
    # The robot's description and link frames, as ROS tools (RViz, Foxglove) expect them.
    actions.append(Node(**graph.robot_state_publisher_node(True)))
    return LaunchDescription(actions)
