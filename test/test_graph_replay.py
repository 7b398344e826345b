"""The whole graph as separate processes over DDS, fed by the bundled sample interview."""

from __future__ import annotations

import json

import pytest
from pathlib import Path
from facecoach.bags import messages
from facecoach.graph import load_graph
from facecoach.launcher import GraphProcesses
from facecoach.ros_tools import Replayer, play_and_drain, start_pipeline

RATE = 1.0
REPO = Path(__file__).resolve().parents[1]
SAMPLE_BAG = REPO / "sample" / "interview"


def _ns(header) -> int:
    return header.stamp.sec * 10**9 + header.stamp.nanosec


@pytest.fixture(scope="module")
def bag_stamps():
    from rclpy.serialization import deserialize_message
    from sensor_msgs.msg import CompressedImage

    return [_ns(deserialize_message(raw, CompressedImage).header) for _, _, _, raw in messages(SAMPLE_BAG)]


def test_sample_interview_flows_through_the_graph(ros_node, bag_stamps, tmp_path):
    from facecoach_msgs.msg import Emotion, Face, Feedback
    from face_detector.qos import STREAM_QOS

    got = {"face": [], "emotion": [], "feedback": []}
    for name, cls in (("face", Face), ("emotion", Emotion), ("feedback", Feedback)):
        ros_node.create_subscription(cls, f"/facecoach/{name}", got[name].append, STREAM_QOS)
    graph = load_graph()
    nodes = graph.nodes_for("replay", {"alsa_device": "null"})
    with GraphProcesses(graph, nodes, log_dir=tmp_path) as procs:
        pids = procs.pids()
        replayer = Replayer(ros_node, SAMPLE_BAG, rate=RATE)
        assert start_pipeline(ros_node, procs, replayer, lambda: len(got["feedback"]), 90), procs.dead()
        for v in got.values():
            v.clear()  # drop the warm-up frame
        play_and_drain(ros_node, replayer, lambda: len(got["feedback"]))
        assert procs.dead() == {}, "a node died"
        assert procs.pids() == pids
    assert replayer.published == len(bag_stamps)

    stamps = {k: [_ns(m.header) for m in v] for k, v in got.items()}
    for kind, seq in stamps.items():
        assert seq == sorted(seq), f"{kind} messages out of order"
        assert set(seq) <= set(bag_stamps), f"{kind} carries stamps that are not the frames'"
    # Best-effort image transport may drop a frame under load, but not many; every stage passes each on.
    assert len(stamps["feedback"]) >= 0.9 * len(bag_stamps)
    assert set(stamps["feedback"]) <= set(stamps["emotion"]) <= set(stamps["face"])
    by_stamp = {_ns(m.header): m for m in got["emotion"]}
    for fb in got["feedback"]:
        em = by_stamp[_ns(fb.header)]
        assert (fb.emotion, fb.has_face, fb.model_variant) == (em.label, em.has_face, em.model_variant)

    table = json.loads((REPO / "sample" / "interview.segments.json").read_text())
    t0 = bag_stamps[0]
    no_face = [s for s in table["segments"] if s["emotion"] is None]
    for fb in got["feedback"]:
        t = (_ns(fb.header) - t0) / 1e9
        inside = [s for s in no_face if s["start_s"] + 0.2 <= t <= s["end_s"] - 0.2]
        if inside:
            assert not fb.has_face and fb.reason == Feedback.REASON_NO_FACE
