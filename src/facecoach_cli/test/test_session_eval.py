"""eval-bag: the in-process pipeline over bags (the sample interview, and small broken bags made here)."""

import json
import math
import os
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from alert_player.config import AlertConfig
from alert_player.mapping import DEFAULT_MAPPING
from alert_player.policy import PolicyConfig
from face_detector.detector import DetectorConfig, FaceDetector
from facecoach_bag.schema import typestore
from facecoach_bag.writer import BagWriter
from facecoach_cli.commands.session import eval_bag, main
from facecoach_cli.eval_results import read_jsonl, variant_out
from facecoach_cli.pipeline import Pipeline, settings_from_graph, stamp_seconds

REPO = Path(__file__).resolve().parents[3]
SAMPLE = REPO / "sample" / "interview"
MODELS = REPO / "models"
FPS_NS = 10**9 / 30
KEYS = {"stamp_ns", "face", "roi", "label", "confidence", "probabilities", "category", "cue", "reason", "bad_share"}
KEYS |= {"bad_probability", "bad_frame"}

needs_sample = pytest.mark.skipif(
    not (SAMPLE / "metadata.yaml").is_file() or not (MODELS / "baseline.safetensors").is_file(),
    reason="sample/interview or models/baseline.safetensors missing",
)


@pytest.fixture(scope="module")
def sample_results(tmp_path_factory):
    out = tmp_path_factory.mktemp("eval") / "results.jsonl"
    code = eval_bag(SAMPLE, "baseline", out, progress=False)
    return code, out


@needs_sample
def test_sample_coaching_metrics_against_its_segments(sample_results):
    """eval-bag's coaching metrics: per category, and the frames bad by the alert rule, against the segments."""
    from facecoach_cli.eval_compare import coaching_line, stability

    lines = read_jsonl(sample_results[1])
    st = stability(lines, REPO / "sample" / "interview.segments.json")
    c = st["coaching"]
    assert c["bad"]["support"] > 0 and c["good"]["support"] > 0 and c["acceptable"]["support"] > 0
    assert c["bad_frames"]["recall"] >= 0.9 and c["bad_frames"]["precision"] >= 0.9
    assert coaching_line(st).startswith("coaching (recall/precision): good ")


@needs_sample
def test_sample_every_frame_has_a_complete_line(sample_results):
    code, out = sample_results
    assert code == 0
    lines = read_jsonl(out)
    assert len(lines) == 810
    settings = settings_from_graph()
    mapping = settings.alert.effective_mapping
    for i, x in enumerate(lines):
        assert set(x) == KEYS
        assert abs(x["stamp_ns"] - (lines[0]["stamp_ns"] + i * FPS_NS)) <= 1
        assert isinstance(x["face"], bool) and isinstance(x["cue"], bool)
        assert 0.0 <= x["bad_share"] <= 1.0
        if x["face"]:
            assert x["roi"][2] > 0 and x["roi"][3] > 0
            assert math.isclose(sum(x["probabilities"]), 1.0, abs_tol=1e-4)
            assert x["confidence"] == max(x["probabilities"])
            assert x["category"] == mapping[x["label"]]
            bad = sum(p for c, p in zip(sorted(mapping), x["probabilities"]) if mapping[c] == "bad")
            assert math.isclose(x["bad_probability"], bad, abs_tol=1e-5)
            assert x["bad_frame"] == (x["bad_probability"] >= settings.alert.policy.bad_probability - 1e-6)
        else:
            assert x["label"] == "" and x["category"] == "none" and x["roi"] == [0, 0, 0, 0]
    # The sample holds a 2 s stretch without a face (13-15 s): whatever the model, the detector must see it.
    assert not any(x["face"] for x in lines[13 * 30 + 5 : 15 * 30 - 5])
    assert sum(x["face"] for x in lines) > 600


