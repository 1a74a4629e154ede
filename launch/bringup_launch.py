"""ros2 launch chang_e_rover bringup_launch.py [vehicle:=rover|lander] [use_sim_time:=true]

The flight stack alone, one process per node, against real hardware drivers or
a simulator started apart; the same node list as `chang-e-rover bringup`. Each
vehicle has a computer of its own: `vehicle:=rover` on the rover's board,
`vehicle:=lander` on the lander's; both when it is not given.
"""
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue

from chang_e_rover import graph


def flight_nodes(context):
    vehicle = LaunchConfiguration('vehicle').perform(context) or None
    sim_time = ParameterValue(LaunchConfiguration('use_sim_time'), value_type=bool)
    actions = []
    for spec in graph.flight_nodes(vehicle):
        params = spec.parameters(sim_time=False)
        params['use_sim_time'] = sim_time
        actions.append(Node(package=graph.PACKAGE, executable=spec.executable, name=spec.name,
                            namespace=spec.namespace or None, arguments=list(spec.arguments),
                            parameters=[params], output='screen', respawn=True,
                            respawn_delay=1.0))
    if vehicle in (None, 'rover'):
        # The robot's description and link frames, as ROS tools (RViz, Foxglove) expect them.
        actions.append(Node(**graph.robot_state_publisher_node(sim_time)))
    return actions


def generate_launch_description():
    return LaunchDescription([
        DeclareLaunchArgument('use_sim_time', default_value='false',
                              description='follow /clock of a simulator started apart'),
        DeclareLaunchArgument('vehicle', default_value='',
                              description="only this vehicle's nodes: rover or lander "
                                          '(empty: both)'),
        OpaqueFunction(function=flight_nodes)])
