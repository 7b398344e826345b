"""Single-process mode: nodes of the graph in one process on one executor (all of them, or one group).

The memory saver for a 4 GB Jetson: one Python interpreter, one copy of rclpy, OpenCV and PyTorch
instead of one per node. The node classes are used unchanged: they read their parameters and
remappings from the process's ``--ros-args``, so this module gives the context exactly what the
launcher gives each separate process, made node-specific: one parameters file keyed by node name
(``Graph.params_file_content``) and node-targeted remappings (``-r face_detector:face:=/facecoach/face``).

    python -m facecoach.single_process --mode replay --set alsa_device=null
"""

import argparse
import importlib
import json
import os
import sys
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import yaml

from .errors import CommandError, run_command
from .executors import DEFAULT_EXECUTOR, DEFAULT_THREADS, EXECUTORS, CallbackFailures, make_executor
from .graph import MODES, PROCESS_NAME, RECORDER, Graph, LaunchError, NodeSpec, load_graph, spec_from_dict
from .profile import load_profile

CAMERA, DETECTOR = ("face_detector", "camera"), ("face_detector", "face_detector")
# (package, executable) of a graph node -> "module:Class" of its node, and the name the class gives itself.
NODE_CLASSES: Dict[tuple, tuple] = {
    CAMERA: ("face_detector.camera_node:CameraNode", "camera"),
    DETECTOR: ("face_detector.detector_node:FaceDetectorNode", "face_detector"),
    ("emotion_classifier", "emotion_classifier"): (
        "emotion_classifier.node:EmotionClassifierNode",
        "emotion_classifier",
    ),
    ("alert_player", "alert_player"): ("alert_player.node:AlertPlayerNode", "alert_player"),
    ("facecoach_bag", "session_recorder"): ("facecoach_bag.session_node:SessionRecorderNode", "session_recorder"),
}


def node_class(spec: NodeSpec):
    """The rclpy Node class of a graph node; LaunchError when this mode does not know it."""
    entry = NODE_CLASSES.get((spec.package, spec.executable))
    if entry is None:
        raise LaunchError(
            f"single-process mode does not know {spec.package}/{spec.executable} (node {spec.name}); "
            f"known: {sorted('/'.join(k) for k in NODE_CLASSES)}"
        )
    target, default_name = entry
    if spec.name != default_name:
        # The node classes name themselves; a renamed node would miss its section of the parameters file.
        raise LaunchError(f"single-process mode needs node {spec.package}/{spec.executable} named {default_name!r}")
    module, cls = target.split(":")
    return getattr(importlib.import_module(module), cls)


def direct_frames(nodes: Sequence[NodeSpec]) -> List[NodeSpec]:
    """With the camera in this process, the face detector takes its frames directly (input: direct)."""
    names = {(n.package, n.executable) for n in nodes}
    if not {CAMERA, DETECTOR} <= names:
        return list(nodes)
    return [
        replace(n, parameters=dict(n.parameters, input="direct")) if (n.package, n.executable) == DETECTOR else n
        for n in nodes
    ]


def connect_in_process(created: Sequence) -> None:
    """Hand the camera's frames to the face detector of this process: a full frame is never serialized."""
    cameras = [n for n in created if hasattr(n, "connect")]
    detectors = [n for n in created if hasattr(n, "on_frame")]
    if cameras and detectors:
        cameras[0].connect(detectors[0].on_frame)


def ros_arguments(nodes: Sequence[NodeSpec], params_file: str) -> List[str]:
    """The process's ``--ros-args``: one parameters file, remappings aimed at their own node only."""
    args = ["--ros-args", "--params-file", params_file]
    for spec in nodes:
        for src, dst in spec.remappings.items():
            args += ["-r", f"{spec.name}:{src}:={dst}"]
    return args


def write_params_file(graph: Graph, nodes: Sequence[NodeSpec], folder: str) -> str:
    """The parameters file of these nodes (keyed by node name, as the launcher writes it)."""
    path = Path(folder) / "params.yaml"
    path.write_text(yaml.safe_dump(graph.params_file_content(list(nodes))), encoding="utf-8")
    return str(path)


def launch_arguments(ros_args: Sequence[str]) -> List[str]:
    """The ``--ros-args`` launch gave this process, for every node in it; a ``__node`` rename would rename them all."""
    out: List[str] = []
    args = list(ros_args)
    i = 0
    while i < len(args):
        if args[i] in ("-r", "--remap") and i + 1 < len(args) and args[i + 1].startswith("__node:="):
            i += 2
            continue
        out.append(args[i])
        i += 1
    return out


