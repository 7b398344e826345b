"""The model tooling commands end to end on tiny generated data (quantize, prune, sweep, eval, native, export)."""

import json
import sys
import types

import cv2
import numpy as np
import pytest
import torch
from emotion_testutil import meta

from emotion_classifier import tools
from emotion_classifier.data import CLASSES, file_sha256
from emotion_classifier.model import EmotionRecognitionModel, count_macs
from emotion_classifier.weights import load_model, read_metadata, save_model

EVAL_KEYS = {
    "accuracy",
    "macro_f1",
    "per_class_recall",
    "confusion",
    "n_images",
    "n_faces",
    "params",
    "macs",
    "file_bytes",
    "latency_ms_per_face",
    "flip_tta",
}


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """A models dir with a full-size random baseline, and a tiny FER-style npz."""
    root = tmp_path_factory.mktemp("ws")
    torch.manual_seed(0)
    save_model(root / "models" / "baseline.safetensors", EmotionRecognitionModel(5), meta())
    rng = np.random.default_rng(0)
    n = 120
    labels = np.tile([2, 3, 4, 5, 6], n // 5)
    np.savez(
        root / "fer.npz",
        images=rng.integers(0, 256, (n, 48, 48), dtype=np.uint8),
        labels=labels,
        split=np.repeat([0, 1, 2], n // 3),
    )
    return root


def test_quantize_command_writes_metadata(workspace):
    src = workspace / "models" / "baseline.safetensors"
    for bits in (8, 4):
        out = workspace / "models" / f"int{bits}.safetensors"
        assert tools.main(["quantize", "--src", str(src), "--bits", str(bits), "--out", str(out)]) == 0
        model, info = load_model(out)
        assert info["variant"] == f"int{bits}" and info["bits"] == bits
        assert info["source_sha256"] == file_sha256(src) and info["data_sha256"] == "0" * 64
        assert "quantize" in info["command"]
    sizes = {b: (workspace / "models" / f"int{b}.safetensors").stat().st_size for b in (8, 4)}
    assert sizes[8] <= 2.7e6 and sizes[4] <= 1.4e6 and 0.45 < sizes[4] / sizes[8] < 0.55
    # a quantized file is not a valid source: rounding twice is refused
    assert (
        tools.main(
            [
                "quantize",
                "--src",
                str(workspace / "models" / "int8.safetensors"),
                "--bits",
                "4",
                "--out",
                str(workspace / "x.safetensors"),
            ]
        )
        == 2
    )


def test_prune_command(workspace):
    out = workspace / "pruned.safetensors"
    args = [
        "prune",
        "--src",
        str(workspace / "models" / "baseline.safetensors"),
        "--data",
        str(workspace / "fer.npz"),
        "--conv-ratio",
        "0.55",
        "--fc-ratio",
        "0.55",
        "--finetune-epochs",
        "1",
        "--threads",
        "1",
        "--no-progress",
        "--out",
        str(out),
    ]
    assert tools.main(args) == 0
    model, info = load_model(out)
    assert info["macs_reduction"] >= 4.0 and count_macs(model) == info["macs"]
    assert info["widths"]["conv"] == [14, 28, 57, 57] and info["finetune_epochs"] == 1


def test_prune_sweep_command(workspace):
    out = workspace / "sweep"
    args = [
        "prune-sweep",
        "--src",
        str(workspace / "models" / "baseline.safetensors"),
        "--data",
        str(workspace / "fer.npz"),
        "--ratios",
        "0.3,0.6",
        "--finetune-epochs",
        "1",
        "--threads",
        "1",
        "--out-dir",
        str(out),
    ]
    assert tools.main(args) == 0
    result = json.loads((out / "prune_sweep.json").read_text())
    assert [r["ratio"] for r in result["rows"]] == [0.0, 0.3, 0.6]
    assert result["rows"][2]["macs"] < result["rows"][1]["macs"] < result["rows"][0]["macs"]
    assert all(r["val_accuracy_finetuned"] is not None for r in result["rows"])
    for name in ("accuracy", "macs", "params", "size", "sweep"):
        assert (out / f"prune_{name}.png").stat().st_size > 1000


def test_quantize_native_command(workspace):
    out = workspace / "models" / "int8_native.safetensors"
    args = [
        "quantize-native",
        "--src",
        str(workspace / "models" / "baseline.safetensors"),
        "--data",
        str(workspace / "fer.npz"),
        "--calib-size",
        "30",
        "--threads",
        "1",
        "--out",
        str(out),
    ]
    assert tools.main(args) == 0
    info = read_metadata(out)
    assert info["kernels"] == "int8_static" and info["calibration"]["faces"] == 30
    assert info["int8_native_speedup"] > 0


def _image_folder(root, photo=False):
    rng = np.random.default_rng(1)
    for c in CLASSES:
        (root / c).mkdir(parents=True)
        for j in range(2):
            cv2.imwrite(str(root / c / f"{j}.png"), rng.integers(0, 256, (48, 48, 3), dtype=np.uint8))
    if photo:
        cv2.imwrite(str(root / "happy" / "photo.jpg"), rng.integers(0, 256, (240, 320, 3), dtype=np.uint8))
        cv2.imwrite(str(root / "sad" / "noface.jpg"), np.zeros((240, 320, 3), np.uint8))
    return root


def test_eval_on_image_folder_of_crops(workspace, tmp_path):
    folder = _image_folder(tmp_path / "faces")
    out = tmp_path / "eval.json"
    args = [
        "eval",
        "--data",
        str(folder),
        "--variant",
        "all",
        "--models-dir",
        str(workspace / "models"),
        "--json",
        str(out),
        "--latency-runs",
        "5",
        "--no-progress",
    ]
    assert tools.main(args) == 0
    doc = json.loads(out.read_text())
    assert {"baseline", "int8", "int4", "int8_native"} <= set(doc["variants"])
    for r in doc["variants"].values():
        assert set(r) == EVAL_KEYS
        assert r["n_images"] == r["n_faces"] == 10
        assert set(r["per_class_recall"]) == set(CLASSES)
        assert np.array(r["confusion"]).sum() == 10
    assert doc["variants"]["int4"]["file_bytes"] < doc["variants"]["int8"]["file_bytes"]


def test_eval_photos_go_through_the_face_detector(workspace, tmp_path, monkeypatch):
    """Full photos use face_detector.detector (a fake here: it finds a face unless the photo is black)."""
    fake = types.ModuleType("face_detector.detector")

    class DetectorConfig:
        pass

    class FaceDetector:
        def __init__(self, config):
            self.config = config

        def detect(self, frame):
            return None if frame.max() == 0 else (10, 10, 100, 100)

    def crop_face(frame, box, size=48):
        x, y, w, h = box
        return cv2.resize(frame[y : y + h, x : x + w], (size, size))

    fake.DetectorConfig, fake.FaceDetector, fake.crop_face = DetectorConfig, FaceDetector, crop_face
    monkeypatch.setitem(sys.modules, "face_detector", types.ModuleType("face_detector"))
    monkeypatch.setitem(sys.modules, "face_detector.detector", fake)
    folder = _image_folder(tmp_path / "photos", photo=True)
    out = tmp_path / "eval.json"
    args = [
        "eval",
        "--data",
        str(folder),
        "--variant",
        "baseline",
        "--models-dir",
        str(workspace / "models"),
        "--json",
        str(out),
        "--latency-runs",
        "5",
        "--no-progress",
    ]
    assert tools.main(args) == 0
    r = json.loads(out.read_text())["variants"]["baseline"]
    assert r["n_images"] == 12 and r["n_faces"] == 11


def test_eval_metrics_on_known_predictions():
    from emotion_classifier.evaluate import classification_metrics

    m = classification_metrics(np.array([0, 0, 1, 1, 2]), np.array([0, 1, 1, 1, 0]))
    assert m["accuracy"] == pytest.approx(0.6)
    assert m["per_class_recall"]["fear"] == 0.5 and m["per_class_recall"]["sad"] is None
    # F1: fear 2*1/(2+2)=0.5, happy 2*2/(2+3)=0.8, neutral 0 -> mean over the 3 present classes
    assert m["macro_f1"] == pytest.approx((0.5 + 0.8 + 0.0) / 3)
    assert m["confusion"][0] == [1, 1, 0, 0, 0]


def test_export_command(workspace, tmp_path):
    pytest.importorskip("onnxruntime")
    out = tmp_path / "onnx"
    assert (
        tools.main(["export", "--variant", "all", "--models-dir", str(workspace / "models"), "--out-dir", str(out)])
        == 0
    )
    report = json.loads((out / "export.json").read_text())
    assert {"baseline", "int8", "int4"} <= set(report) and "int8_native" not in report
    assert all(r["max_abs_diff"] < 1e-4 for r in report.values())


def test_unknown_variant_is_a_clear_error(workspace, tmp_path, capsys):
    folder = _image_folder(tmp_path / "f")
    args = ["eval", "--data", str(folder), "--variant", "nope", "--models-dir", str(workspace / "models")]
    assert tools.main(args) == 2
    assert "no such variant" in capsys.readouterr().err
