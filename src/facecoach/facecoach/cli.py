"""The `facecoach` command: run the graph, the demo, replay/record bags, switch models, model tooling."""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import List, Optional

from .graph import GraphError, load_graph
from .sample import REPO, SAMPLE_BAG, bundled_sample


def _overrides(args) -> dict:
    return {k: getattr(args, k, None) for k in ("camera_source", "model_variant", "cue_wav", "alsa_device")}


def _graph_class(args):
    """GraphProcesses (one process a node) or SingleProcess (all nodes, one executor) as --single-process says."""
    if getattr(args, "single_process", False):
        from .single_process import SingleProcess

        return SingleProcess
    from .launcher import GraphProcesses

    return GraphProcesses


def _add_override_options(p: argparse.ArgumentParser) -> None:
    graph = load_graph()
    for name, o in graph.overrides.items():
        kw = {"choices": list(o.choices)} if o.choices else {}
        p.add_argument(
            "--" + name.replace("_", "-"), dest=name, help=f"{o.description} (default: {graph.default(name)!r})", **kw
        )


def _add_single_process_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--single-process",
        action="store_true",
        help="run every node in one process with one executor (saves memory on a 4 GB Jetson)",
    )


# ------------------------------------------------------------------------------------------- run
def cmd_run(args) -> int:
    """Start the graph (live camera, or --bag to replay a recording) until Ctrl-C."""
    graph = load_graph()
    mode = "replay" if args.bag else "live"
    nodes = graph.nodes_for(mode, _overrides(args))
    how = "one process" if args.single_process else "separate processes"
    print(f"[facecoach] starting {mode} graph: {', '.join(n.name for n in nodes)} ({how}; Ctrl-C stops)")
    with _graph_class(args)(graph, nodes, log_dir=args.log_dir):
        if args.bag:
            return _play(args.bag, args.rate, args.loop, wait=60.0)
        try:
            while True:
                time.sleep(1)
        except KeyboardInterrupt:
            return 0


