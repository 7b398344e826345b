"""`facecoach run`: the graph as separate processes (or one), live or on a bag, supervised until Ctrl-C."""

from __future__ import annotations

import argparse
import threading
from pathlib import Path

from facecoach.graph import load_graph
from facecoach_common.stopping import stopped_by_signals

from ..coaching import CLASSIFIER_GONE, TABLE_HEADER, CoachingPrinter
from ..errors import CommandError
from ..logs import LOG_DIR_HELP, log_dir
from ..viewer import WindowClosed
from .demo import print_summary
from .session_run import add_report_option, finish_session, plan_session
from .supervised import (
    Supervised,
    add_common_options,
    check_alive,
    checked_nodes,
    graph_class,
    publish_diagnostics,
    replay,
    ros_node,
    spin_while,
    window,
)


def cmd_run(args: argparse.Namespace) -> int:
    """Start the graph (live camera, or --bag to replay a recording) until Ctrl-C (or the end of the bag)."""
    graph = load_graph()
    mode = "replay" if args.bag else "live"
    nodes, session = plan_session(checked_nodes(args, graph, mode), args.profile)
    if session is None and args.report is not None:
        raise CommandError("--report: this session is not recorded (record_session is false)")
    how = "one process" if args.single_process else "separate processes"
    print(f"[facecoach] starting {mode} graph: {', '.join(n.name for n in nodes)} ({how}; Ctrl-C stops)", flush=True)
    print(f"[facecoach] node logs: {args.log_dir}/", flush=True)
    printer = CoachingPrinter()
    replayed = [0]
    try:
        with stopped_by_signals(), ros_node("facecoach_run") as node, window(node, nodes, args.show):
            with graph_class(args)(
                graph, nodes, log_dir=args.log_dir, on_event=lambda e: printer.note(e.text())
            ) as procs:
                print(f"[facecoach] processes: {procs.pids()}", flush=True)
                publish_diagnostics(node, procs)
                watch_feedback(node, printer)
                if args.bag:
                    replayed[0] = _run_bag(node, procs, args)
                else:
                    spin_while(node, lambda: True, procs)
                restarts = {name: n for name, n in procs.restarts().items() if n}
        _summary(printer, replayed[0], restarts, args)
    except KeyboardInterrupt:
        _summary(printer, replayed[0], {}, args)
        print("[facecoach] stopped; every node stopped", flush=True)
    except WindowClosed as exc:
        _summary(printer, replayed[0], {}, args)
        print(f"[facecoach] {exc}: stopped; every node stopped", flush=True)
    finish_session(session, args.report)
    return 0


def watch_feedback(node, printer: CoachingPrinter) -> None:
    """Print the alert node's Feedback as the demo does: a line a second (times since the first frame), cues."""
    from facecoach_common.qos import OBSERVER_QOS
    from facecoach_msgs.msg import Feedback

    def take(msg) -> None:
        if msg.reason == CLASSIFIER_GONE and not printer.messages:
            return  # silence before the first frame is no classifier gone
        if not printer.messages and msg.reason != CLASSIFIER_GONE:
            print(TABLE_HEADER, flush=True)
        printer.add(msg)

    node.create_subscription(Feedback, "/facecoach/feedback", take, OBSERVER_QOS)


def _summary(printer: CoachingPrinter, replayed: int, restarts, args: argparse.Namespace) -> None:
    summary = printer.summary()
    if not summary["frames"]:
        print(f"[facecoach] no feedback came out of the graph; see {args.log_dir}/", flush=True)
        return
    summary["restarts"] = restarts
    print_summary(summary, replayed, Path(args.log_dir), what="the run")


def _run_bag(node, procs, args: argparse.Namespace) -> int:
    """`run --bag`: replay once every stage subscribes (or after a minute), until the end (or Ctrl-C)."""
    from facecoach_bag.replay import Replayer, wait_for_pipeline

    replayer = Replayer(node, args.bag, rate=args.rate, loop=args.loop)
    if not wait_for_pipeline(node, Supervised(procs), replayer, 60.0):
        check_alive(procs)
        print("[facecoach] warning: the graph is not subscribed after 60 s; replaying anyway", flush=True)
    print(f"[facecoach] replaying {args.bag} at {args.rate}x" + (" (looping; Ctrl-C stops)" if args.loop else ""))
    replay(node, replayer, procs, lambda: replayer.published, threading.Event(), idle_s=0.0)
    replayer.check_played()
    print(f"[facecoach] replayed {replayer.published} messages", flush=True)
    return replayer.published


def add_commands(subparsers) -> None:
    """Register `run` on the facecoach command's sub-parsers."""
    p = subparsers.add_parser("run", help="start the graph: live camera, or --bag to replay a recorded interview")
    p.add_argument("--bag", help="replay this bag instead of the camera")
    p.add_argument("--rate", type=float, default=1.0, help="replay speed factor (> 0)")
    p.add_argument("--loop", action="store_true", help="replay the bag again and again, until Ctrl-C")
    p.add_argument("--log-dir", default=str(log_dir("run")), help=f"node output {LOG_DIR_HELP.format('run')}")
    add_report_option(p)
    add_common_options(p)
    p.set_defaults(func=cmd_run)