@needs_sample
def test_two_runs_are_identical_and_a_prefix_of_the_full_run(tmp_path, sample_results, capsys):
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    for out in (a, b):
        assert main(["eval-bag", str(SAMPLE), "--variant", "baseline", "--max-frames", "90", "--out", str(out)]) == 0
    assert a.read_bytes() == b.read_bytes()
    full = sample_results[1].read_text().splitlines()
    assert a.read_text().splitlines() == full[:90]


@needs_sample
def test_variant_all_writes_one_file_per_variant_and_a_table(tmp_path, capsys):
    models = tmp_path / "models"
    models.mkdir()
    shutil.copy(MODELS / "baseline.safetensors", models / "baseline.safetensors")
    shutil.copy(MODELS / "baseline.safetensors", models / "copy.safetensors")
    out = tmp_path / "res.jsonl"
    argv = ["eval-bag", str(SAMPLE), "--variant", "all", "--models-dir", str(models), "--max-frames", "30"]
    assert main(argv + ["--out", str(out)]) == 0
    base, copy = variant_out(out, "baseline"), variant_out(out, "copy")
    assert base.name == "res.baseline.jsonl" and copy.name == "res.copy.jsonl"
    assert base.read_bytes() == copy.read_bytes()
    table = capsys.readouterr().out
    assert "labels agree" in table and "median ms" in table
    assert [ln.split()[0] for ln in table.splitlines() if ln.startswith(("baseline ", "copy "))] == ["baseline", "copy"]
    assert table.count("100.0%") >= 4


def test_variant_all_without_a_baseline_is_a_one_line_error(tmp_path, capsys):
    (tmp_path / "m").mkdir()
    bag = _image_bag(tmp_path / "bag", [_bgr_image(1)])
    code = main(["eval-bag", str(bag), "--variant", "all", "--models-dir", str(tmp_path / "m"), "--out", "x.jsonl"])
    assert code == 2
    _assert_one_line_error(capsys, "baseline")


