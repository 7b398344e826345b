"""The live camera graph in its default configuration, over DDS: a video of the bag's frames as the camera.

The camera stamps a video file's frames on the file's own timeline (frame i = first + i / fps), so over a
steady window the frames that came out of the far end (feedback) are counted against those that went in,
and the latency runs from each frame's stamp to its feedback's arrival.
"""

import logging
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Dict, Sequence

import numpy as np

from .frames import Frame, frame_rate

log = logging.getLogger(__name__)


def write_video(frames: Sequence[Frame], path: Path, fps: float) -> Path:
    """The bag's frames as an MJPG video (what a camera would deliver)."""
    import cv2

    from facecoach_common.image_conversions import frame_to_bgr

    first = frame_to_bgr(frames[0].msg)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (first.shape[1], first.shape[0]))
    for f in frames:
        writer.write(frame_to_bgr(f.msg))
    writer.release()
    return path


def live_nodes(graph, video: Path, fps: float) -> list:
    """The default live graph's nodes with the camera on ``video``, looping at ``fps``; silent, nothing recorded."""
    nodes = graph.nodes_for("live", {"camera_source": str(video), "alsa_device": "null", "record_session": "false"})
    return [replace(n, parameters=dict(n.parameters, loop=True, fps=fps)) if n.name == "camera" else n for n in nodes]


def live_graph_run(frames: Sequence[Frame], log_dir: Path, seconds: float = 20.0, timeout: float = 120.0):
    """Run the default live graph on a looping video of ``frames`` for ``seconds`` after its first feedback."""
    from facecoach.graph import LaunchError, load_graph
    from facecoach_common.qos import OBSERVER_QOS
    from facecoach_common.stamps import stamp_to_ns
    from facecoach_common.stopping import wait_until
    from facecoach_msgs.msg import Feedback

    from ..launcher import GraphProcesses
    from ..ros_calls import command_node

    fps = frame_rate(frames) or 30.0
    arrived: Dict[int, float] = {}
    with tempfile.TemporaryDirectory(prefix="facecoach-bench-live-") as tmp:
        video = write_video(frames, Path(tmp) / "camera.avi", fps)
        graph = load_graph()
        nodes = live_nodes(graph, video, fps)

        def on_feedback(msg) -> None:
            arrived[stamp_to_ns(msg.header.stamp)] = time.time()  # the camera stamps with the system clock

        with command_node("facecoach_bench_live") as node:
            node.create_subscription(Feedback, "/facecoach/feedback", on_feedback, OBSERVER_QOS)
            with GraphProcesses(graph, nodes, log_dir=log_dir) as procs:
                if not wait_until(node, lambda: len(arrived) > 0 or bool(procs.dead()), timeout):
                    raise LaunchError(f"the live graph did not come up in {timeout} s (exited: {procs.dead()})")
                settle = time.monotonic() + 2.0  # discovery and the classifier's first frames
                wait_until(node, lambda: time.monotonic() > settle, 3.0)
                arrived.clear()
                end = time.monotonic() + seconds
                wait_until(node, lambda: time.monotonic() > end or bool(procs.dead()), seconds + 5.0)
                dead = procs.dead()
    stamps = sorted(arrived)
    if len(stamps) < 2:
        return {"frames_in": 0, "frames_out": len(stamps), "dropped": None, "e2e_latency_ms": None, "dead": dead}
    frames_in = int(round((stamps[-1] - stamps[0]) * fps / 1e9)) + 1
    lat = [(arrived[s] - s / 1e9) * 1e3 for s in stamps]
    out_fps = (len(stamps) - 1) / ((stamps[-1] - stamps[0]) / 1e9)
    worst = int(np.argmax(lat))  # where the tail is: one stall, or spread over the run
    return {
        "fps_in": round(fps, 2),
        "fps_out": round(out_fps, 2),
        "frames_in": frames_in,
        "frames_out": len(stamps),
        "dropped": frames_in - len(stamps),
        "e2e_latency_ms": {
            "p50": round(float(np.percentile(lat, 50)), 2),
            "p99": round(float(np.percentile(lat, 99)), 2),
            "max": round(lat[worst], 2),
            "max_at_s": round((stamps[worst] - stamps[0]) / 1e9, 2),
        },
        "processes": [name for name, _ in graph.processes(nodes)],
        "dead": dead,
    }
