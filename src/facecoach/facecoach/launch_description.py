"""Builds a launch description from the graph description (imported by launch/*.launch.py)."""

from launch.actions import DeclareLaunchArgument, ExecuteProcess
from launch.conditions import IfCondition, UnlessCondition
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue

from launch import LaunchDescription

from .graph import load_graph


def graph_launch_description(mode: str) -> LaunchDescription:
    """Launch arguments for the graph's overrides, one Node per graph node; replay adds `ros2 bag play`.

    ``single_process:=true`` starts the same nodes in one process instead (facecoach_single_process).
    """
    graph = load_graph()
    single = LaunchConfiguration("single_process")
    actions = [
        DeclareLaunchArgument(
            "single_process",
            default_value="false",
            choices=["true", "false"],
            description="run every node in one process with one executor (saves memory on a 4 GB Jetson)",
        )
    ]
    for name, o in graph.overrides.items():
        kw = {"choices": list(o.choices)} if o.choices else {}
        actions.append(
            DeclareLaunchArgument(name, default_value=str(graph.default(name)), description=o.description, **kw)
        )
    if mode == "replay":
        actions.append(DeclareLaunchArgument("bag", description="the recorded interview (rosbag2 folder)"))
        actions.append(DeclareLaunchArgument("rate", default_value="1.0", description="replay speed factor"))
    overrides = [[f"{name}=", LaunchConfiguration(name)] for name in graph.overrides]
    for process, specs in graph.processes(graph.nodes_for(mode)):
        if len(specs) > 1:  # nodes sharing a process (the camera and the face detector): one single_process
            actions.append(
                Node(
                    package="facecoach",
                    executable="facecoach_single_process",
                    name=process,
                    arguments=["--mode", mode, "--nodes", ",".join(s.name for s in specs), "--set", *overrides],
                    output="screen",
                    condition=UnlessCondition(single),
                )
            )
            continue
        spec = specs[0]
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
                condition=UnlessCondition(single),
            )
        )
    actions.append(
        Node(
            package="facecoach",
            executable="facecoach_single_process",
            arguments=["--mode", mode, "--set", *overrides],
            output="screen",
            condition=IfCondition(single),
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
