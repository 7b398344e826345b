"""eval-bag --calibrate-seconds on a small bag built from the sample's frames; the pipeline's calibration_file."""

import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from facecoach_bag.reader import image_topic, messages
from facecoach_bag.schema import typestore
from facecoach_bag.writer import BagWriter
from facecoach_cli.commands.session import main
from facecoach_cli.eval_results import read_jsonl
from facecoach_cli.pipeline import Pipeline, settings_from_graph

REPO = Path(__file__).resolve().parents[3]
SAMPLE = REPO / "sample" / "interview"
MODELS = REPO / "models"

needs_sample = pytest.mark.skipif(
    not (SAMPLE / "metadata.yaml").is_file() or not (MODELS / "baseline.safetensors").is_file(),
    reason="sample/interview or models/baseline.safetensors missing",
)


def _short_bag(path: Path) -> Path:
    """1.5 s of the sample's neutral face, then 1 s each of its happy, sad and surprise faces (its stamps kept)."""
    topic = image_topic(SAMPLE)
    keep = set(range(0, 45)) | set(range(150, 180)) | set(range(270, 300)) | set(range(480, 510))
    w = BagWriter(path)
    for i, (name, msgtype, t_ns, raw) in enumerate(messages(SAMPLE, [topic.name])):
        if i in keep:
            w.write(name, msgtype, t_ns, raw)
        if i > max(keep):
            break
    w.close()
    shutil.copy(str(SAMPLE) + ".segments.json", str(path) + ".segments.json")
    return path


@needs_sample
def test_eval_bag_calibrates_on_the_start_and_compares_on_the_rest(tmp_path, capsys):
    bag = _short_bag(tmp_path / "short")
    out = tmp_path / "res.jsonl"
    argv = ["eval-bag", str(bag), "--calibrate-seconds", "1", "--out", str(out), "--no-progress"]
    assert main(argv) == 0, capsys.readouterr().err
    text = capsys.readouterr().out
    assert "calibrated on the first 1 s: neutral" in text and "over 30 frames" in text
    assert "uncalibrated" in text and "read as neutral" in text and "accuracy (" in text
    cal, plain = read_jsonl(out), read_jsonl(tmp_path / "res.uncalibrated.jsonl")
    assert len(cal) == len(plain) == 135
    cutoff = cal[0]["stamp_ns"] + 10**9
    before = [(a, b) for a, b in zip(cal, plain) if a["stamp_ns"] < cutoff]
    after = [(a, b) for a, b in zip(cal, plain) if a["stamp_ns"] >= cutoff and a["face"]]
    assert len(before) == 30 and all(a["probabilities"] == b["probabilities"] for a, b in before)  # the hold
    diffs = [np.abs(np.subtract(a["probabilities"], b["probabilities"])).max() for a, b in after]
    assert after and min(diffs) > 1e-4  # every later face frame is corrected


@needs_sample
def test_eval_bag_calibrate_refusals_are_one_line(tmp_path, capsys):
    bag = _short_bag(tmp_path / "short")
    for extra, words in (
        (["--calibrate-seconds", "1", "--variant", "all"], "not --variant all"),
        (["--calibrate-seconds", "0"], "must be > 0"),
        (["--calibrate-seconds", "1", "--max-frames", "10"], "cannot calibrate on the first 1 s"),
        (["--calibrate-seconds", "0.1"], "only 3 face frame"),
    ):
        assert main(["eval-bag", str(bag), "--out", str(tmp_path / "r.jsonl"), "--no-progress"] + extra) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and err.startswith("facecoach eval-bag: ") and words in err, err


def test_no_face_at_the_start_cannot_calibrate(tmp_path, capsys):
    ts = typestore()
    w = BagWriter(tmp_path / "gray")
    for i in range(40):
        header = ts.types["std_msgs/msg/Header"](
            stamp=ts.types["builtin_interfaces/msg/Time"](sec=100 + i // 30, nanosec=(i % 30) * 33_333_333),
            frame_id="cam",
        )
        msg = ts.types["sensor_msgs/msg/Image"](
            header=header, height=48, width=64, encoding="bgr8", is_bigendian=0, step=192,
            data=np.full(48 * 64 * 3, 128, np.uint8),
        )  # fmt: skip
        w.write("/camera/image_raw", "sensor_msgs/msg/Image", 1000 + i, ts.serialize_cdr(msg, "sensor_msgs/msg/Image"))
    w.close()
    argv = ["eval-bag", str(tmp_path / "gray"), "--calibrate-seconds", "0.5", "--out", str(tmp_path / "r.jsonl")]
    assert main(argv + ["--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert "only 0 face frame" in err and len(err.splitlines()) == 1, err


@needs_sample
def test_the_pipeline_applies_the_graphs_calibration_file(tmp_path):
    from emotion_classifier.calibration import Calibration, CalibrationError
    from emotion_classifier.calibration_file import save
    from emotion_classifier.labels import CLASSES

    path = tmp_path / "me.json"
    save(Calibration(CLASSES, (0.0, 0.0, 2.0, 0.0, 0.0)), str(path))
    settings = replace(settings_from_graph(), calibration_file=str(path))
    assert Pipeline.from_settings(settings).classify_stage.calibration.bias[2] == 2.0
    path.write_text(json.dumps({"format": "facecoach-calibration", "version": 1}))
    with pytest.raises(CalibrationError, match="class_names"):
        Pipeline.from_settings(settings)