# ------------------------------------------------------------------------------------------- demo
class CoachingPrinter:
    """Prints the feedback stream second by second (of the frames' stamps) and sums it up."""

    def __init__(self, out=sys.stdout) -> None:
        self.out = out
        self.first_ns: Optional[int] = None
        self.bucket: List = []
        self.second = 0
        self.messages: List = []
        self.cues: List[float] = []

    def add(self, msg) -> None:
        """One feedback message (in stamp order)."""
        ns = msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec
        self.first_ns = ns if self.first_ns is None else self.first_ns
        sec = int((ns - self.first_ns) // 10**9)
        if sec != self.second and self.bucket:
            self.flush()
        self.second = sec
        self.bucket.append(msg)
        self.messages.append(msg)
        if msg.cue_played:
            t = (ns - self.first_ns) / 1e9
            self.cues.append(t)
            print(
                f"  {t:6.2f} s  >>> CUE played: expression '{msg.emotion}' has been bad "
                f"({msg.bad_share:.0%} of the window)",
                file=self.out,
                flush=True,
            )

    def flush(self) -> None:
        """Print the line of the current second."""
        if not self.bucket:
            return
        emotions = Counter(m.emotion if m.has_face else "(no face)" for m in self.bucket)
        emotion, _ = emotions.most_common(1)[0]
        cats = Counter(m.category_name for m in self.bucket)
        category, _ = cats.most_common(1)[0]
        conf = [m.confidence for m in self.bucket if m.has_face and m.emotion == emotion]
        share = max(m.bad_share for m in self.bucket)
        conf_txt = f"{sum(conf) / len(conf):.2f}" if conf else "  - "
        print(
            f"  {self.second:4d} s  {emotion:<10} {conf_txt}  {category:<10}  bad share {share:4.0%}  "
            f"frames {len(self.bucket)}",
            file=self.out,
            flush=True,
        )
        self.bucket = []

    def summary(self) -> dict:
        """Totals of the session."""
        self.flush()
        n = len(self.messages)
        cats = Counter(m.category_name for m in self.messages)
        variants = sorted({m.model_variant for m in self.messages if m.model_variant})
        return {
            "frames": n,
            "share": {c: cats[c] / n for c in ("good", "acceptable", "bad", "none")} if n else {},
            "cues": len(self.cues),
            "cue_times_s": [round(t, 2) for t in self.cues],
            "variants": variants,
        }


def feedback_line(msg) -> dict:
    """A Feedback message as an eval-bag result line (what the session report reads)."""
    return {
        "stamp_ns": msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec,
        "face": msg.has_face,
        "label": msg.emotion,
        "confidence": msg.confidence,
        "category": msg.category_name,
        "cue": msg.cue_played,
        "reason": msg.reason,
        "bad_share": msg.bad_share,
    }


def cmd_demo(args) -> int:
    """Coach the bundled sample interview with the graph running as separate processes over DDS."""
    import rclpy

    from facecoach_common.qos import OBSERVER_QOS
    from facecoach_msgs.msg import Feedback

    from .replay import Replayer, play_and_drain, start_pipeline

    bag = Path(args.bag) if args.bag else bundled_sample()
    graph = load_graph()
    nodes = graph.nodes_for("replay", _overrides(args))
    log_dir = Path(args.log_dir)
    how = "one process" if args.single_process else "separate processes"
    print(f"[facecoach] demo: {bag} -> {' -> '.join(n.name for n in nodes)} ({how}, DDS)")
    print(f"[facecoach] node logs: {log_dir}/")
    printer = CoachingPrinter()
    warm: list = []
    sink = [warm.append]  # the warm-up frame's feedback goes to `warm`, the interview's to the printer
    rclpy.init()
    node = rclpy.create_node("facecoach_demo")
    node.create_subscription(Feedback, "/facecoach/feedback", lambda m: sink[0](m), OBSERVER_QOS)
    try:
        with _graph_class(args)(graph, nodes, log_dir=log_dir) as procs:
            replayer = Replayer(node, bag, rate=args.rate)
            if not start_pipeline(node, procs, replayer, lambda: len(warm), args.timeout):
                print(
                    f"[facecoach] the graph did not come up (exited: {procs.dead()}); see {log_dir}/", file=sys.stderr
                )
                return 1
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
    if args.json:
        Path(args.json).write_text(json.dumps(s, indent=2))
    if args.report:
        from .session_report import write_report

        write_report([feedback_line(m) for m in printer.messages], args.report, title=f"FaceCoach: {bag.name}")
        print(f"[facecoach] session report: {args.report}/report.html")
    if dead:
        print(f"[facecoach] nodes died during the demo: {dead}", file=sys.stderr)
        return 1
    return 0 if s["frames"] > 0 else 1


# ------------------------------------------------------------------------------------------- bags
def cmd_replay(args) -> int:
    """Publish a bag over DDS with its original timing (what `ros2 bag play` does)."""
    return _play(args.bag, args.rate, args.loop, args.topics, args.wait)


def _play(bag, rate: float, loop: bool, topics=None, wait: float = 10.0) -> int:
    """Replay a bag from a node of this process once subscribers are there (or ``wait`` s passed)."""
    import rclpy

    from .replay import Replayer

    rclpy.init()
    node = rclpy.create_node("facecoach_replay")
    try:
        replayer = Replayer(node, bag, rate=rate, loop=loop, topics=topics)
        if not replayer.wait_for_subscribers(node, wait):
            print(f"[facecoach] warning: no subscriber after {wait} s; replaying anyway", file=sys.stderr)
        print(f"[facecoach] replaying {bag} at {rate}x" + (" (looping; Ctrl-C stops)" if loop else ""))
        n = replayer.play()
        print(f"[facecoach] replayed {n} messages")
    except KeyboardInterrupt:
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


def cmd_record(args) -> int:
    """Record topics into an MCAP bag until Ctrl-C (or --duration seconds)."""
    import signal

    import rclpy

    from .recorder import Recorder

    topics = args.topics or list(load_graph().record_topics)
    rclpy.init()
    node = rclpy.create_node("facecoach_record")
    recorder = Recorder(node, args.out, topics, split_bytes=int(args.split_mb * 1e6))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())  # `kill` closes the bag like Ctrl-C does
    print(f"[facecoach] recording {topics} into {args.out} (Ctrl-C stops)", flush=True)
    deadline = time.monotonic() + args.duration if args.duration else None
    try:
        while not stop.is_set() and (deadline is None or time.monotonic() < deadline):
            recorder.subscribe_available()
            rclpy.spin_once(node, timeout_sec=0.1)
    except KeyboardInterrupt:
        pass
    finally:
        recorder.close()
        node.destroy_node()
        rclpy.try_shutdown()
    print(
        f"[facecoach] wrote {', '.join(recorder.parts)}: " + ", ".join(f"{t} {n}" for t, n in recorder.counts.items())
    )
    return 0


