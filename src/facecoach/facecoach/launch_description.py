"""Builds a launch description from the graph description (imported by launch/*.launch.py).

One Node per process of the graph (config/facecoach.yaml), with the launch arguments ROS 2 users expect
from a bring-up package: the graph's overrides (camera_source, model_variant ...), ``profile`` (one person's
settings, facecoach.profile: loaded after the graph's parameters, before the other arguments), ``params_file``
(a standard ros__parameters file whose values win), ``namespace``, ``log_level``, ``loop`` and
``single_process``; replay adds ``bag``, ``rate``, ``use_ros2_bag`` and ``start_paused``. Every node process
respawns after a crash; a process that exits with 2 (a configuration that can never work: a camera source that
cannot be opened, a bag that cannot be read) ends the launch with the reason. Works with the launch
packages of Humble and of rolling, and on Python 3.6.
"""

import importlib.util
from typing import Any, Dict, List, Optional

from launch.actions import (
    DeclareLaunchArgument,
    ExecuteProcess,
    GroupAction,
    LogInfo,
    OpaqueFunction,
    RegisterEventHandler,
    SetEnvironmentVariable,
    Shutdown,
)
from launch.conditions import IfCondition, UnlessCondition
from launch.event_handlers import OnProcessExit
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue

from facecoach_common.paths import share_dir
from launch import LaunchDescription

from .dds import profile_environment
from .graph import RECORDER, Graph, NodeSpec, load_graph
from .launch_actions import HeldNode, ProfileValue, SessionName, check_profile, profile_values

RESPAWN_DELAY_S = 2.0
EXIT_CANNOT_START = 2  # run_node, single_process and the player: "cannot start", respawning cannot help
LOG_LEVELS = ["debug", "info", "warn", "error", "fatal"]
LOOP_NODE = "camera"  # `loop` is this node's parameter of the same name (live)
PLAYER_EXIT = {1: "the graph did not become ready", 2: "the bag cannot be played"}
PLAYED = "the bag is played; the graph keeps running (Ctrl-C stops it)"


def ros2_bag_available() -> bool:
    """True where `ros2 bag` is installed (rosbag2's ros2bag package: a ROS 2 install, not the pip wheels)."""
    return importlib.util.find_spec("ros2bag") is not None


def _argument_default(graph: Graph, name: str) -> Any:
    """An override argument's default: the graph's value, or the profile's where a profile can set it."""
    o = graph.overrides[name]
    if o.node in graph.profile and o.parameter in graph.profile[o.node].parameters:
        return [ProfileValue(graph, o.node, o.parameter, graph.default(name))]
    default = graph.default(name)
    return str(default).lower() if isinstance(default, bool) else str(default)  # launch's true / false


def _arguments(graph: Graph, mode: str) -> List[DeclareLaunchArgument]:
    args = [
        DeclareLaunchArgument(
            "single_process",
            default_value="false",
            choices=["true", "false"],
            description="run every node in one process with one executor (saves memory on a 4 GB Jetson)",
        ),
        DeclareLaunchArgument(
            "params_file",
            default_value=str(share_dir("facecoach") / "config" / "params.yaml"),
            description="a ROS 2 parameters file (node: ros__parameters: ...) whose values win over the "
            "defaults of config/facecoach.yaml and over the other arguments",
        ),
        DeclareLaunchArgument(
            "profile",
            default_value="",
            description="one person's profile: a name ($FACECOACH_HOME/profiles/NAME.yaml, default ~/.facecoach) or "
            "a parameters file holding their mapping, cue thresholds, cue_wav and calibration_file; loaded after "
            "the graph's defaults, before the other arguments ('' = none)",
        ),
        DeclareLaunchArgument(
            "namespace",
            default_value="",
            description="namespace of every node (their names and parameter services; the topics keep their "
            "absolute names from config/facecoach.yaml)",
        ),
        DeclareLaunchArgument(
            "log_level", default_value="info", choices=LOG_LEVELS, description="log level of every node"
        ),
        DeclareLaunchArgument(
            "loop",
            default_value="false",
            choices=["true", "false"],
            description="start again at the end: the camera's video file (live) or the bag (replay)",
        ),
    ]
    for name, o in _overrides(graph, mode).items():
        kw = {"choices": list(o.choices)} if o.choices else {}
        args.append(
            DeclareLaunchArgument(name, default_value=_argument_default(graph, name), description=o.description, **kw)
        )
    if mode == "replay":
        args += [
            DeclareLaunchArgument("bag", description="the recorded interview (a rosbag2 folder)"),
            DeclareLaunchArgument("rate", default_value="1.0", description="replay speed factor (> 0)"),
            DeclareLaunchArgument(
                "use_ros2_bag",
                default_value=str(ros2_bag_available()).lower(),
                choices=["true", "false"],
                description="play the bag with `ros2 bag play` (the default where rosbag2 is installed) or with "
                "facecoach_player (false); either starts once the graph is ready",
            ),
            DeclareLaunchArgument(
                "start_paused",
                default_value="false",
                choices=["true", "false"],
                description="once the graph is ready, wait for a call of the player's resume service (the "
                "launch log names it) before playing, so that your own tools connect first",
            ),
        ]
    return args


