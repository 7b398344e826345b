"""A bag's replay and a video file's camera announce their end on /facecoach/stream_end (latched), as
separate processes over DDS, so that the alert node tells the silence after them as the end (issue 23)."""

import subprocess
import threading
from pathlib import Path

import cv2
import numpy as np
from std_msgs.msg import Header

from facecoach.graph import load_graph
from facecoach_cli.launcher import GraphProcesses
from facecoach_common.qos import STATE_QOS
from facecoach_common.stopping import wait_until

REPO = Path(__file__).resolve().parents[1]
TOPIC = "/facecoach/stream_end"


def _video(path, frames=30):
    """A second of plain 640x480 frames (the camera needs no face to play a file to its end)."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (640, 480))
    for i in range(frames):
        writer.write(np.full((480, 640, 3), i * 8 % 256, np.uint8))
    writer.release()
    return path


def _notices(node):
    got = []
    node.create_subscription(Header, TOPIC, got.append, STATE_QOS)
    return got


def test_facecoach_replay_announces_the_end_of_the_bag(ros_node, tmp_path):
    from sensor_msgs.msg import CompressedImage

    got = _notices(ros_node)
    # The replay waits (--wait) for a subscriber of its topics: this one, so it has found this node before it
    # plays (its end notice is latched, but only while `replay` runs).
    ros_node.create_subscription(CompressedImage, "/camera/image_raw/compressed", lambda _: None, 10)
    proc = subprocess.Popen(
        [
            str(REPO / "bin" / "facecoach"),
            "replay",
            str(REPO / "sample" / "interview"),
            "--rate",
            "20",
            "--wait",
            "60",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    done = threading.Event()
    threading.Thread(target=lambda: (proc.wait(), done.set()), daemon=True).start()
    try:
        assert wait_until(ros_node, lambda: got or done.is_set(), 120), "replay neither ended nor said so"
        assert wait_until(ros_node, lambda: bool(got), 5), f"no end notice; replay said: {proc.stderr.read()}"
        assert got[0].frame_id.endswith("interview")
    finally:
        proc.kill()
        proc.wait()


def test_the_camera_announces_the_end_of_a_video_file_once(ros_node, tmp_path):
    got = _notices(ros_node)
    graph = load_graph()
    video = str(_video(tmp_path / "clip.avi"))
    nodes = [n for n in graph.nodes_for("live", {"camera_source": video}) if n.name == "camera"]
    with GraphProcesses(graph, nodes, log_dir=tmp_path) as procs:
        assert wait_until(ros_node, lambda: bool(got), 60), "the camera never said its video file ended"
        assert got[0].frame_id == "camera" and procs.dead() == {}
    assert len(got) == 1