# ------------------------------------------------------------------------------------------- broken bags
def _stamp(i):
    ts = typestore()
    return ts.types["std_msgs/msg/Header"](
        stamp=ts.types["builtin_interfaces/msg/Time"](sec=100 + i // 30, nanosec=int(i % 30 * FPS_NS)), frame_id="cam"
    )


def _bgr_image(i, encoding="bgr8", width=64, height=48):
    ts = typestore()
    channels = 1 if encoding == "bayer_rggb8" else 3
    data = np.full(width * height * channels, 128, np.uint8)
    return ts.types["sensor_msgs/msg/Image"](
        header=_stamp(i),
        height=height,
        width=width,
        encoding=encoding,
        is_bigendian=0,
        step=width * channels,
        data=data,
    )


def _image_bag(path, images, topic="/camera/image_raw"):
    ts = typestore()
    w = BagWriter(path)
    for i, msg in enumerate(images):
        w.write(topic, "sensor_msgs/msg/Image", 1000 + i, ts.serialize_cdr(msg, "sensor_msgs/msg/Image"))
    w.close()
    return path


def _assert_one_line_error(capsys, *words):
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert err.startswith("facecoach eval-bag: ") and "Traceback" not in err
    for w in words:
        assert w in err


def test_empty_bag(tmp_path, capsys):
    BagWriter(tmp_path / "empty").close()
    assert main(["eval-bag", str(tmp_path / "empty"), "--out", str(tmp_path / "r.jsonl")]) == 2
    _assert_one_line_error(capsys, "empty bag")
    assert not (tmp_path / "r.jsonl").exists()


def test_bag_without_image_topics(tmp_path, capsys):
    ts = typestore()
    w = BagWriter(tmp_path / "chatter")
    msg = ts.types["std_msgs/msg/String"](data="hello")
    w.write("/chatter", "std_msgs/msg/String", 1, ts.serialize_cdr(msg, "std_msgs/msg/String"))
    w.close()
    assert main(["eval-bag", str(tmp_path / "chatter"), "--out", str(tmp_path / "r.jsonl")]) == 2
    _assert_one_line_error(capsys, "no sensor_msgs/Image", "/chatter")


def test_unknown_topic(tmp_path, capsys):
    bag = _image_bag(tmp_path / "bag", [_bgr_image(0)])
    assert main(["eval-bag", str(bag), "--topic", "/nope", "--out", str(tmp_path / "r.jsonl")]) == 2
    _assert_one_line_error(capsys, "/nope")


@pytest.mark.parametrize("target", ["folder", "file"])
def test_corrupt_mcap_bytes(tmp_path, capsys, target):
    bag = tmp_path / "corrupt"
    bag.mkdir()
    (bag / "corrupt.mcap").write_bytes(os.urandom(4096))
    path = bag if target == "folder" else bag / "corrupt.mcap"
    assert main(["eval-bag", str(path), "--out", str(tmp_path / "r.jsonl")]) == 2
    _assert_one_line_error(capsys, "unreadable bag")


def _storage_file(bag):
    return next(p for p in bag.iterdir() if p.suffix in (".db3", ".mcap"))


@needs_sample
def test_a_bag_cut_in_half_gives_a_marked_partial_result(tmp_path, capsys):
    """The readable half is evaluated (bags.PartialBag after it), not the whole bag rejected."""
    bag = tmp_path / "cut"
    shutil.copytree(SAMPLE, bag)
    storage = _storage_file(bag)
    os.truncate(storage, storage.stat().st_size // 2)
    out = tmp_path / "r.jsonl"
    assert main(["eval-bag", str(bag), "--out", str(out), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "PARTIAL" in err and "partial bag" in err and "Traceback" not in err
    lines = read_jsonl(out)
    assert "error" in lines[-1] and 100 < len(lines) - 1 < 810


@needs_sample
def test_corruption_mid_file_gives_a_marked_partial_result(tmp_path, capsys):
    bag = tmp_path / "mid"
    shutil.copytree(SAMPLE, bag)
    storage = _storage_file(bag)
    with open(storage, "r+b") as f:
        f.seek(storage.stat().st_size // 5)
        f.write(b"\xff" * 40_000)  # longer than three ~12 kB frames: it hits a record header, not just a JPEG
    out = tmp_path / "r.jsonl"
    assert main(["eval-bag", str(bag), "--out", str(out), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "PARTIAL" in err and "Traceback" not in err
    lines = read_jsonl(out)
    assert "error" in lines[-1] and lines[-1]["stamp_ns"] is None
    assert 0 < len(lines) - 1 < 810


def test_unknown_encoding_everywhere_is_a_one_line_error(tmp_path, capsys):
    bag = _image_bag(tmp_path / "yuv", [_bgr_image(i, "bayer_rggb8") for i in range(3)])
    assert main(["eval-bag", str(bag), "--out", str(tmp_path / "r.jsonl")]) == 2
    _assert_one_line_error(capsys, "bayer_rggb8")


@needs_sample
def test_unknown_encoding_on_some_frames_is_marked_in_the_lines(tmp_path, capsys):
    images = [_bgr_image(i, "bayer_rggb8" if i == 1 else "bgr8") for i in range(3)]
    out = tmp_path / "r.jsonl"
    assert main(["eval-bag", str(_image_bag(tmp_path / "mixed", images)), "--out", str(out)]) == 1
    lines = read_jsonl(out)
    assert len(lines) == 3
    assert "bayer_rggb8" in lines[1]["error"] and lines[1]["stamp_ns"] == lines[0]["stamp_ns"] + round(FPS_NS)
    assert "error" not in lines[0] and "error" not in lines[2]
    assert "PARTIAL" in capsys.readouterr().err


@needs_sample
def test_duplicate_stamps_are_dropped_like_the_detector_node(tmp_path):
    images = [_bgr_image(0), _bgr_image(0), _bgr_image(1)]
    out = tmp_path / "r.jsonl"
    assert main(["eval-bag", str(_image_bag(tmp_path / "dup", images)), "--out", str(out)]) == 0
    assert [x["stamp_ns"] for x in read_jsonl(out)] == [100 * 10**9, 100 * 10**9 + round(FPS_NS)]


# ------------------------------------------------------------------------------------------- the pipeline itself
class FakeClassifier:
    """A classifier that always answers ``label`` with ``confidence`` (the pipeline's wiring is under test)."""

    variant = "fake"
    class_names = tuple(sorted(DEFAULT_MAPPING))

    def __init__(self, label, confidence):
        self.label, self.confidence = label, confidence

    def predict_batch(self, faces):
        assert all(face.shape == (48, 48, 3) for face in faces)
        p = [(1 - self.confidence) / (len(self.class_names) - 1)] * len(self.class_names)
        p[self.class_names.index(self.label)] = self.confidence
        return np.array([p] * len(faces))


def _pipeline(label="sad", confidence=0.9, face=True, **policy):
    boxes = [(10, 10, 40, 40)] if face else []
    detector = FaceDetector(DetectorConfig(mode="naive"), raw_detect=lambda *a: boxes)
    config = AlertConfig(policy=PolicyConfig(cooldown_s=8.0, **policy))
    return Pipeline(detector, FakeClassifier(label, confidence), config)


def test_pipeline_cues_once_per_bad_episode_on_stamps_alone():
    pipe = _pipeline("sad", 0.9)
    frame = np.zeros((120, 160, 3), np.uint8)
    lines = [pipe.process(frame, 5 * 10**9 + round(i * FPS_NS)) for i in range(150)]
    cues = [i for i, x in enumerate(lines) if x["cue"]]
    # bad_threshold 0.6 of a 2 s window: the bad frames must span 1.2 s -> the 37th frame (index 36).
    assert cues == [36]
    assert lines[36]["reason"] == "played" and lines[36]["category"] == "bad"
    assert lines[0]["roi"] == [10, 10, 40, 40] and lines[0]["label"] == "sad"


def test_pipeline_no_face_and_low_confidence_never_cue():
    frame = np.zeros((120, 160, 3), np.uint8)
    low = (_pipeline("fear", 0.2, bad_rule="label"), _pipeline("fear", 0.2, bad_probability=0.5))
    for pipe in (_pipeline(face=False),) + low:
        lines = [pipe.process(frame, round(i * FPS_NS)) for i in range(120)]
        assert not any(x["cue"] for x in lines)
    assert lines[-1]["category"] == "bad" and lines[-1]["reason"] == "below_threshold"


def test_pipeline_results_are_json_and_stamps_match_the_alert_node():
    pipe = _pipeline()
    line = pipe.process(cv2.cvtColor(np.zeros((60, 80), np.uint8), cv2.COLOR_GRAY2BGR), 1_700_000_000_033_333_333)
    assert json.loads(json.dumps(line)) == line
    assert stamp_seconds(1_700_000_000_033_333_333) == 1_700_000_000 + 33_333_333 * 1e-9
    assert set(pipe.last_ms) == {"detect", "classify", "decide", "total"}


def test_settings_follow_the_graph_and_the_node_defaults(tmp_path):
    from facecoach.graph import load_graph

    graph_file = tmp_path / "graph.yaml"
    graph_file.write_text(
        "nodes:\n"
        "  - {name: face_detector, package: face_detector, executable: face_detector,\n"
        "     parameters: {mode: naive, min_neighbors: 3, input: both}}\n"
        "  - {name: emotion_classifier, package: emotion_classifier, executable: emotion_classifier,\n"
        "     parameters: {model_variant: int8, num_threads: 2}}\n"
        "  - {name: alert_player, package: alert_player, executable: alert_player,\n"
        "     parameters: {cooldown_s: 3.0, mapping.happy: bad}}\n"
    )
    s = settings_from_graph(load_graph(graph_file), models_dir=str(tmp_path))
    assert s.detector.mode == "naive" and s.detector.min_neighbors == 3 and s.detector.scale_factor == 1.1
    assert s.variant == "int8" and s.num_threads == 2 and s.models_dir == str(tmp_path)
    assert s.alert.policy.cooldown_s == 3.0 and s.alert.policy.window_s == 2.0
    assert s.alert.effective_mapping["happy"] == "bad"
    assert s.model_path() == tmp_path / "int8.safetensors"
