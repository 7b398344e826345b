"""`facecoach run` and `facecoach demo`: the graph as separate processes (or one), live or on a bag, supervised.

The launcher restarts a node that dies and says so; these commands show it (the demo's coaching lines,
``/diagnostics``), stop every child on Ctrl-C, SIGTERM or SIGHUP, and refuse bad arguments before anything starts.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List

from facecoach.graph import Graph, NodeSpec, load_graph
from facecoach_common.stopping import raise_if_stopped, stopped_by_signals

from ..coaching import CLASSIFIER_GONE, CoachingPrinter, feedback_line
from ..errors import CommandError
from ..logs import LOG_DIR_HELP, log_dir
from ..sample import bundled_sample
from ..viewer import WindowClosed
from . import arguments
from .parser import defer

DIAGNOSTICS_PERIOD_S = 0.5
WINDOW_POLL_S = 0.05  # --show: how often the window takes its events (a close, a key) between two pictures
DEBUG_IMAGE = "debug_image/compressed"  # the face detector's debug picture, before its remapping


def _overrides(args: argparse.Namespace, graph: Graph) -> Dict[str, Any]:
    """The values given for the graph's overrides (None: the YAML's value)."""
    return {name: getattr(args, name, None) for name in graph.overrides}


def _graph_class(args: argparse.Namespace):
    """GraphProcesses (one process a node) or SingleProcess (all nodes, one executor) as --single-process says."""
    if args.single_process:
        from ..launcher import SingleProcess

        return SingleProcess
    from ..launcher import GraphProcesses

    return GraphProcesses


def _add_graph_options(p: argparse.ArgumentParser) -> None:
    """One option per override of the graph description (read only when run or demo is used).

    Choices are checked with the other arguments (``_checked_nodes``), so a wrong one is one line, not a usage.
    """
    graph = load_graph()
    for name, o in graph.overrides.items():
        choices = f"; one of {', '.join(o.choices)}" if o.choices else ""
        p.add_argument(
            "--" + name.replace("_", "-"),
            dest=name,
            help=f"{o.description}{choices} (default: {graph.default(name)!r})",
        )


def _add_common_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--single-process",
        action="store_true",
        help="run every node in one process with one executor (saves memory on a 4 GB Jetson)",
    )
    p.add_argument(
        "--show",
        action="store_true",
        help="show the face detector's picture (box, label, category) in a window; q, Esc or closing it stops "
        "(needs a display and an OpenCV with a GUI; turns the detector's debug_image on)",
    )
    defer(p, _add_graph_options)


def _checked_nodes(args: argparse.Namespace, graph: Graph, mode: str) -> List[NodeSpec]:
    """The nodes to start, after every argument was checked: nothing has started when this raises."""
    arguments.positive("--rate", args.rate)
    arguments.positive("--timeout", getattr(args, "timeout", None))
    if args.bag:
        arguments.readable_bag(args.bag)
    classifier = next((n for n in graph.nodes if n.package == "emotion_classifier"), None)
    if classifier is not None and classifier.parameters.get("backend", "torch") == "torch":
        arguments.model_variant(getattr(args, "model_variant", None), str(classifier.parameters.get("models_dir", "")))
    if getattr(args, "show", False):
        from ..viewer import display_problem

        problem = display_problem()
        if problem:
            raise CommandError(f"--show needs a display: {problem}")
    nodes = graph.nodes_for(mode, _overrides(args, graph))  # a value outside an override's choices: GraphError
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
def _window(node, nodes: List[NodeSpec], show: bool) -> Iterator[None]:
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
def _ros_node(name: str) -> Iterator[Any]:
    """An rclpy node of this command, with rclpy's own signal handler off.

    That handler invalidates the context under a replay thread's feet on Ctrl-C ("publisher's context is
    invalid"); the command stops in order instead: the replay, then the graph, then this node.
    """
    from rclpy.signals import SignalHandlerOptions

    from ..ros_calls import command_node

    with command_node(name, signal_handler_options=SignalHandlerOptions.NO) as node:
        yield node


def _publish_diagnostics(node, procs) -> None:
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


def _check_alive(procs) -> None:
    """CommandError (exit 1) when the supervisor gave up on a process."""
    given_up = procs.given_up()
    if given_up:
        event = next(iter(given_up.values()))
        raise CommandError(f"{event.line()[len('[facecoach] ') :]}; see {event.log}", exit_code=1)


class _Supervised:
    """What the replay's start-up wait sees of the graph: only a process given up on counts as dead."""

    def __init__(self, procs) -> None:
        self._procs = procs

    def dead(self) -> Dict[str, Any]:
        return {name: e.returncode for name, e in self._procs.given_up().items()}


