"""Switching the classifier's weights while the sample interview plays (separate processes, DDS)."""

from __future__ import annotations

import threading
from pathlib import Path

from emotion_classifier.inference import available_variants
from facecoach.graph import load_graph
from facecoach_bag.replay import Replayer, start_pipeline
from facecoach_cli.launcher import GraphProcesses
from facecoach_cli.ros_calls import set_parameter
from facecoach_common.stopping import wait_until

REPO = Path(__file__).resolve().parents[1]
SAMPLE_BAG = REPO / "sample" / "interview"
FRAME_NS = 10**9 / 30


def _ns(msg) -> int:
    return msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec


def test_switch_through_every_variant_while_replaying(ros_node, tmp_path):
    from facecoach_common.qos import OBSERVER_QOS
    from facecoach_msgs.msg import Emotion, Face

    # Every variant, the ONNX one too: backend auto (the graph's) follows each variant's file.
    files = available_variants(REPO / "models") + available_variants(REPO / "models", "onnxruntime")
    variants = [v for v in files if v != "baseline"] + ["baseline"]
    assert len(variants) >= 2, "models/ should ship several variants"
    got, faces = [], []
    ros_node.create_subscription(Emotion, "/facecoach/emotion", got.append, OBSERVER_QOS)
    ros_node.create_subscription(Face, "/facecoach/face", faces.append, OBSERVER_QOS)
    graph = load_graph()
    nodes = graph.nodes_for("replay", {"alsa_device": "null"})
    acks = []  # (index in `got` when the switch was acknowledged, variant)
    with GraphProcesses(graph, nodes, log_dir=tmp_path) as procs:
        pids = procs.pids()
        replayer = Replayer(ros_node, SAMPLE_BAG)
        assert start_pipeline(ros_node, procs, replayer, lambda: len(got), 90), procs.dead()
        got.clear()
        faces.clear()
        player = threading.Thread(target=replayer.play, daemon=True)
        player.start()
        step = len(list(replayer_frames())) // (len(variants) + 1)
        for variant in variants:
            start = len(got)
            assert wait_until(ros_node, lambda start=start: len(got) >= start + step, 30), "the emotion stream stalled"
            ok, reason = set_parameter(ros_node, "/emotion_classifier", "model_variant", variant)
            assert ok, reason
            acks.append((len(got), variant))
        while player.is_alive():
            wait_until(ros_node, lambda: not player.is_alive(), 1.0)
        last_ns = _last_frame_ns()
        wait_until(ros_node, lambda: bool(got) and _ns(got[-1]) >= last_ns, 10.0)  # the last frame's emotion
        assert procs.dead() == {} and procs.pids() == pids, "the classifier restarted or died"

    # The stream (in publication order: one reliable writer) is one run of messages per variant, in the order of
    # the switches: no message of an old model after a new one's (an atomic swap), none by a half-loaded one.
    starts = [i for i, m in enumerate(got) if i == 0 or m.model_variant != got[i - 1].model_variant]
    runs = [got[i].model_variant for i in starts]
    assert runs == ["baseline"] + variants, f"variants in the stream: {runs}"
    # Each switch shows at its acknowledgement: this process may still hold a few messages the classifier
    # published before it answered (they arrive in order, after the answer), never more than a queue's worth.
    for (index, variant), start in zip(acks, starts[1:]):
        assert start - index <= 10, f"{variant}: {start - index} messages of the old model after the acknowledgement"
    # No face is lost to a switch: each one the detector published within half a second of an acknowledgement
    # has its emotion. (Frames the camera link drops before the detector, a best-effort queue of 2 that any
    # stalled process on a 2-core machine overflows, are no Face and no concern of the classifier's.)
    stamps = [_ns(m) for m in got]
    answered = set(stamps)
    face_stamps = [_ns(f) for f in faces]
    for index, variant in acks:
        at = stamps[min(index, len(stamps) - 1)]
        near = [s for s in face_stamps if abs(s - at) <= 15 * FRAME_NS]
        lost = [s for s in near if s not in answered]
        assert len(near) >= 10, f"{variant}: only {len(near)} faces within half a second of the switch"
        assert not lost, f"{variant}: {len(lost)} of {len(near)} faces around the switch got no emotion\n" + _loads(
            tmp_path
        )


def _loads(log_dir: Path) -> str:
    """The classifier's log lines about its loads (how long each took), for a failure's message."""
    lines = [
        line for f in sorted(log_dir.rglob("*")) if f.is_file() for line in f.read_text(errors="replace").splitlines()
    ]
    return "\n".join(line for line in lines if "loaded " in line or "switched " in line)


def replayer_frames():
    from facecoach_bag.reader import messages

    return messages(SAMPLE_BAG)


def _last_frame_ns() -> int:
    """The header stamp of the bag's last frame (its Emotion carries it)."""
    from rclpy.serialization import deserialize_message

    from facecoach_bag.schema import ros_class

    *_, (_topic, msgtype, _t_ns, raw) = replayer_frames()
    return _ns(deserialize_message(raw, ros_class(msgtype)))
