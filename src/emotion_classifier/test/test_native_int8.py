"""Native int8 (integer kernels): parity with fp32, exact save/load, refusals."""

import pytest
import torch
from emotion_testutil import make_faces, meta
from safetensors.torch import load_file, save_file

from emotion_classifier.model import EmotionRecognitionModel
from emotion_classifier.native_int8 import NativeInt8Model, load_native_int8, native_tensor_names
from emotion_classifier.preprocess import normalize_gray
from emotion_classifier.tooling.calibrate import calibrate_int8, save_native_int8
from emotion_classifier.weights import WeightFileError, load_model


@pytest.fixture(scope="module")
def fp32_and_int8():
    torch.manual_seed(0)
    model = EmotionRecognitionModel(5, (16, 16, 32, 32), (64, 32)).eval()
    calib = torch.from_numpy(normalize_gray(make_faces(64).images))
    return model, calibrate_int8(model, calib)


def test_int8_is_close_to_fp32(fp32_and_int8):
    model, qmodel = fp32_and_int8
    x = torch.from_numpy(normalize_gray(make_faces(40, seed=3).images))
    with torch.inference_mode():
        ref, got = model(x), qmodel(x)
    assert got.dtype == torch.float32 and got.shape == ref.shape
    assert (got - ref).abs().max() <= 0.1 * ref.abs().max() + 1e-3
    assert (got.argmax(1) == ref.argmax(1)).float().mean() >= 0.9
    assert isinstance(qmodel, NativeInt8Model)


def test_save_load_is_exact_and_load_model_dispatches(tmp_path, fp32_and_int8):
    _, qmodel = fp32_and_int8
    path = save_native_int8(tmp_path / "int8_native.safetensors", qmodel, meta("int8_native"))
    assert sorted(load_file(str(path))) == sorted(native_tensor_names())
    loaded = load_native_int8(path)
    assert loaded.meta["kernels"] == "int8_static" and loaded.meta["widths"]["conv"] == [16, 16, 32, 32]
    x = torch.randn(4, 3, 48, 48)
    with torch.inference_mode():
        assert torch.equal(loaded(x), qmodel(x))
        model, info = load_model(path)  # the one loader the node uses
        assert torch.equal(model(x), qmodel(x)) and info["variant"] == "int8_native"
    with pytest.raises(WeightFileError, match="CPU only"):
        load_native_int8(path, device="cuda")


def test_refuses_bad_native_files(tmp_path, fp32_and_int8, small_file):
    _, qmodel = fp32_and_int8
    with pytest.raises(WeightFileError, match="not a native int8 file"):
        load_native_int8(small_file)
    path = save_native_int8(tmp_path / "n.safetensors", qmodel, meta("int8_native"))
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as fh:
        metadata = fh.metadata()
    tensors = load_file(str(path))
    tensors["features.3.out_scale"] = torch.tensor([float("nan")], dtype=torch.float64)
    save_file(tensors, str(path), metadata)
    with pytest.raises(WeightFileError, match="activation scale"):
        load_native_int8(path)
    tensors = load_file(str(path))
    tensors["features.3.out_scale"] = torch.tensor([0.1], dtype=torch.float64)
    tensors["features.0.weight_codes"] = tensors["features.0.weight_codes"][:3]
    save_file(tensors, str(path), metadata)
    with pytest.raises(WeightFileError, match="weight_codes"):
        load_native_int8(path)
