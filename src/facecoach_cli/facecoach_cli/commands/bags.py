"""`facecoach replay`, `record` and `make-sample`: bags in and out of a running graph, and the sample bag."""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path
from typing import Optional, Sequence

from facecoach_bag.schema import DEFAULT_STORAGE, STORAGES

from ..sample import SAMPLE_BAG


def play_bag(bag, rate: float, loop: bool, topics: Optional[Sequence[str]] = None, wait: float = 10.0) -> int:
    """Replay a bag from a node of this process once subscribers are there (or ``wait`` s passed)."""
    from facecoach_bag.replay import Replayer

    from ..ros_calls import command_node

    with command_node("facecoach_replay") as node:
        try:
            replayer = Replayer(node, bag, rate=rate, loop=loop, topics=topics)
            if not replayer.wait_for_subscribers(node, wait):
                print(f"[facecoach] warning: no subscriber after {wait} s; replaying anyway", file=sys.stderr)
            print(f"[facecoach] replaying {bag} at {rate}x" + (" (looping; Ctrl-C stops)" if loop else ""))
            n = replayer.play()
            replayer.check_played()
            print(f"[facecoach] replayed {n} messages" + (f" ({replayer.partial})" if replayer.partial else ""))
        except KeyboardInterrupt:
            pass
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    """Publish a bag over DDS with its original timing (what `ros2 bag play` does)."""
    from .arguments import positive, readable_bag

    positive("--rate", args.rate)  # refused before anything starts: nan, 0 or a negative rate
    readable_bag(args.bag)
    return play_bag(args.bag, args.rate, args.loop, args.topics, args.wait)


def cmd_record(args: argparse.Namespace) -> int:
    """Record topics into a bag until Ctrl-C (or --duration seconds); exit 1 when the disk fills up."""
    import signal

    import rclpy

    from facecoach.graph import load_graph
    from facecoach_bag.recorder import Recorder
    from facecoach_common.ros_params import ignore_interrupts

    from ..ros_calls import command_node
    from .arguments import non_negative

    non_negative("--duration", args.duration)  # refused before anything starts: nan or a negative duration
    topics = args.topics or list(load_graph().record_topics)
    with command_node("facecoach_record") as node:
        recorder = Recorder(node, args.out, topics, split_bytes=int(args.split_mb * 1e6), storage=args.storage)
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())  # `kill` closes the bag like Ctrl-C does
        print(f"[facecoach] recording {topics} into {args.out} ({args.storage}; Ctrl-C stops)", flush=True)
        deadline = time.monotonic() + args.duration if args.duration else None
        try:
            while not stop.is_set() and not recorder.error and (deadline is None or time.monotonic() < deadline):
                recorder.subscribe_available()
                rclpy.spin_once(node, timeout_sec=0.1)
                recorder.sync()
        except KeyboardInterrupt:
            pass
        finally:
            ignore_interrupts()  # a second Ctrl-C must not interrupt closing the bag
            recorder.close()
    counts = ", ".join(f"{t} {n}" for t, n in recorder.counts.items())
    if recorder.error:
        print(f"facecoach record: {recorder.error}", file=sys.stderr)
        return 1
    print(f"[facecoach] wrote {', '.join(recorder.parts)}: {counts}")
    return 0


def cmd_make_sample(args: argparse.Namespace) -> int:
    """Regenerate the sample interview bag from FER2013 test-split faces."""
    from ..sample import make_sample

    segs = make_sample(args.data, Path(args.out), fps=args.fps, quality=args.quality, model=args.model)
    print(
        f"[facecoach] wrote {args.out} ({sum(s['end_s'] - s['start_s'] for s in segs):.0f} s): "
        + ", ".join(f"{s['emotion'] or 'no face'} {s['start_s']:.0f}-{s['end_s']:.0f}s" for s in segs)
    )
    return 0


def add_commands(subparsers) -> None:
    """Register `replay`, `record` and `make-sample` on the facecoach command's sub-parsers."""
    p = subparsers.add_parser("replay", help="publish a bag over DDS with its timing (ros2 bag play stand-in)")
    p.add_argument("bag")
    p.add_argument("--rate", type=float, default=1.0)
    p.add_argument("--loop", action="store_true")
    p.add_argument("--topics", nargs="+")
    p.add_argument("--wait", type=float, default=10.0, help="seconds to wait for subscribers")
    p.set_defaults(func=cmd_replay)

    p = subparsers.add_parser("record", help="record FaceCoach topics into a bag every ROS 2 distribution plays")
    p.add_argument("out")
    p.add_argument(
        "--storage",
        choices=STORAGES,
        default=DEFAULT_STORAGE,
        help="sqlite3 (default: what Humble plays as installed) or mcap (Humble needs ros-humble-rosbag2-storage-mcap)",
    )
    p.add_argument("--topics", nargs="+", help="default: the graph description's record_topics")
    p.add_argument("--duration", type=float, default=0.0, help="seconds (0: until Ctrl-C)")
    p.add_argument(
        "--split-mb",
        type=float,
        default=0.0,
        help="write a series of complete bags OUT_0000, OUT_0001 ... of this size (0: one bag)",
    )
    p.set_defaults(func=cmd_record)

    p = subparsers.add_parser("make-sample", help="regenerate the sample interview bag from FER2013")
    p.add_argument("--data", required=True, help="FER2013 npz or Kaggle csv")
    p.add_argument(
        "--out",
        default=SAMPLE_BAG,
        help=f"the new bag folder (default: {SAMPLE_BAG} under the current directory, the repository's from its root)",
    )
    p.add_argument("--model", help="keep only faces this weight file labels correctly")
    p.add_argument("--fps", type=float, default=30.0)
    p.add_argument("--quality", type=int, default=80)
    p.set_defaults(func=cmd_make_sample)