def run_single_process(
    graph: Graph,
    nodes: Sequence[NodeSpec],
    threads: int = DEFAULT_THREADS,
    executor: str = DEFAULT_EXECUTOR,
    ros_args: Sequence[str] = (),
) -> int:
    """Create every node in this process and spin them on one executor until Ctrl-C; return an exit code."""
    import rclpy
    from rclpy.exceptions import ParameterException
    from rclpy.executors import ExternalShutdownException

    from facecoach_common.ros_args import RosArgumentsError
    from facecoach_common.ros_params import ignore_interrupts, init_context, spin_until_stopped
    from facecoach_common.stopping import building

    nodes = direct_frames(nodes)
    with building():  # a stop signal while the node modules import (torch) ends it at once
        classes = [node_class(spec) for spec in nodes]  # LaunchError before anything starts
    logger = rclpy.logging.get_logger(PROCESS_NAME)
    with tempfile.TemporaryDirectory(prefix="facecoach-single-") as tmp:
        # The graph's own parameters first, then what launch passed (params_file, loop, namespace, log level).
        ours = ros_arguments(nodes, write_params_file(graph, nodes, tmp))
        try:
            init_context([sys.argv[0]] + ours + launch_arguments(ros_args))
        except RosArgumentsError as exc:  # e.g. launch's params_file is not YAML: exit 2, launch ends
            logger.error(f"cannot start: {exc}")
            return 2
        created: list = []
        spinner = None
        code = 0
        try:
            with building():  # a stop signal (kept, see facecoach_common.stopping) ends it at its next import
                for spec, cls in zip(nodes, classes):
                    try:
                        created.append(cls())
                    except (ValueError, ParameterException, RuntimeError) as exc:  # bad parameters, no cascade ...
                        logger.error(f"cannot start node {spec.name}: {exc}")
                        code = 2
                        break
            if not code:
                connect_in_process(created)
                spinner = make_executor(executor, threads, CallbackFailures(logger.error))
                for node in created:
                    spinner.add_node(node)
                logger.info(f"running {', '.join(n.get_name() for n in created)} in one process (pid {os.getpid()})")
                spin_until_stopped(spinner)
        except (KeyboardInterrupt, ExternalShutdownException):
            pass  # Ctrl-C or `kill -INT`: a normal stop, also while the nodes were still starting
        finally:
            # A terminal's Ctrl-C reaches the whole process group and ros2 launch sends its own SIGINT after it:
            # the second one must not interrupt the clean-up.
            ignore_interrupts()
            if spinner is not None:
                spinner.shutdown()
            for node in created:
                node.destroy_node()
            rclpy.try_shutdown()
    return code


def _parse_set(items: Sequence[str]) -> Dict[str, str]:
    values = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep:
            raise CommandError(f"--set {item!r}: expected NAME=VALUE")
        values[name.replace("-", "_")] = value
    return values


def build_parser() -> argparse.ArgumentParser:
    """Options of ``python -m facecoach.single_process``."""
    p = argparse.ArgumentParser(prog="facecoach-single-process", description=__doc__.splitlines()[0])
    p.add_argument("--mode", choices=MODES, default="live", help="which graph: live (camera) or replay")
    p.add_argument("--graph", help="graph description (default: config/facecoach.yaml)")
    p.add_argument(
        "--set",
        nargs="*",
        default=[],
        metavar="NAME=VALUE",
        help="override values, e.g. model_variant=int8 alsa_device=null",
    )
    p.add_argument("--nodes", help="comma-separated node names to run (default: every node of the mode)")
    p.add_argument("--profile", default="", help="a person's profile (name or file) loaded before the --set values")
    p.add_argument(
        "--session-name", default="", help="the session recorder's session_name (the launch files give one per launch)"
    )
    p.add_argument("--spec", help="JSON list of resolved node specs (what start_single_process passes)")
    p.add_argument("--threads", type=int, default=DEFAULT_THREADS, help="threads of the multi executor")
    p.add_argument("--executor", choices=EXECUTORS, default=DEFAULT_EXECUTOR, help="rclpy executor kind")
    p.set_defaults(func=_run)
    return p


def _run(args: argparse.Namespace) -> int:
    """Resolve the nodes (from --spec, else the graph description) and run them in this process."""
    graph = load_graph(args.graph)
    if args.spec:
        try:
            nodes = [spec_from_dict(d) for d in json.loads(Path(args.spec).read_text(encoding="utf-8"))]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise CommandError(f"{args.spec}: not a node spec file ({exc})") from exc
    else:
        nodes = graph.nodes_for(args.mode, _parse_set(args.set), load_profile(args.profile, graph))
        if args.nodes:
            wanted = args.nodes.split(",")
            unknown = set(wanted) - {n.name for n in graph.nodes_for(args.mode)}  # the camera, left out, too
            if unknown:
                raise CommandError(f"--nodes: no node {sorted(unknown)} in the {args.mode} graph")
            nodes = [n for n in nodes if n.name in wanted]
    # The recorder keeps the profile's name; under launch a respawned process goes on with the launch's session.
    recorder = {"profile": args.profile, **({"session_name": args.session_name} if args.session_name else {})}
    if args.profile or args.session_name:
        nodes = [
            replace(n, parameters={**n.parameters, **recorder}) if (n.package, n.executable) == RECORDER else n
            for n in nodes
        ]
    return run_single_process(graph, nodes, args.threads, args.executor, getattr(args, "ros_args", ()))


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point: ``python -m facecoach.single_process [--mode M] [--set NAME=VALUE ...]``."""
    # ROS arguments given on the command line (by ros2 launch) go to the nodes, after the graph's parameters.
    argv = list(sys.argv[1:] if argv is None else argv)
    ros_args: List[str] = []
    if "--ros-args" in argv:
        argv, ros_args = argv[: argv.index("--ros-args")], argv[argv.index("--ros-args") :]
    parser = build_parser()
    parser.set_defaults(ros_args=ros_args)
    try:
        return run_command(parser, argv)
    except KeyboardInterrupt:  # Ctrl-C before the nodes were created (while rclpy or torch was imported)
        return 0


if __name__ == "__main__":
    sys.exit(main())
