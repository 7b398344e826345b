"""The bench JSON on a tiny in-process run, and the pure helpers behind its numbers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from face_detector.detector import FaceBox
from facecoach_cli.bench.command import main
from facecoach_cli.bench.dds import GraphRun
from facecoach_cli.bench.detector import recall_vs_naive
from facecoach_cli.bench.frames import summary
from facecoach_cli.bench.targets import check_targets, format_table

REPO = Path(__file__).resolve().parents[3]
STAGE = {"median", "p99", "n"}


@pytest.fixture(scope="module")
def doc(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench") / "bench.json"
    assert main(["--json", str(out), "--frames", "24", "--no-graph"]) == 0
    return json.loads(out.read_text())


def test_bench_json_schema(doc):
    assert doc["frames"] == 24 and doc["bag_fps"] == pytest.approx(30.0, rel=0.01)
    st = doc["stages_ms"]
    for k in ("decode", "detect", "detect_naive", "publish"):
        assert set(st[k]) == STAGE and st[k]["median"] > 0 and st[k]["p99"] >= st[k]["median"]
    assert "baseline" in st["classify"] and set(st["classify"]["baseline"]) == STAGE
    for k in ("pipeline_fps", "naive_fps", "speedup_vs_naive", "int8_native_speedup"):
        assert isinstance(doc[k], float) and doc[k] > 0, k
    assert doc["face_recall_vs_naive"] >= 0.9  # the sample's first frames: the same face both ways
    assert doc["speedup_vs_naive"] == pytest.approx(doc["pipeline_fps"] / doc["naive_fps"], rel=0.01)
    assert doc["threads"] == {"cv2": 1, "torch": 1}
    for k in ("realtime_factor", "dropped_frames", "e2e_latency_ms", "rss_mb", "switch_ms", "live_graph"):
        assert k in doc and doc[k] is None  # --no-graph
    assert set(doc["targets"]) == {
        "speedup_vs_naive",
        "face_recall_vs_naive",
        "pipeline_fps",
        "realtime_factor_1x",
        "dropped_frames_1x",
        "e2e_latency_p99_ms",
        "int8_native_speedup",
        "single_process_rss_saving",
        "live_dropped_frames",
        "live_e2e_latency_p99_ms",
        "onnx_fp32_vs_torch",
        "onnx_int8_speedup",
    }
    be = doc["backends"]
    assert set(be["torch"]) >= {"baseline", "int8", "int8_native"} and set(be["onnxruntime"]) >= {"baseline", "int8"}
    assert "int8_native" not in be["onnxruntime"]  # PyTorch's integer modules have no ONNX form
    assert be["onnx_fp32_vs_torch"] == pytest.approx(be["onnxruntime"]["baseline"] / be["torch"]["baseline"], rel=0.01)
    table = format_table(doc)
    assert "pipeline_fps" in table and "ESTIMATE" in table and "onnxruntime" in table


def test_graph_run_numbers():
    run = GraphRun(rate=1.0, bag_fps=30.0)
    for i in range(31):
        run.sent[i] = i / 30
        if i != 30:
            run.arrived[i] = i / 30 + 0.010
    r = run.result()
    assert (r["replayed"], r["received"], r["dropped"]) == (31, 30, 1)
    assert r["realtime_factor"] == pytest.approx(1.0, abs=0.01)
    assert r["e2e_latency_ms"]["p50"] == pytest.approx(10.0, abs=0.01)


def test_recall_and_summary():
    a, b = FaceBox(0, 0, 100, 100), FaceBox(10, 10, 100, 100)
    r = recall_vs_naive([a, None, a, a], [b, b, None, FaceBox(300, 300, 50, 50)])
    assert (r["naive_face_frames"], r["matched"], r["fast_only_frames"], r["recall"]) == (3, 1, 1, 0.3333)
    assert (r["fast_not_found"], r["naive_small_box_inside_fast_face"]) == (1, 0)
    assert summary([]) == {"median": None, "p99": None, "n": 0}
    assert summary([1.0, 2.0, 3.0])["median"] == 2.0


def test_targets_with_graph_numbers(doc):
    full = dict(
        doc,
        realtime_factor={"1x": 0.999, "max": 2.0, "max_rate": 10.0},
        dropped_frames={"1x": 0, "max": 9},
        e2e_latency_ms={"p50": 12.0, "p99": 60.0},
        switch_ms={},
        rss_mb={
            "face_detector": 100.0,
            "separate_total": 400.0,
            "single_process": 300.0,
            "single_process_saving": 0.25,
        },
        single_process={
            "1x": {"realtime_factor": 1.0, "dropped": 0, "e2e_latency_ms": None},
            "max": {"realtime_factor": 1.5, "dropped": 5},
        },
        live_graph={
            "fps_in": 30.0,
            "fps_out": 30.0,
            "frames_in": 600,
            "frames_out": 600,
            "dropped": 0,
            "e2e_latency_ms": {"p50": 9.0, "p99": 95.0, "max": 300.0, "max_at_s": 0.0},
            "processes": ["camera_detector", "emotion_classifier", "alert_player"],
        },
    )
    t = check_targets(full)
    assert t["realtime_factor_1x"]["met"] and t["dropped_frames_1x"]["met"]
    assert t["e2e_latency_p99_ms"]["met"] is False and t["single_process_rss_saving"]["met"] is False
    full["targets"] = t
    assert t["live_e2e_latency_p99_ms"]["met"] is False and t["live_dropped_frames"]["met"]
    table = format_table(full)
    assert "NO" in table and "p99 95.0 ms, max 300.0 ms (0.0 s into the run)" in table
