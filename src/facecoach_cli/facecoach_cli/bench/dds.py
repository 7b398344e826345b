"""Measurements over DDS: replays through a running graph (separate processes, then one process), memory, switches."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Sequence

import numpy as np

from .frames import Frame, frame_rate

log = logging.getLogger(__name__)


@dataclass
class GraphRun:
    """One replay through a running graph: publish and arrival times per stamp, and the feedback messages."""

    rate: float
    sent: Dict[int, float] = field(default_factory=dict)
    arrived: Dict[int, float] = field(default_factory=dict)
    feedback: Dict[int, Any] = field(default_factory=dict)
    bag_fps: float = 0.0
    warm: int = 0  # warm-up feedback received

    def result(self) -> Dict[str, Any]:
        """Realtime factor, drops and end-to-end latency of this run."""
        lat = [(self.arrived[s] - self.sent[s]) * 1e3 for s in self.arrived if s in self.sent]
        times = sorted(self.arrived.values())
        fps = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 and times[-1] > times[0] else 0.0
        return {
            "rate": self.rate,
            "replayed": len(self.sent),
            "received": len(self.arrived),
            "dropped": len(self.sent) - len(self.arrived),
            "processed_fps": round(fps, 2),
            "realtime_factor": round(fps / self.bag_fps, 3) if self.bag_fps else None,
            "e2e_latency_ms": {
                "p50": round(float(np.percentile(lat, 50)), 2),
                "p99": round(float(np.percentile(lat, 99)), 2),
            }
            if lat
            else None,
        }


def replay_through(
    node, procs, bag, topic: str, frames: Sequence[Frame], rate: float, timeout: float = 120.0
) -> GraphRun:
    """Replay the frames through a running graph (``procs``) and collect /facecoach/feedback per stamp."""
    from facecoach.graph import LaunchError
    from facecoach_bag.replay import Replayer, play_and_drain, start_pipeline
    from facecoach_common.qos import OBSERVER_QOS
    from facecoach_common.stamps import stamp_to_ns
    from facecoach_msgs.msg import Feedback

    run = GraphRun(rate=rate, bag_fps=frame_rate(frames))
    stamps = {f.stamp_ns for f in frames}

    def on_feedback(msg) -> None:
        stamp = stamp_to_ns(msg.header.stamp)
        if stamp not in stamps:  # the warm-up's, stamped before the bag
            run.warm += 1
            return
        run.arrived[stamp] = time.monotonic()
        run.feedback[stamp] = msg

    def on_send(i: int) -> None:
        run.sent[frames[i].stamp_ns] = time.monotonic()

    sub = node.create_subscription(Feedback, "/facecoach/feedback", on_feedback, OBSERVER_QOS)
    preloaded = [(topic, f.t_ns, f.raw) for f in frames]
    replayer = Replayer(node, bag, rate=rate, topics=[topic], preloaded=preloaded, on_send=on_send)
    try:
        if not start_pipeline(node, procs, replayer, lambda: run.warm, timeout):
            raise LaunchError(f"the graph did not come up in {timeout} s (exited: {procs.dead()})")
        play_and_drain(node, replayer, lambda: len(run.arrived))
    finally:
        for pub in replayer.publishers.values():
            node.destroy_publisher(pub)
        node.destroy_subscription(sub)
    return run


def rss_mb(pids: Dict[str, int]) -> Dict[str, float]:
    """Resident memory of each process, MB."""
    import psutil

    return {name: round(psutil.Process(pid).memory_info().rss / 2**20, 1) for name, pid in pids.items()}


def switch_times(node, variants: Sequence[str], back_to: str, target: str = "/emotion_classifier") -> Dict[str, Any]:
    """Milliseconds until the classifier accepted each variant (it loads the weights before answering)."""
    from ..ros_calls import set_parameter

    out: Dict[str, Any] = {}
    for v in [v for v in variants if v != back_to] + [back_to]:
        t0 = time.monotonic()
        ok, reason = set_parameter(node, target, "model_variant", v, timeout=60.0)
        out[v] = round((time.monotonic() - t0) * 1e3, 1) if ok else f"refused: {reason}"
    return out


def graph_benchmark(
    args, bag, topic: str, frames: Sequence[Frame], variants: Sequence[str], variant: str, log_dir: Path
) -> Dict[str, Any]:
    """Separate processes (1x, then fast) with memory and model switches, then single-process mode."""
    from facecoach.graph import load_graph

    from ..launcher import GraphProcesses, SingleProcess
    from ..ros_calls import command_node

    graph = load_graph()
    nodes = graph.nodes_for("replay", {"alsa_device": "null", "model_variant": variant, "record_session": "false"})
    out: Dict[str, Any] = {}
    with command_node("facecoach_bench") as node:
        for mode, factory in (("separate", GraphProcesses), ("single_process", SingleProcess)):
            res: Dict[str, Any] = {}
            with factory(graph, nodes, log_dir=log_dir / mode) as procs:
                # "cold": the first seconds after start, reported apart; the node processes' first frames run
                # slower (measured: the separate classifier lost half of its first 300 frames on an idle machine).
                cold = frames[: args.cold_frames]
                for label, rate, fr in (("cold_1x", 1.0, cold), ("1x", 1.0, frames), ("max", args.max_rate, frames)):
                    if not fr:
                        continue
                    log.info(f"{mode}: replaying {len(fr)} frames at {rate}x ({label})")
                    res[label] = replay_through(node, procs, bag, topic, fr, rate, args.timeout).result()
                res["rss_mb"] = rss_mb(procs.pids())
                if mode == "separate" and len(variants) > 1:
                    log.info(f"switching model_variant through {', '.join(variants)}")
                    res["switch_ms"] = switch_times(node, variants, variant)
                res["dead"] = procs.dead()
            out[mode] = res
    return out