def cmd_make_sample(args) -> int:
    """Regenerate the sample interview bag from FER2013 test-split faces."""
    from .sample import make_sample

    segs = make_sample(args.data, Path(args.out), fps=args.fps, quality=args.quality, model=args.model)
    print(
        f"[facecoach] wrote {args.out} ({sum(s['end_s'] - s['start_s'] for s in segs):.0f} s): "
        + ", ".join(f"{s['emotion'] or 'no face'} {s['start_s']:.0f}-{s['end_s']:.0f}s" for s in segs)
    )
    return 0


# ------------------------------------------------------------------------------------------- params
def cmd_set_model(args) -> int:
    """Switch the running classifier's weights through its parameter service (like `ros2 param set`)."""
    from .ros_calls import set_parameter

    def ask(node):
        t0 = time.monotonic()
        ok, reason = set_parameter(node, args.node, "model_variant", args.variant, timeout=args.timeout)
        return ok, reason, (time.monotonic() - t0) * 1000

    def show(answer) -> int:
        ok, reason, ms = answer
        if not ok:
            print(f"refused: {reason}", file=sys.stderr)
            return 1
        print(f"model_variant = {args.variant} (accepted in {ms:.0f} ms)")
        return 0

    return _query("facecoach_set_model", ask, show)


def cmd_get_model(args) -> int:
    """Print the running classifier's model_variant."""
    from .ros_calls import get_parameter

    return _query("facecoach_get_model", lambda node: get_parameter(node, args.node, "model_variant", args.timeout))


def cmd_get_mapping(args) -> int:
    """Print the running alert node's emotion -> category mapping (a set mapping_preset wins)."""
    from alert_player.mapping import EMOTIONS, preset, render_mapping

    from .ros_calls import get_parameter

    def ask(node) -> str:
        name = get_parameter(node, args.node, "mapping_preset", timeout=args.timeout)
        if name:
            return f"{render_mapping(preset(name))} (preset {name!r})"
        return render_mapping({e: get_parameter(node, args.node, f"mapping.{e}", args.timeout) for e in EMOTIONS})

    return _query("facecoach_get_mapping", ask)


def _query(node_name: str, ask, show=None) -> int:
    """Run ``ask(node)`` against the running graph from a short-lived node; exit 2 when it does not answer.

    ``show(answer)`` prints the answer and returns the exit code (default: print it, exit 0).
    """
    import rclpy

    rclpy.init()
    node = rclpy.create_node(node_name)
    try:
        answer = ask(node)
    except TimeoutError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    if show is None:
        print(answer)
        return 0
    return show(answer)


