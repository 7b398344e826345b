"""What `facecoach run` and `facecoach demo` share: the graph started as supervised processes, seen from a node.

The launcher restarts a node that dies and says so; these helpers show it (``/diagnostics``, a given-up process
ends the command), refuse bad arguments before anything starts (``checked_nodes``), open the --show window, and
replay a bag while spinning, so that Ctrl-C, SIGTERM or SIGHUP stop every child.
"""

from __future__ import annotations

import argparse
import threading
import time
from contextlib import contextmanager
from dataclasses import replace
from typing import Any, Callable, Dict, Iterator, List

from facecoach.graph import Graph, NodeSpec, load_graph
from facecoach.profile import load_profile
from facecoach_common.stopping import raise_if_stopped

from ..errors import CommandError
from . import arguments
from .parser import defer

DIAGNOSTICS_PERIOD_S = 0.5
WINDOW_POLL_S = 0.05  # --show: how often the window takes its events (a close, a key) between two pictures
DEBUG_IMAGE = "debug_image/compressed"  # the face detector's debug picture, before its remapping


def _overrides(args: argparse.Namespace, graph: Graph) -> Dict[str, Any]:
    """The values given for the graph's overrides (None: the YAML's value)."""
    return {name: getattr(args, name, None) for name in graph.overrides}


def graph_class(args: argparse.Namespace):
    """GraphProcesses (one process a node) or SingleProcess (all nodes, one executor) as --single-process says."""
    if args.single_process:
        from ..launcher import SingleProcess

        return SingleProcess
    from ..launcher import GraphProcesses

    return GraphProcesses


def _add_graph_options(p: argparse.ArgumentParser) -> None:
    """One option per override of the graph description (read only when run or demo is used).

    Choices are checked with the other arguments (``checked_nodes``), so a wrong one is one line, not a usage.
    """
    graph = load_graph()
    for name, o in graph.overrides.items():
        offered = _offered_choices(graph, o)
        choices = f"; one of {', '.join(offered)}" if offered else ""
        default = graph.default(name)
        boolean = isinstance(default, bool)
        flag = {"nargs": "?", "const": "true", "metavar": "true|false"} if boolean else {}  # --record-images alone
        p.add_argument(
            "--" + name.replace("_", "-"),
            dest=name,
            help=f"{o.description}{choices} (default: {str(default).lower() if boolean else repr(default)})",
            **flag,
        )


def _offered_choices(graph: Graph, override) -> List[str]:
    """An override's choices that run and demo accept: a torch classifier's variants need a weight file.

    The graph description lists every variant a launch file can start (int8_qdq with backend onnxruntime);
    run and demo check --model-variant against the files their classifier loads, and offer only those.
    """
    classifier = next((n for n in graph.nodes if n.package == "emotion_classifier"), None)
    if override.parameter != "model_variant" or classifier is None or override.node != classifier.name:
        return list(override.choices or [])
    if classifier.parameters.get("backend", "torch") != "torch":
        return list(override.choices or [])
    _, found = arguments.available_variants(str(classifier.parameters.get("models_dir", "")))
    return [c for c in override.choices or [] if c in found]


def add_common_options(p: argparse.ArgumentParser) -> None:
    """The options run and demo share: --single-process, --show and one per override of the graph description."""
    p.add_argument(
        "--single-process",
        action="store_true",
        help="run every node in one process with one executor (saves memory on a 4 GB Jetson)",
    )
    p.add_argument(
        "--profile",
        help="one person's settings: a name ($FACECOACH_HOME/profiles/NAME.yaml, default ~/.facecoach) or a parameters "
        "file (mapping, cue thresholds, cue_wav, calibration_file); loaded after the graph's defaults, before the "
        "other options",
    )
    p.add_argument(
        "--show",
        action="store_true",
        help="show the face detector's picture (box, label, category) in a window; q, Esc or closing it stops "
        "(needs a display and an OpenCV with a GUI; turns the detector's debug_image on)",
    )
    defer(p, _add_graph_options)


def checked_nodes(args: argparse.Namespace, graph: Graph, mode: str) -> List[NodeSpec]:
    """The nodes to start, after every argument was checked: nothing has started when this raises."""
    arguments.positive("--rate", args.rate)
    arguments.positive("--timeout", getattr(args, "timeout", None))
    if args.bag:
        arguments.readable_bag(args.bag)
    classifier = next((n for n in graph.nodes if n.package == "emotion_classifier"), None)
    arguments.image_topic(getattr(args, "image_topic", None))
    variant, backend = getattr(args, "model_variant", None), getattr(args, "backend", None)
    if classifier is not None and (variant is not None or backend is not None):  # refused before anything starts
        arguments.model_variant(
            variant or str(classifier.parameters.get("model_variant", "baseline")),
            str(classifier.parameters.get("models_dir", "")),
            backend or str(classifier.parameters.get("backend", "auto")),
        )
    if getattr(args, "show", False):
        from ..viewer import display_problem

        problem = display_problem()
        if problem:
            raise CommandError(f"--show needs a display: {problem}")
    profile = load_profile(getattr(args, "profile", None) or "", graph)  # ProfileError: one line, exit 2
    nodes = graph.nodes_for(mode, _overrides(args, graph), profile)  # a value outside an override's choices: GraphError
    return _with_debug_image(nodes) if getattr(args, "show", False) else nodes


