"""Single-process mode: every node of the graph in one process on one executor.

The memory saver for a 4 GB Jetson: one Python interpreter, one copy of rclpy, OpenCV and PyTorch
instead of one per node. The node classes are used unchanged: they read their parameters and
remappings from the process's ``--ros-args``, so this module gives the context exactly what the
launcher gives each separate process, made node-specific: one parameters file keyed by node name
(``Graph.params_file_content``) and node-targeted remappings (``-r face_detector:face:=/facecoach/face``).

    python -m facecoach.single_process --mode replay --set alsa_device=null
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Dict, List, Sequence

import yaml

from .errors import CommandError, run_command
from .graph import MODES, Graph, NodeSpec, load_graph
from .launcher import GraphProcesses, LaunchError

# (package, executable) of a graph node -> "module:Class" of its node, and the name the class gives itself.
NODE_CLASSES: Dict[tuple, tuple] = {
    ("face_detector", "camera"): ("face_detector.camera_node:CameraNode", "camera"),
    ("face_detector", "face_detector"): ("face_detector.detector_node:FaceDetectorNode", "face_detector"),
    ("emotion_classifier", "emotion_classifier"): (
        "emotion_classifier.node:EmotionClassifierNode",
        "emotion_classifier",
    ),
    ("alert_player", "alert_player"): ("alert_player.node:AlertPlayerNode", "alert_player"),
}
PROCESS_NAME = "single_process"
DEFAULT_THREADS = 4  # multi executor: one per stage plus one for parameter services
EXECUTORS = ("single", "multi")
# Measured on 2 cores, sample bag at 1x: SingleThreadedExecutor 0 of 300 frames dropped, e2e p50 11 ms;
# MultiThreadedExecutor(4) 106 of 300 dropped, p50 111 ms (its Python-level scheduling costs more than it saves,
# and the GIL serializes the callbacks anyway). The price of "single": a model switch holds the frames while the
# weights load (~0.1 s).
DEFAULT_EXECUTOR = "single"


def make_executor(kind: str, threads: int):
    """The one executor of the process: rclpy's SingleThreadedExecutor or MultiThreadedExecutor."""
    from rclpy import executors

    if kind == "multi":
        return executors.MultiThreadedExecutor(num_threads=threads)
    if kind == "single":
        return executors.SingleThreadedExecutor()
    raise LaunchError(f"unknown executor {kind!r}; use one of {EXECUTORS}")


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
    path.write_text(yaml.safe_dump(graph.params_file_content(list(nodes))))
    return str(path)


def run_single_process(
    graph: Graph, nodes: Sequence[NodeSpec], threads: int = DEFAULT_THREADS, executor: str = DEFAULT_EXECUTOR
) -> int:
    """Create every node in this process and spin them on one executor until Ctrl-C; return an exit code."""
    import rclpy
    from rclpy.exceptions import ParameterException
    from rclpy.executors import ExternalShutdownException

    classes = [node_class(spec) for spec in nodes]  # LaunchError before anything starts
    logger = rclpy.logging.get_logger(PROCESS_NAME)
    with tempfile.TemporaryDirectory(prefix="facecoach-single-") as tmp:
        rclpy.init(args=[sys.argv[0]] + ros_arguments(nodes, write_params_file(graph, nodes, tmp)))
        created = []
        for spec, cls in zip(nodes, classes):
            try:
                created.append(cls())
            except (ValueError, ParameterException, RuntimeError) as exc:  # bad parameters, missing cascade ...
                logger.error(f"cannot start node {spec.name}: {exc}")
                for node in created:
                    node.destroy_node()
                rclpy.try_shutdown()
                return 2
        spinner = make_executor(executor, threads)
        for node in created:
            spinner.add_node(node)
        logger.info(f"running {', '.join(n.get_name() for n in created)} in one process (pid {os.getpid()})")
        try:
            spinner.spin()
        except (KeyboardInterrupt, ExternalShutdownException):
            pass
        finally:
            spinner.shutdown()
            for node in created:
                node.destroy_node()
            rclpy.try_shutdown()
    return 0


class SingleProcess(GraphProcesses):
    """The graph's nodes in one child process; the same interface as GraphProcesses (start/stop/dead/pids)."""

    def __init__(
        self,
        graph: Graph,
        nodes: List[NodeSpec],
        log_dir: Path | None = None,
        threads: int = DEFAULT_THREADS,
        executor: str = DEFAULT_EXECUTOR,
    ) -> None:
        super().__init__(graph, nodes, log_dir)
        self.threads, self.executor = threads, executor
        for spec in nodes:
            _check_known(spec)  # an unknown node fails here, not later in the child

    def start(self) -> SingleProcess:
        """Start the one process (``python -m facecoach.single_process --spec ...``)."""
        spec_file = Path(self._tmp.name) / "nodes.json"
        spec_file.write_text(json.dumps([_spec_dict(s) for s in self.nodes]))
        cmd = [
            sys.executable,
            "-m",
            "facecoach.single_process",
            "--spec",
            str(spec_file),
            "--threads",
            str(self.threads),
            "--executor",
            self.executor,
        ]
        out = None
        if self.log_dir:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            out = open(self.log_dir / f"{PROCESS_NAME}.log", "wb")  # noqa: SIM115 - the child owns it
        self.procs[PROCESS_NAME] = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT if out else None)
        return self


def start_single_process(
    graph: Graph,
    nodes: List[NodeSpec],
    log_dir: Path | None = None,
    threads: int = DEFAULT_THREADS,
    executor: str = DEFAULT_EXECUTOR,
) -> SingleProcess:
    """Start the nodes in one child process; use it like ``GraphProcesses`` (also as a context manager)."""
    return SingleProcess(graph, nodes, log_dir, threads, executor).start()


def _check_known(spec: NodeSpec) -> None:
    entry = NODE_CLASSES.get((spec.package, spec.executable))
    if entry is None or entry[1] != spec.name:
        node_class(spec)  # raises the explanatory LaunchError


def _spec_dict(spec: NodeSpec) -> dict:
    return {
        "name": spec.name,
        "package": spec.package,
        "executable": spec.executable,
        "modes": list(spec.modes),
        "parameters": spec.parameters,
        "remappings": spec.remappings,
    }


def _spec_from_dict(d: dict) -> NodeSpec:
    return NodeSpec(
        d["name"], d["package"], d["executable"], tuple(d["modes"]), dict(d["parameters"]), dict(d["remappings"])
    )


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
            nodes = [_spec_from_dict(d) for d in json.loads(Path(args.spec).read_text())]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise CommandError(f"{args.spec}: not a node spec file ({exc})") from exc
    else:
        nodes = graph.nodes_for(args.mode, _parse_set(args.set))
    return run_single_process(graph, nodes, args.threads, args.executor)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: ``python -m facecoach.single_process [--mode M] [--set NAME=VALUE ...]``."""
    # ROS arguments given on the command line (e.g. by ros2 launch) are not ours: the graph's file rules.
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--ros-args" in argv:
        argv = argv[: argv.index("--ros-args")]
    return run_command(build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
