"""Single-process mode gives the same feedback stream as the separate-process graph (sample bag, DDS, ~60 s)."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
SAMPLE_BAG = REPO / "sample" / "interview"


@pytest.fixture(scope="module", autouse=True)
def private_domain():
    """A DDS domain of this test's own, so parallel graphs on the machine never mix with it."""
    old = {k: os.environ.get(k) for k in ("ROS_DOMAIN_ID", "ROS_AUTOMATIC_DISCOVERY_RANGE")}
    os.environ["ROS_DOMAIN_ID"] = str(random.Random(os.getpid() + 7).randint(150, 230))
    os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    yield
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(scope="module")
def frames():
    from facecoach_cli.bench.frames import load_frames

    return load_frames(SAMPLE_BAG)


def _stream(factory, frames, log_dir):
    import rclpy

    from facecoach.graph import load_graph
    from facecoach_cli.bench.dds import replay_through

    topic, fr = frames
    graph = load_graph()
    nodes = graph.nodes_for("replay", {"alsa_device": "null", "record_session": "false"})  # as the bench runs it
    rclpy.init()
    node = rclpy.create_node("facecoach_test_single")
    try:
        with factory(graph, nodes, log_dir=log_dir) as procs:
            pids = procs.pids()
            run = replay_through(node, procs, SAMPLE_BAG, topic, fr, rate=1.0)
            assert procs.dead() == {}, f"a node died: {procs.dead()}"
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    return pids, run


def test_single_process_matches_separate_processes(frames, tmp_path):
    from facecoach.graph import PROCESS_NAME
    from facecoach_cli.launcher import GraphProcesses, SingleProcess

    sep_pids, sep = _stream(GraphProcesses, frames, tmp_path / "separate")
    one_pids, one = _stream(SingleProcess, frames, tmp_path / "single")
    assert set(sep_pids) == {"face_detector", "emotion_classifier", "alert_player"}
    assert list(one_pids) == [PROCESS_NAME]

    n = len(frames[1])
    # Both keep up with the bag at 1x (best-effort images may lose the odd frame on a loaded machine).
    assert len(one.feedback) >= 0.97 * n
    assert len(sep.feedback) >= 0.97 * n
    common = sorted(set(sep.feedback) & set(one.feedback))
    assert len(common) >= 0.95 * n
    # The same computation on the same frames. Not bit for bit: the fast detector's full-frame search every
    # N frames falls on other frames when the warm-up took another number of frames, which moves a box by
    # a pixel or two and can flip a borderline face's label. So: the same decisions on nearly every frame.
    key = lambda m: (m.has_face, m.emotion, m.category, m.category_name, m.model_variant)  # noqa: E731
    differ = [s for s in common if key(sep.feedback[s]) != key(one.feedback[s])]
    assert len(differ) <= 0.03 * len(common), f"{len(differ)} of {len(common)} frames differ, first {differ[:3]}"
    cues = [sorted(s for s, m in run.feedback.items() if m.cue_played) for run in (sep, one)]
    assert len(cues[0]) == len(cues[1]) >= 2, cues
    assert all(abs(a - b) <= 0.2e9 for a, b in zip(*cues)), cues
    assert any(m.has_face for m in one.feedback.values()) and any(not m.has_face for m in one.feedback.values())
