"""ONNX export parity with PyTorch (ONNX Runtime)."""

import json

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