def _spin_while(node, condition: Callable[[], bool], procs, timeout: float = float("inf")) -> bool:
    """Spin ``node`` while ``condition()`` holds (False when ``timeout`` passed first); stop if a process is lost."""
    import rclpy

    deadline = time.monotonic() + timeout
    while condition():
        _check_alive(procs)
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


def _replay(node, replayer, procs, received: Callable[[], int], finished: threading.Event, idle_s: float = 1.5) -> None:
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
        _spin_while(node, lambda: not finished.is_set(), procs)
        last = -1
        while received() != last:
            last = received()
            _spin_while(node, lambda last=last: received() == last, procs, idle_s)
    finally:
        replayer.stop_event.set()
        _join(player)


def cmd_run(args: argparse.Namespace) -> int:
    """Start the graph (live camera, or --bag to replay a recording) until Ctrl-C (or the end of the bag)."""
    graph = load_graph()
    mode = "replay" if args.bag else "live"
    nodes = _checked_nodes(args, graph, mode)
    how = "one process" if args.single_process else "separate processes"
    print(f"[facecoach] starting {mode} graph: {', '.join(n.name for n in nodes)} ({how}; Ctrl-C stops)", flush=True)
    try:
        with stopped_by_signals(), _ros_node("facecoach_run") as node, _window(node, nodes, args.show):
            with _graph_class(args)(graph, nodes, log_dir=args.log_dir) as procs:
                print(f"[facecoach] processes: {procs.pids()}", flush=True)
                _publish_diagnostics(node, procs)
                if args.bag:
                    _run_bag(node, procs, args)
                else:
                    _spin_while(node, lambda: True, procs)
    except KeyboardInterrupt:
        print("[facecoach] stopped; every node stopped", flush=True)
    except WindowClosed as exc:
        print(f"[facecoach] {exc}: stopped; every node stopped", flush=True)
    return 0


def _run_bag(node, procs, args: argparse.Namespace) -> None:
    """`run --bag`: replay once every stage subscribes (or after a minute), until the end (or Ctrl-C)."""
    from facecoach_bag.replay import Replayer, wait_for_pipeline

    replayer = Replayer(node, args.bag, rate=args.rate, loop=args.loop)
    if not wait_for_pipeline(node, _Supervised(procs), replayer, 60.0):
        _check_alive(procs)
        print("[facecoach] warning: the graph is not subscribed after 60 s; replaying anyway", flush=True)
    print(f"[facecoach] replaying {args.bag} at {args.rate}x" + (" (looping; Ctrl-C stops)" if args.loop else ""))
    _replay(node, replayer, procs, lambda: replayer.published, threading.Event(), idle_s=0.0)
    print(f"[facecoach] replayed {replayer.published} messages", flush=True)


