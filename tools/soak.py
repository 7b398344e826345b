"""`make soak`: the demo graph replaying the sample interview in a loop for a long time, watching memory.

Separate processes over DDS, as `make demo` runs them, supervised (a restart would be counted and
reported). Prints the resident memory of every process at the start, every ``--report-s`` seconds and at
the end, each cue as it happens, and a summary; exits 1 when the total RSS grew by more than
``--max-growth`` percent, a node was restarted, or feedback stopped.

    SOAK_SECONDS=300 make soak          # or: python tools/soak.py --seconds 300
"""

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Dict

REPO = Path(__file__).resolve().parents[1]


def rss_mb(pids: Dict[str, int]) -> Dict[str, float]:
    """Resident memory of each process (MB); 0 for one that is gone."""
    import psutil

    out = {}
    for name, pid in pids.items():
        try:
            out[name] = psutil.Process(pid).memory_info().rss / 2**20
        except psutil.Error:
            out[name] = 0.0
    return out


def clock(seconds: float) -> str:
    """hh:mm:ss of a duration."""
    s = int(seconds)
    return f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}"


def main() -> int:
    """Run the soak; return 0 when memory stayed flat and the graph kept coaching."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=3600.0, help="how long to replay (default: an hour)")
    p.add_argument("--report-s", type=float, default=300.0, help="seconds between RSS lines")
    p.add_argument("--max-growth", type=float, default=5.0, help="allowed growth of the total RSS, percent")
    p.add_argument("--bag", default=str(REPO / "sample" / "interview"))
    p.add_argument("--log-dir", default=str(REPO / "log" / "soak"))
    args = p.parse_args()

    import rclpy

    from facecoach.graph import load_graph
    from facecoach_bag.replay import Replayer, start_pipeline
    from facecoach_cli.launcher import GraphProcesses
    from facecoach_common.qos import OBSERVER_QOS
    from facecoach_common.stamps import stamp_to_ns
    from facecoach_msgs.msg import Feedback

    graph = load_graph()
    nodes = graph.nodes_for("replay", {"alsa_device": "null"})  # the session recorder too: its memory is watched
    # ... but its hour-long session goes to a temporary FaceCoach home, not the user's.
    home = tempfile.TemporaryDirectory(prefix="facecoach-soak-")
    os.environ["FACECOACH_HOME"] = home.name
    stats = {"frames": 0, "cues": 0, "gone": 0, "warm": 0}
    first_ns = [None]
    live = [False]
    t0 = [time.monotonic()]

    def on_feedback(msg) -> None:
        if not live[0]:
            stats["warm"] += 1
            return
        if msg.reason == Feedback.REASON_CLASSIFIER_GONE:
            if not stats["frames"]:
                return  # the warm-up's settling pause, before the first frame of the soak
            stats["gone"] += 1
            print(f"[soak] {clock(time.monotonic() - t0[0])} the classifier went silent", flush=True)
            return
        stats["frames"] += 1
        ns = stamp_to_ns(msg.header.stamp)
        first_ns[0] = ns if first_ns[0] is None else first_ns[0]
        if msg.cue_played or msg.reason == Feedback.REASON_AUDIO_FAILED:
            stats["cues"] += 1
            heard = "played" if msg.cue_played else "due, not heard"
            print(
                f"[soak] {clock(time.monotonic() - t0[0])} cue {heard}: '{msg.emotion}' at "
                f"{(ns - first_ns[0]) / 1e9:.2f} s of the interview, bad share {msg.bad_share:.0%}",
                flush=True,
            )

    rclpy.init()
    node = rclpy.create_node("facecoach_soak")
    node.create_subscription(Feedback, "/facecoach/feedback", on_feedback, OBSERVER_QOS)
    try:
        with GraphProcesses(graph, nodes, log_dir=Path(args.log_dir)) as procs:
            replayer = Replayer(node, args.bag, rate=1.0, loop=True)
            if not start_pipeline(node, procs, replayer, lambda: stats["warm"], 120.0):
                print(f"[soak] the graph did not come up; see {args.log_dir}/", file=sys.stderr)
                return 1
            live[0] = True
            t0[0] = time.monotonic()
            start = rss_mb(procs.pids())
            print(
                f"[soak] {clock(0)} start, replaying {args.bag} in a loop for {args.seconds:g} s; RSS MB: "
                + ", ".join(f"{k} {v:.1f}" for k, v in start.items())
                + f"; total {sum(start.values()):.1f}",
                flush=True,
            )
            player = threading.Thread(target=replayer.play, daemon=True)
            player.start()
            end = t0[0] + args.seconds
            next_report = t0[0] + args.report_s
            while time.monotonic() < end:
                rclpy.spin_once(node, timeout_sec=0.1)
                if time.monotonic() >= next_report:
                    next_report += args.report_s
                    now = rss_mb(procs.pids())
                    print(
                        f"[soak] {clock(time.monotonic() - t0[0])} RSS MB: "
                        + ", ".join(f"{k} {v:.1f} ({v - start[k]:+.1f})" for k, v in now.items())
                        + f"; total {sum(now.values()):.1f}; {stats['frames']} frames, {stats['cues']} cues",
                        flush=True,
                    )
            last = rss_mb(procs.pids())
            replayer.stop_event.set()
            player.join(5.0)
            restarts = {k: v for k, v in procs.restarts().items() if v}
            elapsed = time.monotonic() - t0[0]
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
        home.cleanup()
    growth = (sum(last.values()) / sum(start.values()) - 1) * 100
    fps = stats["frames"] / elapsed
    print(
        f"[soak] {clock(elapsed)} end: RSS MB "
        + ", ".join(f"{k} {start[k]:.1f} -> {v:.1f} ({(v / start[k] - 1) * 100:+.1f} %)" for k, v in last.items())
        + f"; total {sum(start.values()):.1f} -> {sum(last.values()):.1f} ({growth:+.1f} %)"
    )
    print(
        f"[soak] {stats['frames']} frames coached ({fps:.1f}/s) in {replayer.published} replayed, "
        f"{stats['cues']} cues, classifier silent {stats['gone']}x, restarts {restarts or 'none'}"
    )
    ok = growth <= args.max_growth and not restarts and stats["frames"] > 0
    print(f"[soak] {'PASS' if ok else 'FAIL'}: total RSS growth {growth:+.1f} % (limit {args.max_growth:g} %)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
