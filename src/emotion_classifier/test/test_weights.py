"""The weight format: quantized round trips and refusals of bad files."""

import json

import numpy as np
import pytest
import torch
from emotion_testutil import SMALL, meta

from emotion_classifier.model import EmotionRecognitionModel
from emotion_classifier.weight_file import read_header, read_tensors
from emotion_classifier.weight_writer import write_safetensors
from emotion_classifier.weights import (
    QMAX,
    WeightFileError,
    load_model,
    pack_int4,
    quantize_tensor,
    read_metadata,
    save_model,
    unpack_int4,
)


@pytest.mark.parametrize("n", [1, 2, 7, 10, 33])
def test_int4_packing_is_lossless_including_odd_sizes(n):
    codes = torch.randint(-7, 8, (n,), dtype=torch.int32)
    packed = pack_int4(codes)
    assert packed.dtype == torch.uint8 and packed.numel() == (n + 1) // 2
    assert torch.equal(unpack_int4(packed, n), codes)


@pytest.mark.parametrize("bits", [16, 8, 4])
@pytest.mark.parametrize("per_channel", [False, True])
def test_quantized_round_trip(tmp_path, small_model, bits, per_channel):
    path = save_model(tmp_path / f"q{bits}.safetensors", small_model, meta(f"int{bits}"), bits, per_channel)
    stored = read_tensors(path)
    loaded, info = load_model(path)
    assert info["bits"] == bits and info["granularity"] == ("channel" if per_channel else "tensor")
    for name, w in small_model.state_dict().items():
        if not name.endswith("weight"):
            assert torch.equal(loaded.state_dict()[name], w)
            continue
        codes, scale = quantize_tensor(w, bits, per_channel)
        assert torch.equal(stored[name + ".scale"], scale)  # scales exact
        raw = stored[name + ".codes"]
        got = unpack_int4(raw, w.numel()).reshape(w.shape) if bits == 4 else raw.to(torch.int32)
        assert torch.equal(got, codes)  # codes exact
        assert codes.abs().max() <= QMAX[bits]
        err = (loaded.state_dict()[name] - w).abs().reshape(scale.numel(), -1)
        assert (err <= scale[:, None] / 2 + 1e-7).all()  # dequantized error bounded by half a step


def test_int4_file_is_half_the_int8_file(tmp_path):
    model = EmotionRecognitionModel(5)
    sizes = {b: save_model(tmp_path / f"{b}.safetensors", model, meta(), b).stat().st_size for b in (32, 16, 8, 4)}
    assert sizes[16] <= 5.3e6 and sizes[8] <= 2.7e6 and sizes[4] <= 1.4e6
    assert 0.45 < sizes[4] / sizes[8] < 0.55


def _rewrite(path, tensors=None, metadata=None):
    old_meta = read_header(path).metadata
    write_safetensors(tensors if tensors is not None else read_tensors(path), metadata or old_meta, path)


def test_refuses_wrong_shapes(small_file):
    tensors = read_tensors(small_file)
    tensors["features.0.weight"] = torch.zeros(5, 3, 3, 3)
    _rewrite(small_file, tensors)
    with pytest.raises(WeightFileError, match="features.0.weight has shape"):
        load_model(small_file)


def test_refuses_missing_metadata(small_file):
    _rewrite(small_file, metadata={"format": json.dumps("facecoach-emotion-1")})
    with pytest.raises(WeightFileError, match="metadata lacks"):
        read_metadata(small_file)


def test_refuses_non_finite_values(small_file):
    tensors = read_tensors(small_file)
    tensors["classifier.1.bias"][0] = float("nan")
    _rewrite(small_file, tensors)
    with pytest.raises(WeightFileError, match="non-finite"):
        load_model(small_file)


def test_refuses_non_finite_scales(tmp_path, small_model):
    path = save_model(tmp_path / "q.safetensors", small_model, meta("int8"), 8)
    tensors = read_tensors(path)
    tensors["features.0.weight.scale"][0] = float("inf")
    _rewrite(path, tensors)
    with pytest.raises(WeightFileError, match="scales"):
        load_model(path)


def test_refuses_truncated_and_corrupt_files(small_file, tmp_path):
    data = small_file.read_bytes()
    small_file.write_bytes(data[: len(data) // 2])
    with pytest.raises(WeightFileError, match="safetensors|tensors"):
        load_model(small_file)
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x00" * 64)
    with pytest.raises(WeightFileError, match="not a readable safetensors"):
        load_model(junk)
    with pytest.raises(WeightFileError, match="no such weight file"):
        load_model(tmp_path / "absent.safetensors")


def test_refuses_other_preprocessing(small_file):
    metadata = read_header(small_file).metadata
    pre = json.loads(metadata["preprocessing"])
    pre["mean"] = 0.0
    metadata["preprocessing"] = json.dumps(pre)
    _rewrite(small_file, metadata=metadata)
    with pytest.raises(WeightFileError, match="preprocessing"):
        load_model(small_file)


def test_pruned_widths_come_from_metadata(tmp_path):
    model = EmotionRecognitionModel(5, **SMALL)
    loaded, info = load_model(save_model(tmp_path / "p.safetensors", model, meta("pruned")))
    assert info["widths"] == {"conv": list(SMALL["conv_widths"]), "fc": list(SMALL["fc_widths"])}
    x = torch.randn(2, 3, 48, 48)
    assert torch.allclose(loaded(x), model.eval()(x))


def test_flip_tta_averages_a_face_with_its_mirror(small_file):
    from emotion_classifier.inference import EmotionClassifier

    clf = EmotionClassifier(small_file)
    face = np.random.default_rng(1).integers(0, 256, (48, 48, 3), dtype=np.uint8)
    plain, mirrored = clf.predict_batch([face])[0], clf.predict_batch([face[:, ::-1]])[0]
    assert not np.allclose(plain, mirrored)  # the model is not mirror-symmetric: the test can tell
    clf.flip_tta = True
    np.testing.assert_allclose(clf.predict_batch([face])[0], (plain + mirrored) / 2, atol=1e-6)
    np.testing.assert_allclose(clf.predict(face).probabilities, (plain + mirrored) / 2, atol=1e-6)


def test_the_layout_is_measured_once_per_architecture(tmp_path, small_file, monkeypatch):
    """A switch to other weights of the same shapes reuses the first load's layout instead of timing again."""
    from emotion_classifier import inference

    measured = []
    measure = inference._measure_layout
    monkeypatch.setattr(inference, "_LAYOUTS", {})
    monkeypatch.setattr(inference, "_measure_layout", lambda *a: measured.append(1) or measure(*a))
    first = inference.EmotionClassifier(small_file)
    int8 = tmp_path / "int8.safetensors"
    save_model(int8, first.model.to(memory_format=torch.contiguous_format), meta("int8"), bits=8)
    second = inference.EmotionClassifier(int8)
    assert len(measured) == 1 and second.memory_format == first.memory_format
    face = np.random.default_rng(2).integers(0, 256, (48, 48), dtype=np.uint8)
    np.testing.assert_allclose(second.predict(face).probabilities, first.predict(face).probabilities, atol=0.05)
    narrow = EmotionRecognitionModel(5, conv_widths=(4, 8, 8, 8), fc_widths=(16, 16)).eval()
    inference.EmotionClassifier(save_model(tmp_path / "pruned.safetensors", narrow, meta("pruned")))
    assert len(measured) == 2, "other shapes: measured for themselves"
