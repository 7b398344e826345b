"""`facecoach run` and `facecoach demo`: the graph as separate processes (or one), live or on a bag."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any, Dict

from ..coaching import CoachingPrinter, feedback_line
from ..errors import CommandError
from ..graph import Graph, load_graph
from ..logs import LOG_DIR_HELP, log_dir
from ..sample import bundled_sample
from .bags import play_bag
from .parser import defer


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
    """One option per override of the graph description (read only when run or demo is used)."""
    graph = load_graph()
    for name, o in graph.overrides.items():
        kw = {"choices": list(o.choices)} if o.choices else {}
        p.add_argument(
            "--" + name.replace("_", "-"), dest=name, help=f"{o.description} (default: {graph.default(name)!r})", **kw
        )


def _add_common_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--single-process",
        action="store_true",
        help="run every node in one process with one executor (saves memory on a 4 GB Jetson)",
    )
    defer(p, _add_graph_options)


def cmd_run(args: argparse.Namespace) -> int:
    """Start the graph (live camera, or --bag to replay a recording) until Ctrl-C."""
    graph = load_graph()
    mode = "replay" if args.bag else "live"
    nodes = graph.nodes_for(mode, _overrides(args, graph))
    how = "one process" if args.single_process else "separate processes"
    print(f"[facecoach] starting {mode} graph: {', '.join(n.name for n in nodes)} ({how}; Ctrl-C stops)")
    with _graph_class(args)(graph, nodes, log_dir=args.log_dir):
        if args.bag:
            return play_bag(args.bag, args.rate, args.loop, wait=60.0)
        try:
            while True:
                time.sleep(1)
        except KeyboardInterrupt:
            return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """Coach the bundled sample interview with the graph running as separate processes over DDS."""
    import rclpy

    from facecoach_common.qos import OBSERVER_QOS
    from facecoach_msgs.msg import Feedback

    from ..replay import Replayer, play_and_drain, start_pipeline

    bag = Path(args.bag) if args.bag else bundled_sample()
    graph = load_graph()
    nodes = graph.nodes_for("replay", _overrides(args, graph))
    logs = Path(args.log_dir)
    how = "one process" if args.single_process else "separate processes"
    print(f"[facecoach] demo: {bag} -> {' -> '.join(n.name for n in nodes)} ({how}, DDS)")
    print(f"[facecoach] node logs: {logs}/")
    printer = CoachingPrinter()
    warm: list = []
    sink = [warm.append]  # the warm-up frame's feedback goes to `warm`, the interview's to the printer
    rclpy.init()
    node = rclpy.create_node("facecoach_demo")
    node.create_subscription(Feedback, "/facecoach/feedback", lambda m: sink[0](m), OBSERVER_QOS)
    try:
        with _graph_class(args)(graph, nodes, log_dir=logs) as procs:
            replayer = Replayer(node, bag, rate=args.rate)
            if not start_pipeline(node, procs, replayer, lambda: len(warm), args.timeout):
                raise CommandError(f"the graph did not come up (exited: {procs.dead()}); see {logs}/", exit_code=1)
            print(
                f"[facecoach] graph ready; replaying at {args.rate}x\n"
                f"  {'time':>6}  {'emotion':<10} conf  {'category':<10}"
            )
            sink[0] = printer.add
            play_and_drain(node, replayer, lambda: len(printer.messages))
            dead = procs.dead()
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    s = printer.summary()
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
    if args.json:
        Path(args.json).write_text(json.dumps(s, indent=2))
    if args.report:
        from ..session_report import write_report

        write_report([feedback_line(m) for m in printer.messages], args.report, title=f"FaceCoach: {bag.name}")
        print(f"[facecoach] session report: {args.report}/report.html")
    if dead:
        raise CommandError(f"nodes died during the demo: {dead}; see {logs}/", exit_code=1)
    if not s["frames"]:
        raise CommandError(f"no feedback came out of the graph; see {logs}/", exit_code=1)
    return 0


def add_commands(subparsers) -> None:
    """Register `demo` and `run` on the facecoach command's sub-parsers."""
    p = subparsers.add_parser("demo", help="coach the bundled sample interview (separate processes over DDS)")
    p.add_argument("--bag", help="another bag to coach (default: the bundled sample interview)")
    p.add_argument("--rate", type=float, default=1.0, help="replay speed factor")
    p.add_argument("--timeout", type=float, default=90.0, help="seconds to wait for the graph to come up")
    p.add_argument("--log-dir", default=str(log_dir("demo")), help=f"node output {LOG_DIR_HELP.format('demo')}")
    p.add_argument("--json", help="write the summary as JSON")
    p.add_argument("--report", metavar="DIR", help="write the session report (PNG, HTML, JSON) here at the end")
    _add_common_options(p)
    p.set_defaults(func=cmd_demo)

    p = subparsers.add_parser("run", help="start the graph: live camera, or --bag to replay a recorded interview")
    p.add_argument("--bag", help="replay this bag instead of the camera")
    p.add_argument("--rate", type=float, default=1.0)
    p.add_argument("--loop", action="store_true")
    p.add_argument("--log-dir", help="write node output to files here instead of the terminal")
    _add_common_options(p)
    p.set_defaults(func=cmd_run)