def cmd_demo(args: argparse.Namespace) -> int:
    """Coach the bundled sample interview with the graph running as separate processes over DDS."""
    from facecoach_bag.replay import Replayer, start_pipeline
    from facecoach_common.qos import OBSERVER_QOS
    from facecoach_msgs.msg import Feedback

    bag = Path(args.bag) if args.bag else bundled_sample()
    graph = load_graph()
    nodes = _checked_nodes(args, graph, "replay")
    logs = Path(args.log_dir)
    how = "one process" if args.single_process else "separate processes"
    print(f"[facecoach] demo: {bag} -> {' -> '.join(n.name for n in nodes)} ({how}, DDS)")
    print(f"[facecoach] node logs: {logs}/", flush=True)
    printer = CoachingPrinter()
    warm: list = []
    finished = threading.Event()  # the replay ended

    def take(msg) -> None:
        # Silence before the first frame (the warm-up settling) or after the last is no classifier gone.
        if msg.reason != CLASSIFIER_GONE or (printer.messages and not finished.is_set()):
            printer.add(msg)

    sink = [warm.append]  # the warm-up frame's feedback goes to `warm`, the interview's to the printer
    with stopped_by_signals(), _ros_node("facecoach_demo") as node, _window(node, nodes, args.show):
        node.create_subscription(Feedback, "/facecoach/feedback", lambda m: sink[0](m), OBSERVER_QOS)
        try:
            with _graph_class(args)(graph, nodes, log_dir=logs, on_event=lambda e: printer.note(e.text())) as procs:
                _publish_diagnostics(node, procs)
                replayer = Replayer(node, bag, rate=args.rate)
                if not start_pipeline(node, _Supervised(procs), replayer, lambda: len(warm), args.timeout):
                    _check_alive(procs)
                    raise CommandError(f"the graph did not come up in {args.timeout:g} s; see {logs}/", exit_code=1)
                print(
                    f"[facecoach] graph ready; replaying at {args.rate}x\n"
                    f"  {'time':>6}  {'emotion':<10} conf  {'category':<10}",
                    flush=True,
                )
                sink[0] = take
                _replay(node, replayer, procs, lambda: len(printer.messages), finished)
                restarts = {name: n for name, n in procs.restarts().items() if n}
        except (KeyboardInterrupt, WindowClosed) as exc:
            printer.summary()
            why = f" ({exc})" if isinstance(exc, WindowClosed) else ""
            print(f"\n[facecoach] demo interrupted{why}; every node stopped", flush=True)
            return 130
    s = printer.summary()
    s["restarts"] = restarts
    print(
        f"\n[facecoach] summary: {s['frames']} frames coached of {replayer.published} replayed; "
        + ", ".join(f"{k} {v:.0%}" for k, v in s["share"].items())
        + f"; {s['cues']} cue(s) at {s['cue_times_s']} s; model {', '.join(s['variants'])}"
    )
    if s["cues_not_heard"]:
        print(
            f"[facecoach] {s['cues_not_heard']} cue(s) not heard: the sound output failed (no sound card?); "
            f"see {logs}/alert_player.log, or pass --alsa-device null to run silent"
        )
    if restarts:
        print(
            f"[facecoach] restarted during the demo: {', '.join(f'{k} {v}x' for k, v in restarts.items())}; "
            f"the classifier was silent at {s['classifier_gone_at_s']} s; see {logs}/"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(s, indent=2))
    if args.report:
        from ..session_report import write_report

        lines = [feedback_line(m) for m in printer.messages]
        write_report(lines, args.report, title=f"FaceCoach: {bag.name}")
        print(f"[facecoach] session report: {args.report}/report.html")
    if not s["frames"]:
        raise CommandError(f"no feedback came out of the graph; see {logs}/", exit_code=1)
    return 0


def add_commands(subparsers) -> None:
    """Register `demo` and `run` on the facecoach command's sub-parsers."""
    p = subparsers.add_parser("demo", help="coach the bundled sample interview (separate processes over DDS)")
    p.add_argument("--bag", help="another bag to coach (default: the bundled sample interview)")
    p.add_argument("--rate", type=float, default=1.0, help="replay speed factor (> 0)")
    p.add_argument("--timeout", type=float, default=90.0, help="seconds to wait for the graph to come up")
    p.add_argument("--log-dir", default=str(log_dir("demo")), help=f"node output {LOG_DIR_HELP.format('demo')}")
    p.add_argument("--json", help="write the summary as JSON")
    p.add_argument("--report", metavar="DIR", help="write the session report (PNG, HTML, JSON) here at the end")
    _add_common_options(p)
    p.set_defaults(func=cmd_demo)

    p = subparsers.add_parser("run", help="start the graph: live camera, or --bag to replay a recorded interview")
    p.add_argument("--bag", help="replay this bag instead of the camera")
    p.add_argument("--rate", type=float, default=1.0, help="replay speed factor (> 0)")
    p.add_argument("--loop", action="store_true", help="replay the bag again and again, until Ctrl-C")
    p.add_argument("--log-dir", help="write node output to files here instead of the terminal")
    _add_common_options(p)
    p.set_defaults(func=cmd_run)
