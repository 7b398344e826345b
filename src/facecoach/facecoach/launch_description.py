"""Builds a launch description from the graph description (imported by launch/*.launch.py)."""

from __future__ import annotations

from launch.actions import DeclareLaunchArgument, ExecuteProcess
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue

from launch import LaunchDescription

from .graph import load_graph


def graph_launch_description(mode: str) -> LaunchDescription:
    """Launch arguments for the graph's overrides, one Node per graph node; replay adds `ros2 bag play`."""
    graph = load_graph()
    actions = []
    for name, o in graph.overrides.items():
        kw = {"choices": list(o.choices)} if o.choices else {}
        actions.append(
            DeclareLaunchArgument(name, default_value=str(graph.default(name)), description=o.description, **kw)
        )
    if mode == "replay":
        actions.append(DeclareLaunchArgument("bag", description="the recorded interview (rosbag2 folder)"))
        actions.append(DeclareLaunchArgument("rate", default_value="1.0", description="replay speed factor"))
    for spec in graph.nodes_for(mode):
        params = dict(spec.parameters)
        for name, o in graph.overrides.items():
            if o.node == spec.name:
                # Typed as in the YAML, so "0" stays a string camera source.
                params[o.parameter] = ParameterValue(
                    LaunchConfiguration(name), value_type=type(params.get(o.parameter, ""))
                )
        actions.append(
            Node(
                package=spec.package,
                executable=spec.executable,
                name=spec.name,
                parameters=[params],
                remappings=list(spec.remappings.items()),
                output="screen",
            )
        )
    if mode == "replay":
        actions.append(
            ExecuteProcess(
                cmd=["ros2", "bag", "play", LaunchConfiguration("bag"), "--rate", LaunchConfiguration("rate")],
                output="screen",
            )
        )
    return LaunchDescription(actions)
