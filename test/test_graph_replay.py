"""The whole graph as separate processes over DDS, fed by the bundled sample interview."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from facecoach.graph import load_graph
from facecoach_bag.reader import messages
from facecoach_bag.replay import Replayer, play_and_drain, start_pipeline
from facecoach_cli.launcher import GraphProcesses

RATE = 1.0
REPO = Path(__file__).resolve().parents[1]
SAMPLE_BAG = REPO / "sample" / "interview"


def _ns(header) -> int:
    return header.stamp.sec * 10**9 + header.stamp.nanosec


def _replayed(msgs, first_ns: int):
    """The messages of the replayed frames: without those of the warm-up copies, stamped before the bag."""
    return [m for m in msgs if _ns(m.header) >= first_ns]


@pytest.fixture(scope="module")
def bag_stamps():
    from rclpy.serialization import deserialize_message
    from sensor_msgs.msg import CompressedImage

    return [_ns(deserialize_message(raw, CompressedImage).header) for _, _, _, raw in messages(SAMPLE_BAG)]


def test_sample_interview_flows_through_the_graph(ros_node, bag_stamps, tmp_path):
    from facecoach_common.qos import OBSERVER_QOS
    from facecoach_msgs.msg import Emotion, Face, Feedback

    got = {"face": [], "emotion": [], "feedback": []}
    for name, cls in (("face", Face), ("emotion", Emotion), ("feedback", Feedback)):
        ros_node.create_subscription(cls, f"/facecoach/{name}", got[name].append, OBSERVER_QOS)
    graph = load_graph()
    nodes = graph.nodes_for("replay", {"alsa_device": "null"})
    with GraphProcesses(graph, nodes, log_dir=tmp_path) as procs:
        pids = procs.pids()
        replayer = Replayer(ros_node, SAMPLE_BAG, rate=RATE)
        # Warm up until every watched stream has delivered: each reader matches its writer on its own.
        assert start_pipeline(ros_node, procs, replayer, lambda: min(map(len, got.values())), 90), procs.dead()
        play_and_drain(ros_node, replayer, lambda: len(got["feedback"]))
        assert procs.dead() == {}, "a node died"
        assert procs.pids() == pids
    assert replayer.published == len(bag_stamps)

    got = {k: _replayed(v, bag_stamps[0]) for k, v in got.items()}
    stamps = {k: [_ns(m.header) for m in v] for k, v in got.items()}
    for kind, seq in stamps.items():
        assert seq == sorted(seq), f"{kind} messages out of order"
        assert set(seq) <= set(bag_stamps), f"{kind} carries stamps that are not the frames'"
    # Best-effort image transport may drop a frame under load, but not many; every stage passes each on
    # (this test watches with a deep reader queue, OBSERVER_QOS, so it misses nothing itself).
    assert len(stamps["feedback"]) >= 0.97 * len(bag_stamps)
    for later, earlier in (("feedback", "emotion"), ("emotion", "face")):
        missing = set(stamps[later]) - set(stamps[earlier])
        assert not missing, f"{len(missing)} {later} messages for frames with no {earlier} message"
    # A stage loses nothing (1 % slack for a reliable queue overrun on an overloaded machine).
    assert len(stamps["feedback"]) >= 0.99 * len(stamps["face"]), "a stage lost messages"
    by_stamp = {_ns(m.header): m for m in got["emotion"]}
    for fb in got["feedback"]:
        em = by_stamp.get(_ns(fb.header))
        if em is None:
            continue
        assert (fb.emotion, fb.has_face, fb.model_variant) == (em.label, em.has_face, em.model_variant)

    table = json.loads((REPO / "sample" / "interview.segments.json").read_text())
    t0 = bag_stamps[0]
    # The cues: with the default mapping, exactly one per bad stretch (sad, fear), inside it.
    bad = [s for s in table["segments"] if s["emotion"] in ("sad", "fear")]
    cues = [(_ns(m.header) - t0) / 1e9 for m in got["feedback"] if m.cue_played]
    assert len(cues) == len(bad), f"cues at {cues} s for bad stretches {bad}"
    for t, seg in zip(cues, bad):
        assert seg["start_s"] < t <= seg["end_s"], f"cue at {t:.2f} s outside {seg}"
    no_face = [s for s in table["segments"] if s["emotion"] is None]
    for fb in got["feedback"]:
        t = (_ns(fb.header) - t0) / 1e9
        inside = [s for s in no_face if s["start_s"] + 0.2 <= t <= s["end_s"] - 0.2]
        if inside:
            assert not fb.has_face and fb.reason == Feedback.REASON_NO_FACE


def test_eval_bag_takes_the_live_graphs_decisions(ros_node, tmp_path):
    """`facecoach eval-bag` (in process, no DDS) labels and cues the sample like the live graph at 1x."""
    from facecoach_cli.commands.session import main as session_main
    from facecoach_cli.eval_results import read_jsonl
    from facecoach_common.qos import OBSERVER_QOS
    from facecoach_msgs.msg import Feedback

    out = tmp_path / "eval.jsonl"
    assert session_main(["eval-bag", str(SAMPLE_BAG), "--variant", "baseline", "--out", str(out), "--no-progress"]) == 0
    offline = {line["stamp_ns"]: line for line in read_jsonl(out) if line.get("stamp_ns")}

    live = []
    ros_node.create_subscription(Feedback, "/facecoach/feedback", live.append, OBSERVER_QOS)
    graph = load_graph()
    with GraphProcesses(graph, graph.nodes_for("replay", {"alsa_device": "null"}), log_dir=tmp_path) as procs:
        replayer = Replayer(ros_node, SAMPLE_BAG, rate=1.0)
        assert start_pipeline(ros_node, procs, replayer, lambda: len(live), 90), procs.dead()
        play_and_drain(ros_node, replayer, lambda: len(live))
    live = _replayed(live, min(offline))
    assert len(live) >= 0.97 * len(offline)
    same_label = sum(offline[_ns(m.header)]["label"] == m.emotion for m in live)
    assert same_label >= 0.98 * len(live), f"labels agree on {same_label}/{len(live)} frames"
    live_cues = [_ns(m.header) for m in live if m.cue_played]
    offline_cues = [s for s, line in offline.items() if line["cue"]]
    assert len(live_cues) == len(offline_cues)
    for a, b in zip(live_cues, offline_cues):
        assert abs(a - b) <= 0.2e9, "a cue more than 0.2 s away from eval-bag's"