# ------------------------------------------------------------------------------------------- main
def build_parser() -> argparse.ArgumentParser:
    """The facecoach argument parser with every sub-command."""
    parser = argparse.ArgumentParser(
        prog="facecoach", description="FaceCoach: expression coaching for video interviews"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("demo", help="coach the bundled sample interview (separate processes over DDS)")
    p.add_argument("--bag", help="another bag to coach (default: the bundled sample interview)")
    p.add_argument("--rate", type=float, default=1.0, help="replay speed factor")
    p.add_argument("--timeout", type=float, default=90.0, help="seconds to wait for the graph to come up")
    p.add_argument("--log-dir", default=str(REPO / "log" / "demo"))
    p.add_argument("--json", help="write the summary as JSON")
    p.add_argument("--report", metavar="DIR", help="write the session report (PNG, HTML, JSON) here at the end")
    _add_single_process_option(p)
    _add_override_options(p)
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("run", help="start the graph: live camera, or --bag to replay a recorded interview")
    p.add_argument("--bag", help="replay this bag instead of the camera")
    p.add_argument("--rate", type=float, default=1.0)
    p.add_argument("--loop", action="store_true")
    p.add_argument("--log-dir", help="write node output to files here instead of the terminal")
    _add_single_process_option(p)
    _add_override_options(p)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("replay", help="publish a bag over DDS with its timing (ros2 bag play stand-in)")
    p.add_argument("bag")
    p.add_argument("--rate", type=float, default=1.0)
    p.add_argument("--loop", action="store_true")
    p.add_argument("--topics", nargs="+")
    p.add_argument("--wait", type=float, default=10.0, help="seconds to wait for subscribers")
    p.set_defaults(func=cmd_replay)

    p = sub.add_parser("record", help="record FaceCoach topics into an MCAP bag")
    p.add_argument("out")
    p.add_argument("--topics", nargs="+", help="default: the graph description's record_topics")
    p.add_argument("--duration", type=float, default=0.0, help="seconds (0: until Ctrl-C)")
    p.add_argument(
        "--split-mb",
        type=float,
        default=0.0,
        help="write a series of complete bags OUT_0000, OUT_0001 ... of this size (0: one bag)",
    )
    p.set_defaults(func=cmd_record)

    for name, func, helptext, target in (
        ("set-model", cmd_set_model, "switch the running classifier's weights", "/emotion_classifier"),
        ("get-model", cmd_get_model, "print the running classifier's variant", "/emotion_classifier"),
        ("get-mapping", cmd_get_mapping, "print the running alert node's emotion -> category mapping", "/alert_player"),
    ):
        p = sub.add_parser(name, help=helptext)
        if name == "set-model":
            p.add_argument("variant")
        p.add_argument("--node", default=target)
        p.add_argument("--timeout", type=float, default=30.0)
        p.set_defaults(func=func)

    p = sub.add_parser("make-sample", help="regenerate the sample interview bag from FER2013")
    p.add_argument("--data", required=True, help="FER2013 npz or Kaggle csv")
    p.add_argument("--out", default=str(REPO / SAMPLE_BAG))
    p.add_argument("--model", help="keep only faces this weight file labels correctly")
    p.add_argument("--fps", type=float, default=30.0)
    p.add_argument("--quality", type=int, default=80)
    p.set_defaults(func=cmd_make_sample)

    from emotion_classifier.tooling.cli import add_commands

    from .bench.command import add_commands as add_bench_commands
    from .session_tools import add_commands as add_session_commands

    add_commands(sub)
    add_session_commands(sub)
    add_bench_commands(sub)
    try:
        from alert_player.voice import add_record_voice_command

        add_record_voice_command(sub)
    except ImportError:  # alert_player not built yet
        pass
    return parser


def main(argv=None) -> int:
    """Entry point of the facecoach command."""
    from emotion_classifier.data import DatasetError
    from emotion_classifier.weights import WeightFileError

    from .bags import BagError
    from .launcher import LaunchError

    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (GraphError, BagError, LaunchError, DatasetError, WeightFileError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
