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
import signal
import sys
import tempfile
import time
import traceback
from dataclasses import replace
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import yaml

from .errors import CommandError, run_command
from .graph import MODES, Graph, NodeSpec, load_graph
from .launcher import PROCESS_NAME, LaunchError, spec_from_dict

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
}
DEFAULT_THREADS = 4  # multi executor: one per stage plus one for parameter services
EXECUTORS = ("single", "multi")
# Measured on 2 cores, sample bag at 1x: SingleThreadedExecutor 0 of 300 frames dropped, e2e p50 11 ms;
# MultiThreadedExecutor(4) 106 of 300 dropped, p50 111 ms (its Python-level scheduling costs more than it saves,
# and the GIL serializes the callbacks anyway). The price of "single": a model switch holds the frames while the
# weights load (~0.1 s).
DEFAULT_EXECUTOR = "single"


class CallbackFailures:
    """Callbacks that raised: each distinct failure is logged once with its traceback, repeats are counted.

    One node's broken callback must not take down the other nodes of the process, nor flood its log.
    """

    def __init__(
        self, log: Callable[[str], None], clock: Callable[[], float] = time.monotonic, every_s: float = 10.0
    ) -> None:
        self._log = log
        self._clock = clock
        self._every_s = every_s
        self.counts: Dict[Tuple, int] = {}
        self._said: Dict[Tuple, float] = {}

    def report(self, where: str, exc: BaseException) -> None:
        """Log a callback's exception: the traceback the first time, then a count every ``every_s`` seconds."""
        frames = traceback.extract_tb(exc.__traceback__) if exc.__traceback__ else []
        last = frames[-1] if frames else None
        key = (where, type(exc).__name__, last.filename if last else "", last.lineno if last else 0)
        n = self.counts.get(key, 0) + 1
        self.counts[key] = n
        now = self._clock()
        if n == 1:
            text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)).rstrip()
            self._log(
                f"{where} raised {type(exc).__name__}: {exc}; the other callbacks keep running "
                f"(repeats are counted, not shown again)\n{text}"
            )
            self._said[key] = now
        elif now - self._said[key] >= self._every_s:
            self._log(f"{where} raised {type(exc).__name__} again: {n} times so far")
            self._said[key] = now


def callback_name(node, entity) -> str:
    """Which callback an executor ran: its node, function and topic or service, e.g. for a log line."""
    function = getattr(getattr(entity, "callback", None), "__qualname__", None) or type(entity).__name__
    topic = getattr(entity, "topic_name", None) or getattr(entity, "srv_name", None)
    owner = f"node {node.get_name()}: " if node is not None else ""
    return f"{owner}callback {function}" + (f" ({topic})" if topic else "")


def make_executor(kind: str, threads: int, failures: Optional[CallbackFailures] = None):
    """The one executor of the process (rclpy's single- or multi-threaded one) that survives a failing callback.

    rclpy's executors re-raise a callback's exception out of ``spin``, which ends every node of the process;
    these report it through ``failures`` and keep spinning.
    """
    from rclpy import executors

    if kind not in EXECUTORS:
        raise LaunchError(f"unknown executor {kind!r}; use one of {EXECUTORS}")
    if failures is None:
        import rclpy

        failures = CallbackFailures(rclpy.logging.get_logger(PROCESS_NAME).error)

    if kind == "single":

        class IsolatingSingleThreadedExecutor(executors.SingleThreadedExecutor):
            """Runs one ready callback per spin_once, like its base; an exception is reported, not raised."""

            def spin_once(self, timeout_sec: Optional[float] = None) -> None:
                try:
                    handler, entity, node = self.wait_for_ready_callbacks(timeout_sec=timeout_sec)
                except (executors.ShutdownException, executors.TimeoutException):
                    return
                handler()
                try:
                    handler.result()  # raises the callback's exception (and marks it as seen)
                except Exception as exc:  # noqa: BLE001 - whatever a node's callback raised
                    failures.report(callback_name(node, entity), exc)

        return IsolatingSingleThreadedExecutor()

    class IsolatingMultiThreadedExecutor(executors.MultiThreadedExecutor):
        """The multi-threaded executor re-raises a callback's exception from a later spin_once: report it there."""

        def spin_once(self, timeout_sec: Optional[float] = None) -> None:
            try:
                super().spin_once(timeout_sec)
            except Exception as exc:  # noqa: BLE001 - any callback's error; the executor itself never raises these
                failures.report("a callback", exc)

    return IsolatingMultiThreadedExecutor(num_threads=threads)


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


def run_single_process(
    graph: Graph, nodes: Sequence[NodeSpec], threads: int = DEFAULT_THREADS, executor: str = DEFAULT_EXECUTOR
) -> int:
    """Create every node in this process and spin them on one executor until Ctrl-C; return an exit code."""
    import rclpy
    from rclpy.exceptions import ParameterException
    from rclpy.executors import ExternalShutdownException

    nodes = direct_frames(nodes)
    classes = [node_class(spec) for spec in nodes]  # LaunchError before anything starts
    logger = rclpy.logging.get_logger(PROCESS_NAME)
    with tempfile.TemporaryDirectory(prefix="facecoach-single-") as tmp:
        rclpy.init(args=[sys.argv[0]] + ros_arguments(nodes, write_params_file(graph, nodes, tmp)))
        created: list = []
        spinner = None
        code = 0
        try:
            for spec, cls in zip(nodes, classes):
                try:
                    created.append(cls())
                except (ValueError, ParameterException, RuntimeError) as exc:  # bad parameters, missing cascade ...
                    if not rclpy.ok():  # Ctrl-C while starting: rclpy's handler shut the context down
                        return 0
                    logger.error(f"cannot start node {spec.name}: {exc}")
                    code = 2
                    break
            if not code:
                connect_in_process(created)
                spinner = make_executor(executor, threads, CallbackFailures(logger.error))
                for node in created:
                    spinner.add_node(node)
                logger.info(f"running {', '.join(n.get_name() for n in created)} in one process (pid {os.getpid()})")
                spinner.spin()
        except (KeyboardInterrupt, ExternalShutdownException):
            pass  # Ctrl-C or `kill -INT`: a normal stop, also while the nodes were still starting
        finally:
            # A terminal's Ctrl-C reaches the whole process group and ros2 launch sends its own SIGINT after it:
            # the second one must not interrupt the clean-up with a KeyboardInterrupt traceback.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
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
        nodes = graph.nodes_for(args.mode, _parse_set(args.set))
        if args.nodes:
            wanted = args.nodes.split(",")
            unknown = set(wanted) - {n.name for n in nodes}
            if unknown:
                raise CommandError(f"--nodes: no node {sorted(unknown)} in the {args.mode} graph")
            nodes = [n for n in nodes if n.name in wanted]
    return run_single_process(graph, nodes, args.threads, args.executor)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point: ``python -m facecoach.single_process [--mode M] [--set NAME=VALUE ...]``."""
    # ROS arguments given on the command line (e.g. by ros2 launch) are not ours: the graph's file rules.
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--ros-args" in argv:
        argv = argv[: argv.index("--ros-args")]
    try:
        return run_command(build_parser(), argv)
    except KeyboardInterrupt:  # Ctrl-C before the nodes were created (while rclpy or torch was imported)
        return 0


if __name__ == "__main__":
    sys.exit(main())
