"""The live graph's start-up stall: worst feedback latency in its first seconds, with the observer on either profile.

Each run starts the default live graph (camera on a looping video of the sample interview, as `facecoach bench`
runs it) and an observing participant in a fresh process, and records how late each Feedback arrives from the
first one on (latency: arrival minus the camera's stamp). Runs alternate between an observer on Fast DDS's
default profile (a participant announces itself every 3 s) and one on FaceCoach's config/fastdds.xml (every
0.25 s), which the `facecoach` command now gives its own participant as it gives every node process.

    source env.sh && python tools/live_startup_stall.py --runs 12
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MODES = ("default", "facecoach")
LATE_MS = 100.0  # a frame this late is a stall (steady-state p99 is 13-20 ms on this machine)


def one_run(observer_profile: str, seconds: float) -> dict:
    """One live graph run; the worst latency (ms) after the first feedback, and when (s after the graph started)."""
    from facecoach.dds import PROFILE_VARIABLES, profile_environment

    for name in PROFILE_VARIABLES:
        os.environ.pop(name, None)  # the node processes get the profile from the launcher either way
    if observer_profile == "facecoach":
        os.environ.update(profile_environment())

    from facecoach.graph import load_graph
    from facecoach_cli.bench.frames import frame_rate, load_frames
    from facecoach_cli.bench.live import live_nodes, write_video
    from facecoach_cli.launcher import GraphProcesses
    from facecoach_cli.ros_calls import command_node
    from facecoach_common.qos import OBSERVER_QOS
    from facecoach_common.stamps import stamp_to_ns
    from facecoach_common.stopping import wait_until
    from facecoach_msgs.msg import Feedback

    _, frames = load_frames(REPO / "sample" / "interview")
    fps = frame_rate(frames) or 30.0
    arrived = {}
    with tempfile.TemporaryDirectory(prefix="facecoach-stall-") as tmp:
        video = write_video(frames, Path(tmp) / "camera.avi", fps)
        graph = load_graph()
        nodes = live_nodes(graph, video, fps)
        with command_node("facecoach_stall_observer") as node:
            node.create_subscription(
                Feedback,
                "/facecoach/feedback",
                lambda m: arrived.setdefault(stamp_to_ns(m.header.stamp), time.time()),
                OBSERVER_QOS,
            )
            with GraphProcesses(graph, nodes, log_dir=Path(tmp) / "log") as procs:
                started = time.time()
                if not wait_until(node, lambda: bool(arrived) or bool(procs.dead()), 120.0):
                    raise RuntimeError("the live graph did not come up in 120 s")
                first = time.time()
                wait_until(node, lambda: time.time() > first + seconds or bool(procs.dead()), seconds + 5.0)
    late = {s: (a - s / 1e9) * 1e3 for s, a in arrived.items()}
    worst = max(late, key=late.get)
    return {
        "observer_profile": observer_profile,
        "first_feedback_s": round(first - started, 2),
        "frames": len(late),
        "max_ms": round(late[worst], 1),
        "max_at_s": round(worst / 1e9 - started, 2),
    }


def main() -> int:
    """Alternate runs of both observer profiles, each in a fresh process (Fast DDS reads its profile once)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=12, help="runs per observer profile")
    p.add_argument("--seconds", type=float, default=8.0, help="seconds watched after the first feedback")
    p.add_argument("--one-run", choices=MODES, help=argparse.SUPPRESS)
    args = p.parse_args()
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    if args.one_run:
        print(json.dumps(one_run(args.one_run, args.seconds)), flush=True)
        return 0
    stalls = {m: [] for m in MODES}
    for i in range(args.runs):
        for mode in MODES:
            cmd = [sys.executable, __file__, "--one-run", mode, "--seconds", str(args.seconds)]
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
            lines = [x for x in out.stdout.splitlines() if x.startswith("{")]
            if out.returncode or not lines:
                print(f"  run {i + 1} ({mode} observer) failed: {out.stderr.strip()[-500:]}", flush=True)
                continue
            r = json.loads(lines[-1])
            print(
                f"  run {i + 1}, observer on the {mode} profile: first feedback {r['first_feedback_s']:.2f} s after "
                f"the start; worst of {r['frames']} frames {r['max_ms']:.1f} ms late at {r['max_at_s']:.2f} s",
                flush=True,
            )
            if r["max_ms"] >= LATE_MS:
                stalls[mode].append(r)
    for mode in MODES:
        at = ", ".join(f"{r['max_ms']:.0f} ms at {r['max_at_s']:.2f} s" for r in stalls[mode]) or "none"
        print(
            f"observer on the {mode} profile: {len(stalls[mode])} of {args.runs} runs "
            f"had a frame >= {LATE_MS:g} ms late: {at}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