def _overrides(graph: Graph, mode: str) -> Dict[str, Any]:
    """The overrides that set a parameter of a node of this mode (no camera_source in replay)."""
    names = {n.name for n in graph.nodes_for(mode)}
    return {name: o for name, o in graph.overrides.items() if o.node in names}


def _common() -> Dict[str, Any]:
    """What every node process gets: namespace, log level, respawn, output."""
    return {
        "namespace": LaunchConfiguration("namespace"),
        "ros_arguments": ["--log-level", LaunchConfiguration("log_level")],
        "respawn": True,
        "respawn_delay": RESPAWN_DELAY_S,
        "output": "screen",
    }


def _ends_launch_when_it_cannot_start(
    action: Node, what: str, reasons: Optional[Dict[int, str]] = None, done: str = ""
) -> RegisterEventHandler:
    """Exit code 2 (or one of ``reasons``) ends the launch with the reason instead of respawning forever.

    ``done`` is said when the process ends with 0 (the player, once the bag is played).
    """
    reasons = reasons or {EXIT_CANNOT_START: "it cannot start (its error is above)"}

    def on_exit(event, context):
        if event.returncode == 0 and done:
            return [LogInfo(msg=done)]
        reason = reasons.get(event.returncode)
        if reason is None:
            return None
        why = f"{what} exited with code {event.returncode}: {reason}; stopping the launch"
        return [LogInfo(msg=why), Shutdown(reason=why)]  # launch itself does not print a Shutdown's reason

    return RegisterEventHandler(OnProcessExit(target_action=action, on_exit=on_exit))


def _loop_parameter(specs: List[NodeSpec]) -> List[Dict[str, Any]]:
    if any(s.name == LOOP_NODE for s in specs):
        return [{"loop": ParameterValue(LaunchConfiguration("loop"), value_type=bool)}]
    return []


def _enabled_by(specs: List[NodeSpec], actions: List[Any]) -> List[Any]:
    """The actions of a process, in a group that runs only while its ``enabled_by`` argument is true."""
    switch = next((s.enabled_by for s in specs if s.enabled_by), "")
    if not switch:
        return actions
    return [GroupAction(actions, condition=IfCondition(LaunchConfiguration(switch)), scoped=False)]


