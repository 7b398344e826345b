"""The default live graph (camera on a video file -> ... -> feedback) over DDS, as `facecoach run` starts it."""

import cv2
import numpy as np

from facecoach.graph import load_graph
from facecoach_cli.launcher import GraphProcesses
from facecoach_common.stopping import wait_until

FPS = 30.0


def _video(path, seconds=4.0):
    """A 640x480 video of the bundled sample interview's first seconds (real faces)."""
    from rosbags.highlevel import AnyReader

    from facecoach_common.paths import resource

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), FPS, (640, 480))
    with AnyReader([resource("facecoach_cli", "sample", "interview")]) as reader:
        for i, (conn, _t, raw) in enumerate(reader.messages()):
            if i >= seconds * FPS:
                break
            data = np.frombuffer(bytes(reader.deserialize(raw, conn.msgtype).data), np.uint8)
            writer.write(cv2.imdecode(data, cv2.IMREAD_COLOR))
    writer.release()
    return path


def _ns(header):
    return header.stamp.sec * 10**9 + header.stamp.nanosec


def test_the_default_live_graph_delivers_every_frame_in_order(ros_node, tmp_path):
    """Camera and detector share a process (no full frame crosses DDS); every face frame reaches feedback."""
    from facecoach_common.qos import OBSERVER_QOS
    from facecoach_msgs.msg import Face, Feedback

    graph = load_graph()
    nodes = graph.nodes_for("live", {"camera_source": str(_video(tmp_path / "clip.avi")), "alsa_device": "null"})
    nodes = [
        n if n.name != "camera" else n.__class__(**{**n.__dict__, "parameters": {**n.parameters, "loop": True}})
        for n in nodes
    ]
    processes = [name for name, _ in graph.processes(nodes)]
    assert processes == ["camera_detector", "emotion_classifier", "alert_player", "session_recorder"]
    faces, feedback = [], []
    ros_node.create_subscription(Face, "/facecoach/face", faces.append, OBSERVER_QOS)
    ros_node.create_subscription(Feedback, "/facecoach/feedback", feedback.append, OBSERVER_QOS)
    with GraphProcesses(graph, nodes, log_dir=tmp_path) as procs:
        assert wait_until(ros_node, lambda: len(feedback) >= 10 or bool(procs.dead()), 90), procs.dead()
        first = len(feedback)
        assert wait_until(
            ros_node, lambda: (len(feedback) >= first + 150 and len(faces) >= 60) or bool(procs.dead()), 90
        ), procs.dead()
        assert procs.dead() == {}
    stamps = [_ns(f.header) for f in feedback]
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps), "feedback out of order or repeated"
    # A video file's frames are stamped on its own timeline (frame i = first + i / fps): a gap is a lost frame.
    gaps = np.diff(stamps) * FPS / 1e9
    lost = int(np.round(gaps).sum() - len(gaps))
    assert np.allclose(gaps, np.round(gaps), atol=0.01) and lost == 0, f"{lost} of {len(stamps) + lost} frames lost"
    # This test's own Face subscription can match the detector's publisher seconds after its Feedback one
    # (discovery is per pair of endpoints); from its first face on it is reliable, so it misses none.
    seen = {_ns(f.header) for f in faces}
    assert seen, "the test never matched the detector's Face publisher"
    steady = {s for s in stamps[first:] if s >= min(seen)}
    assert len(steady) >= 50 and seen >= steady, "feedback for a frame the detector never published"
    assert sum(f.has_face for f in feedback) >= 0.9 * len(feedback), "the sample's first seconds show a face"
