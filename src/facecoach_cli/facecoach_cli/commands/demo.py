"""`facecoach demo`: the bundled sample interview (or any bag) coached by the graph, supervised, over DDS.

The graph runs as separate processes (or one); the coaching lines are the alert node's Feedback messages as
they come out, and the summary at the end is the whole interview's. A node that dies is restarted and the demo
says so; Ctrl-C, SIGTERM or SIGHUP stop every child.
"""

from __future__ import annotations

import argparse
import json
import threading
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from facecoach.graph import Graph, NodeSpec, load_graph
from facecoach_common.stopping import stopped_by_signals

from ..coaching import CLASSIFIER_GONE, TABLE_HEADER, CoachingPrinter, feedback_line
from ..errors import CommandError
from ..logs import LOG_DIR_HELP, log_dir
from ..sample import bundled_sample
from ..viewer import WindowClosed
from .session_run import add_report_option, finish_session, plan_session, wait_for_recorder
from .supervised import (
    Supervised,
    add_common_options,
    check_alive,
    checked_nodes,
    graph_class,
    publish_diagnostics,
    replay,
    ros_node,
    window,
)

EXIT_INTERRUPTED = 130


def cmd_demo(args: argparse.Namespace) -> int:
    """Coach the bundled sample interview with the graph running as separate processes over DDS."""
    bag = Path(args.bag) if args.bag else bundled_sample()
    graph = load_graph()
    nodes, session = plan_session(checked_nodes(args, graph, "replay"), args.profile)
    if session is None and args.report == "":
        raise CommandError(
            "--report without DIR writes into the session folder: name a DIR, the session is not recorded"
        )
    logs = Path(args.log_dir)
    how = "one process" if args.single_process else "separate processes"
    print(f"[facecoach] demo: {bag} -> {' -> '.join(n.name for n in nodes)} ({how}, DDS)")
    print(f"[facecoach] node logs: {logs}/", flush=True)
    printer = CoachingPrinter()
    with stopped_by_signals(), ros_node("facecoach_demo") as node, window(node, nodes, args.show):
        try:
            replayed, restarts = _coach(node, args, bag, graph, nodes, printer, session)
        except (KeyboardInterrupt, WindowClosed) as exc:
            printer.summary()
            why = f" ({exc})" if isinstance(exc, WindowClosed) else ""
            print(f"\n[facecoach] demo interrupted{why}; every node stopped", flush=True)
            finish_session(session, args.report)
            return EXIT_INTERRUPTED
    summary = printer.summary()
    summary["restarts"] = restarts
    print_summary(summary, replayed, logs)
    _write_outputs(args, summary, printer.messages, bag, session)
    if not summary["frames"]:
        raise CommandError(f"no feedback came out of the graph; see {logs}/", exit_code=1)
    return 0


def _coach(
    node,
    args: argparse.Namespace,
    bag: Path,
    graph: Graph,
    nodes: List[NodeSpec],
    printer: CoachingPrinter,
    session: Optional[Path] = None,
) -> Tuple[int, Dict[str, int]]:
    """Start the graph, warm it up, replay the bag into it; (messages replayed, restarts of each process)."""
    from facecoach_bag.replay import Replayer, start_pipeline
    from facecoach_common.qos import OBSERVER_QOS
    from facecoach_msgs.msg import Feedback

    logs = Path(args.log_dir)
    warm: list = []
    finished = threading.Event()  # the replay ended

    def take(msg) -> None:
        # Silence before the first frame (the warm-up settling) or after the last is no classifier gone.
        if msg.reason != CLASSIFIER_GONE or (printer.messages and not finished.is_set()):
            printer.add(msg)

    sink = [warm.append]  # the warm-up frame's feedback goes to `warm`, the interview's to the printer
    node.create_subscription(Feedback, "/facecoach/feedback", lambda m: sink[0](m), OBSERVER_QOS)
    with graph_class(args)(graph, nodes, log_dir=logs, on_event=lambda e: printer.note(e.text())) as procs:
        publish_diagnostics(node, procs)
        replayer = Replayer(node, bag, rate=args.rate)
        if not start_pipeline(node, Supervised(procs), replayer, lambda: len(warm), args.timeout):
            check_alive(procs)
            raise CommandError(f"the graph did not come up in {args.timeout:g} s; see {logs}/", exit_code=1)
        wait_for_recorder(node, session)
        print(f"[facecoach] graph ready; replaying at {args.rate}x\n{TABLE_HEADER}", flush=True)
        sink[0] = take
        replay(node, replayer, procs, lambda: len(printer.messages), finished)
        return replayer.published, {name: n for name, n in procs.restarts().items() if n}


def print_summary(s: Dict[str, Any], replayed: int, logs: Path, what: str = "the demo") -> None:
    """The summary lines: shares, cues, model; cues not heard and restarts when there were any."""
    print(
        f"\n[facecoach] summary: {s['frames']} frames coached of {replayed} replayed; "
        + ", ".join(f"{k} {v:.0%}" for k, v in s["share"].items())
        + f"; {s['cues']} cue(s) at {s['cue_times_s']} s; model {', '.join(s['variants'])}"
    )
    if s["cues_not_heard"]:
        print(
            f"[facecoach] {s['cues_not_heard']} cue(s) not heard: the sound output failed (no sound card?); "
            f"see {logs}/alert_player.log, or pass --alsa-device null to run silent"
        )
    if s["restarts"]:
        print(
            f"[facecoach] restarted during {what}: {', '.join(f'{k} {v}x' for k, v in s['restarts'].items())}; "
            f"the classifier was silent at {s['classifier_gone_at_s']} s; see {logs}/"
        )


def _write_outputs(args: argparse.Namespace, s: Dict[str, Any], messages: list, bag: Path, session) -> None:
    """--json (the summary) and --report (the recorded session's report; unrecorded: of the coached frames)."""
    if args.json:
        Path(args.json).write_text(json.dumps(s, indent=2))
    if session is not None:
        finish_session(session, args.report)
    elif args.report:
        from ..session_report import write_report

        write_report([feedback_line(m) for m in messages], args.report, title=f"FaceCoach: {bag.name}")
        print(f"[facecoach] session report: {args.report}/report.html")


def add_commands(subparsers) -> None:
    """Register `demo` on the facecoach command's sub-parsers."""
    p = subparsers.add_parser("demo", help="coach the bundled sample interview (separate processes over DDS)")
    p.add_argument("--bag", help="another bag to coach (default: the bundled sample interview)")
    p.add_argument("--rate", type=float, default=1.0, help="replay speed factor (> 0)")
    p.add_argument("--timeout", type=float, default=90.0, help="seconds to wait for the graph to come up")
    p.add_argument("--log-dir", default=str(log_dir("demo")), help=f"node output {LOG_DIR_HELP.format('demo')}")
    p.add_argument("--json", help="write the summary as JSON")
    add_report_option(p)
    add_common_options(p)
    p.set_defaults(func=cmd_demo)