def _graph_nodes(graph: Graph, mode: str, overrides: List[list]) -> List[Any]:
    """One Node per process of the graph (unless single_process), and the single process (if it)."""
    single = LaunchConfiguration("single_process")
    params_file = LaunchConfiguration("params_file")
    actions: List[Any] = []
    nodes = graph.nodes_for(mode)
    for process, specs in graph.processes(nodes):
        if len(specs) > 1:  # nodes sharing a process (the camera and the face detector): one single_process
            node = HeldNode(
                package="facecoach",
                executable="facecoach_single_process",
                arguments=[
                    "--mode",
                    mode,
                    "--nodes",
                    ",".join(s.name for s in specs),
                    *_profile_arg(),
                    "--set",
                    *overrides,
                ],
                parameters=_loop_parameter(specs) + [params_file],
                condition=UnlessCondition(single),
                **_common(),
            )
        else:
            spec = specs[0]
            params = dict(spec.parameters, **profile_values(graph, spec))
            if (spec.package, spec.executable) == RECORDER:
                params.update(session_name=SessionName(), profile=LaunchConfiguration("profile"))
            for name, o in graph.overrides.items():
                if o.node == spec.name:
                    # Typed as in the YAML, so "0" stays a string camera source.
                    params[o.parameter] = ParameterValue(
                        LaunchConfiguration(name), value_type=type(spec.parameters.get(o.parameter, ""))
                    )
            node = HeldNode(
                package=spec.package,
                executable=spec.executable,
                name=spec.name,
                parameters=[params] + _loop_parameter(specs) + [params_file],
                remappings=list(spec.remappings.items()),
                condition=UnlessCondition(single),
                **_common(),
            )
        actions += _enabled_by(specs, [node, _ends_launch_when_it_cannot_start(node, process)])
    node = HeldNode(
        package="facecoach",
        executable="facecoach_single_process",
        arguments=["--mode", mode, *_profile_arg(), ["--session-name=", SessionName()], "--set", *overrides],
        parameters=_loop_parameter(nodes) + [params_file],
        condition=IfCondition(single),
        **_common(),
    )
    return actions + [node, _ends_launch_when_it_cannot_start(node, "the single process")]


def _profile_arg() -> List[Any]:
    """facecoach_single_process's --profile (one argument, so that '' stays one)."""
    return [["--profile=", LaunchConfiguration("profile")]]


def _players() -> List[Any]:
    """The bag player: facecoach_player, or (use_ros2_bag) a wait for the graph, then `ros2 bag play`."""
    bag, rate, loop = LaunchConfiguration("bag"), LaunchConfiguration("rate"), LaunchConfiguration("loop")
    paused = LaunchConfiguration("start_paused")
    use_ros2_bag = LaunchConfiguration("use_ros2_bag")
    ours, theirs = UnlessCondition(use_ros2_bag), IfCondition(use_ros2_bag)
    common = dict(_common(), respawn=False)  # a played bag is not played again by a respawn
    player = HeldNode(
        package="facecoach_bag",
        executable="facecoach_player",
        arguments=[bag, "--rate", rate, "--loop", loop, "--start-paused", paused],
        condition=ours,
        **common,
    )
    waiter = HeldNode(
        package="facecoach_bag", executable="facecoach_player", arguments=["--ready-only"], condition=theirs, **common
    )

    def after_wait(event, context):
        if event.returncode != 0:
            why = f"ros2 bag play not started: {PLAYER_EXIT.get(event.returncode, 'the wait failed')}"
            return [LogInfo(msg=why), Shutdown(reason=why)]
        given = context.launch_configurations
        play = ["ros2", "bag", "play", given["bag"], "--rate", given["rate"]]
        play += [
            flag for name, flag in (("loop", "--loop"), ("start_paused", "--start-paused")) if given[name] == "true"
        ]
        return [ExecuteProcess(cmd=play, output="screen")]

    return [
        player,
        _ends_launch_when_it_cannot_start(player, "facecoach_player", PLAYER_EXIT, PLAYED),
        waiter,
        RegisterEventHandler(OnProcessExit(target_action=waiter, on_exit=after_wait)),
    ]


def graph_launch_description(mode: str) -> LaunchDescription:
    """The launch description of the live or the replay graph."""
    graph = load_graph()
    overrides = [[f"{name}=", LaunchConfiguration(name)] for name in _overrides(graph, mode)]
    check = OpaqueFunction(function=check_profile, args=[graph])
    # Every process of the graph announces itself often (facecoach.dds), unless the user chose a DDS profile.
    dds = [SetEnvironmentVariable(name, value) for name, value in profile_environment().items()]
    actions = _arguments(graph, mode) + [check] + dds + _graph_nodes(graph, mode, overrides)
    if mode == "replay":
        actions += _players()
    return LaunchDescription(actions)
