"""ros2 launch chang_e_rover bringup_launch.py

The flight stack alone, one process per node, against real hardware drivers or
a simulator started apart; the same node list as `chang-e-rover bringup`.
"""
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue

from chang_e_rover import graph


def generate_launch_description():
    actions = [DeclareLaunchArgument('use_sim_time', default_value='false',
                                     description='follow /clock of a simulator started apart')]
    for spec in graph.flight_nodes():
        params = spec.parameters(sim_time=False)
        params['use_sim_time'] = ParameterValue(LaunchConfiguration('use_sim_time'),
                                                value_type=bool)
        actions.append(Node(package=graph.PACKAGE, executable=spec.executable, name=spec.name,
                            namespace=spec.namespace or None, arguments=list(spec.arguments),
                            parameters=[params], output='screen', respawn=True,
                            respawn_delay=1.0))
    # The robot's description and link frames, as ROS tools (RViz, Foxglove) expect them.
    actions.append(Node(**graph.robot_state_publisher_node(ParameterValue(LaunchConfiguration('use_sim_time'), value_type=bool))))
    return LaunchDescription(actions)
