"""ONNX export parity with PyTorch (ONNX Runtime)."""

import json

import cv2
import numpy as np
import pytest
from emotion_testutil import meta

from emotion_classifier.model import EmotionRecognitionModel
from emotion_classifier.weights import load_model, save_model

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")


@pytest.mark.parametrize("bits", [32, 8, 4])
def test_export_matches_pytorch(tmp_path, bits):
    from emotion_classifier.tooling.export import export_onnx, onnx_max_abs_diff

    path = save_model(tmp_path / "m.safetensors", EmotionRecognitionModel(5, (8, 8, 16, 16), (32, 16)), meta(), bits)
    model, info = load_model(path)
    out = export_onnx(model, tmp_path / "m.onnx", info)
    assert onnx_max_abs_diff(model, out, n=4) < 1e-4
    props = {p.key: json.loads(p.value) for p in onnx.load(str(out)).metadata_props}
    assert props["classes"] == info["classes"] and props["bits"] == bits


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """Every committed variant that has an ONNX form, exported at opset 13 into a folder of its own."""
    from pathlib import Path

    from emotion_classifier.tooling.export import export_onnx

    models = Path(__file__).resolve().parents[3] / "models"
    if not models.is_dir():
        pytest.skip("the committed models/ are not beside this source tree")
    out = tmp_path_factory.mktemp("onnx")
    names = []
    for path in sorted(models.glob("*.safetensors")):
        model, info = load_model(path)
        if info.get("kernels"):
            continue  # int8_native: PyTorch's own integer modules, no ONNX form
        (out / path.name).write_bytes(path.read_bytes())
        export_onnx(model, out / (path.stem + ".onnx"), info, opset=13)
        names.append(path.stem)
    return out, names


def _faces(n=24):
    rng = np.random.default_rng(7)
    base = rng.integers(0, 256, (n, 48, 48), dtype=np.uint8)
    return [cv2.GaussianBlur(f, (0, 0), 2) for f in base]  # face-like smooth images, not noise


@pytest.mark.parametrize("flip_tta", [False, True])
def test_onnxruntime_backend_gives_torchs_probabilities_for_every_variant(exported, flip_tta):
    from emotion_classifier.inference import EmotionClassifier

    folder, names = exported
    assert {"baseline", "int16", "int8", "int4", "pruned"} <= set(names)
    faces = _faces()
    for name in names:
        torch_p = EmotionClassifier(folder / f"{name}.safetensors", flip_tta=flip_tta).predict_batch(faces)
        ort = EmotionClassifier(folder / f"{name}.onnx", flip_tta=flip_tta, backend="onnxruntime")
        assert ort.class_names == tuple(load_model(folder / f"{name}.safetensors")[1]["classes"])
        np.testing.assert_allclose(ort.predict_batch(faces), torch_p, atol=1e-4, err_msg=name)


def test_onnxruntime_refuses_a_missing_file_or_an_absent_provider(exported, tmp_path):
    from emotion_classifier.inference import EmotionClassifier
    from emotion_classifier.weight_file import WeightFileError

    folder, _ = exported
    with pytest.raises(WeightFileError, match="no such ONNX file .*facecoach export --variant nothing"):
        EmotionClassifier(folder / "nothing.onnx", backend="onnxruntime")
    with pytest.raises(WeightFileError, match="has no TensorrtExecutionProvider"):
        EmotionClassifier(folder / "baseline.onnx", backend="onnxruntime", providers="tensorrt")
    (tmp_path / "bad.onnx").write_bytes(b"not a model")
    with pytest.raises(WeightFileError, match="not a loadable ONNX model"):
        EmotionClassifier(tmp_path / "bad.onnx", backend="onnxruntime")


def test_static_int8_qdq_keeps_the_labels_and_the_metadata(exported, tmp_path):
    from emotion_classifier.inference import EmotionClassifier
    from emotion_classifier.tooling.data import FaceSet
    from emotion_classifier.tooling.onnx_int8 import quantize_int8_qdq

    folder, _ = exported
    faces = _faces(64)
    calib = FaceSet(np.stack(faces[:32]), np.zeros(32, np.int64), "generated", "", 32)
    out = quantize_int8_qdq(folder / "baseline.onnx", tmp_path / "int8_qdq.onnx", calib, {"bits": 8})
    q = EmotionClassifier(out, backend="onnxruntime")
    f = EmotionClassifier(folder / "baseline.onnx", backend="onnxruntime")
    assert q.meta["bits"] == 8 and q.class_names == f.class_names
    assert out.stat().st_size < 0.3 * (folder / "baseline.onnx").stat().st_size
    test = faces[32:]
    same = (q.predict_batch(test).argmax(1) == f.predict_batch(test).argmax(1)).mean()
    assert same >= 0.9, f"int8 QDQ agrees with fp32 on {same:.0%} of the faces"