def _detector(nodes: List[NodeSpec]) -> NodeSpec:
    """The face detector among the nodes (it draws the debug picture); CommandError when there is none."""
    found = next((n for n in nodes if (n.package, n.executable) == ("face_detector", "face_detector")), None)
    if found is None:
        raise CommandError("--show needs the face_detector node, and this graph has none")
    return found


def _with_debug_image(nodes: List[NodeSpec]) -> List[NodeSpec]:
    """The nodes with the face detector's debug_image parameter on (what --show watches)."""
    detector = _detector(nodes)
    on = replace(detector, parameters={**detector.parameters, "debug_image": True})
    return [on if n is detector else n for n in nodes]


@contextmanager
def window(node, nodes: List[NodeSpec], show: bool) -> Iterator[None]:
    """With --show: the detector's debug picture in a window, drawn by this node's callbacks.

    The subscription and the timer run where the node spins, the main thread, so every HighGUI call is on it;
    ``WindowClosed`` comes out of that spin like a KeyboardInterrupt does.
    """
    if not show:
        yield
        return
    from sensor_msgs.msg import CompressedImage

    from facecoach_common.qos import IMAGE_QOS

    from ..viewer import Viewer

    topic = _detector(nodes).remappings.get(DEBUG_IMAGE, DEBUG_IMAGE)
    viewer = Viewer()
    node.create_subscription(CompressedImage, topic, lambda msg: viewer.show(msg.data), IMAGE_QOS)
    node.create_timer(WINDOW_POLL_S, viewer.poll)
    print(f"[facecoach] showing {topic} in a window (q, Esc or closing it stops)", flush=True)
    try:
        yield
    finally:
        viewer.close()


@contextmanager
def ros_node(name: str) -> Iterator[Any]:
    """An rclpy node of this command, with rclpy's own signal handler off.

    That handler invalidates the context under a replay thread's feet on Ctrl-C ("publisher's context is
    invalid"); the command stops in order instead: the replay, then the graph, then this node.
    """
    from rclpy.signals import SignalHandlerOptions

    from ..ros_calls import command_node

    with command_node(name, signal_handler_options=SignalHandlerOptions.NO) as node:
        yield node


def publish_diagnostics(node, procs) -> None:
    """/diagnostics from the supervisor: one status per process of the graph (running, restarting, given up)."""
    from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue

    pub = node.create_publisher(DiagnosticArray, "/diagnostics", 10)
    levels = {"ok": DiagnosticStatus.OK, "warn": DiagnosticStatus.WARN, "error": DiagnosticStatus.ERROR}

    def tick() -> None:
        out = DiagnosticArray()
        out.header.stamp = node.get_clock().now().to_msg()
        for name, level, message, values in procs.status():
            out.status.append(
                DiagnosticStatus(
                    level=levels[level],
                    name=f"facecoach: {name}",
                    message=message,
                    hardware_id=name,
                    values=[KeyValue(key=k, value=str(v)) for k, v in values.items()],
                )
            )
        pub.publish(out)

    node.create_timer(DIAGNOSTICS_PERIOD_S, tick)


def check_alive(procs) -> None:
    """CommandError (exit 1) when the supervisor gave up on a process."""
    given_up = procs.given_up()
    if given_up:
        event = next(iter(given_up.values()))
        raise CommandError(f"{event.line()[len('[facecoach] ') :]}; see {event.log}", exit_code=1)


class Supervised:
    """What the replay's start-up wait sees of the graph: only a process given up on counts as dead."""

    def __init__(self, procs) -> None:
        self._procs = procs

    def dead(self) -> Dict[str, Any]:
        """The processes given up on, with their last exit code."""
        return {name: e.returncode for name, e in self._procs.given_up().items()}


def spin_while(node, condition: Callable[[], bool], procs, timeout: float = float("inf")) -> bool:
    """Spin ``node`` while ``condition()`` holds (False when ``timeout`` passed first); stop if a process is lost."""
    import rclpy

    deadline = time.monotonic() + timeout
    while condition():
        check_alive(procs)
        if time.monotonic() >= deadline:
            return False
        rclpy.spin_once(node, timeout_sec=0.05)
        raise_if_stopped()
    return True


def _join(thread: threading.Thread, timeout: float = 5.0) -> None:
    """Join a thread; a second Ctrl-C meanwhile does not cut the wait short."""
    deadline = time.monotonic() + timeout
    while thread.is_alive() and time.monotonic() < deadline:
        try:
            thread.join(0.1)
        except KeyboardInterrupt:
            pass


def replay(node, replayer, procs, received: Callable[[], int], finished: threading.Event, idle_s: float = 1.5) -> None:
    """Replay in a thread while spinning ``node``, then spin until nothing new arrived for ``idle_s``.

    ``finished`` is set when the replay itself ended. The thread is stopped and joined on any way out, so
    nothing publishes once the node is destroyed.
    """

    def play() -> None:
        try:
            replayer.play()
        finally:
            finished.set()

    player = threading.Thread(target=play, name="facecoach-replay", daemon=True)
    try:
        player.start()  # inside the try: Ctrl-C can land while start() waits for the thread to begin
        spin_while(node, lambda: not finished.is_set(), procs)
        last = -1
        while received() != last:
            last = received()
            spin_while(node, lambda last=last: received() == last, procs, idle_s)
    finally:
        replayer.stop_event.set()
        _join(player)
