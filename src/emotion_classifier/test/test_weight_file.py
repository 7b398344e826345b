"""The weight file format without the safetensors package: the numpy reader agrees with it, corrupt and
crafted files are refused before anything is allocated, with the same message either way.

Runs in the development venv (both readers) and in the device profile (Python 3.6, numpy reader only).
"""

import json
import struct
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from emotion_testutil import SMALL, meta

from emotion_classifier import native_int8, weight_file, weight_writer, weights
from emotion_classifier.inference import EmotionClassifier
from emotion_classifier.model import EmotionRecognitionModel
from emotion_classifier.weight_file import WeightFileError, read_header, read_metadata, read_tensors
from emotion_classifier.weight_writer import write_safetensors
from emotion_classifier.weights import load_model, save_model

MODELS = Path(__file__).resolve().parents[3] / "models"
COMMITTED = sorted(MODELS.glob("*.safetensors"))


def _has_safetensors() -> bool:
    try:
        import safetensors.torch  # noqa: F401
    except ImportError:
        return False
    return True


HAS_SAFETENSORS = _has_safetensors()
needs_safetensors = pytest.mark.skipif(not HAS_SAFETENSORS, reason="compares with the safetensors package")


@pytest.fixture
def without_safetensors(monkeypatch):
    """As on the Jetson's Python 3.6: ``import safetensors`` fails, so weight_file falls back to numpy."""
    monkeypatch.setitem(sys.modules, "safetensors", None)
    monkeypatch.setitem(sys.modules, "safetensors.torch", None)


def _error(fn, *args) -> str:
    with pytest.raises(WeightFileError) as info:
        fn(*args)
    return str(info.value)


def _both(fn, *args):
    """fn(*args) with the safetensors package and without it (monkeypatched away)."""
    with_pkg = fn(*args)
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(sys.modules, "safetensors", None)
        mp.setitem(sys.modules, "safetensors.torch", None)
        without = fn(*args)
    return with_pkg, without


def test_there_are_committed_variants():
    assert {p.stem for p in COMMITTED} >= {"baseline", "int8", "int8_native", "pruned"}


@needs_safetensors
@pytest.mark.parametrize("path", COMMITTED, ids=lambda p: p.stem)
def test_numpy_reader_gives_the_same_tensors_and_metadata(path):
    from safetensors import safe_open
    from safetensors.torch import load_file

    ref = load_file(str(path))
    got = weight_file._numpy_read(path, read_header(path))
    assert sorted(got) == sorted(ref)
    for name, tensor in ref.items():
        assert got[name].dtype == tensor.dtype and got[name].shape == tensor.shape, name
        assert torch.equal(got[name], tensor), name
    with safe_open(str(path), framework="pt") as fh:
        assert read_header(path).metadata == fh.metadata()
    with_pkg, without = _both(read_metadata, path)
    assert with_pkg == without


@pytest.mark.parametrize("path", COMMITTED, ids=lambda p: p.stem)
def test_committed_variants_load_without_safetensors(path, without_safetensors):
    model, info = load_model(path)
    assert info["variant"] == path.stem
    with torch.no_grad():
        assert model(torch.zeros(1, 3, 48, 48)).shape == (1, len(info["classes"]))


@needs_safetensors
def test_numpy_writer_is_read_by_safetensors(tmp_path):
    from safetensors import safe_open
    from safetensors.torch import load_file

    tensors = {
        "f32": torch.randn(3, 4),
        "f64": torch.randn(2, dtype=torch.float64),
        "i8": torch.randint(-128, 127, (5,), dtype=torch.int8),
        "u8": torch.randint(0, 255, (3, 1), dtype=torch.uint8),
        "i16": torch.randint(-999, 999, (7,), dtype=torch.int16),
        "i64": torch.tensor([1, -2], dtype=torch.int64),
        "scalar": torch.tensor(1.5),
        "empty": torch.zeros(0, 3),
    }
    path = tmp_path / "np.safetensors"
    weight_writer._numpy_write(tensors, {"note": "numpy"}, path)
    back = load_file(str(path))
    with safe_open(str(path), framework="pt") as fh:
        assert fh.metadata() == {"note": "numpy"}
    assert sorted(back) == sorted(tensors)
    for name, tensor in tensors.items():
        assert back[name].dtype == tensor.dtype and torch.equal(back[name], tensor), name
    numpy_read = weight_file._numpy_read(path, read_header(path))
    assert all(torch.equal(numpy_read[k], v) for k, v in tensors.items())


def test_numpy_round_trip(tmp_path, small_model, without_safetensors):
    """write_weight_file and load_model without safetensors (the device: save_model falls back to numpy)."""
    path = save_model(tmp_path / "q.safetensors", small_model, meta("int4"), 4, per_channel=True)
    loaded, info = load_model(path)
    assert info["bits"] == 4 and info["granularity"] == "channel"
    x = torch.randn(2, 3, 48, 48)
    with torch.no_grad():
        assert loaded(x).shape == (2, 5)


# --------------------------------------------------------------------------------------------------
# corrupt files: the same clear message from both readers
def _parts(path):
    data = Path(path).read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8 : 8 + n].decode()), data[8 + n :]


def _assemble(path, header, body: bytes, raw_header=None):
    raw = raw_header if raw_header is not None else json.dumps(header).encode()
    Path(path).write_bytes(struct.pack("<Q", len(raw)) + raw + body)
    return path


def _corrupt(kind, src: Path, dst: Path) -> Path:
    """A broken copy of the weight file ``src``."""
    data = src.read_bytes()
    header, body = _parts(src)
    tensors = sorted((k for k in header if k != "__metadata__"), key=lambda k: header[k]["data_offsets"])
    first, second = tensors[0], tensors[1]
    if kind == "truncated":
        dst.write_bytes(data[: len(data) - 10])
    elif kind == "truncated_header":
        dst.write_bytes(data[:40])
    elif kind == "too_short":
        dst.write_bytes(data[:5])
    elif kind == "bad_header_length":
        dst.write_bytes(struct.pack("<Q", len(data)) + data[8:])
    elif kind == "huge_header_length":
        dst.write_bytes(struct.pack("<Q", 2**62) + data[8:])
    elif kind == "bad_json":
        _assemble(dst, None, body, raw_header=b'{"__metadata__": {"format": "x"}, "a": [' + b" " * 20)
    elif kind == "not_utf8":
        _assemble(dst, None, body, raw_header=b'{"\xff\xfe": 1}')
    elif kind == "not_an_object":
        _assemble(dst, None, body, raw_header=b"[1, 2, 3]")
    elif kind == "offsets_past_the_end":
        begin, end = header[tensors[-1]]["data_offsets"]
        header[tensors[-1]]["data_offsets"] = [begin + 8, end + 8]
        _assemble(dst, header, body)
    elif kind == "overlapping":
        header[second]["data_offsets"] = list(header[first]["data_offsets"])
        header[second]["shape"], header[second]["dtype"] = header[first]["shape"], header[first]["dtype"]
        _assemble(dst, header, body)
    elif kind == "size_mismatch":
        header[first]["shape"] = [d + 1 for d in header[first]["shape"]]
        _assemble(dst, header, body)
    elif kind == "trailing_bytes":
        _assemble(dst, header, body + b"\0" * 8)
    elif kind == "unknown_dtype":
        header[first]["dtype"] = "F8_E4M3"
        _assemble(dst, header, body)
    elif kind == "bad_shape":
        header[first]["shape"] = [-1]
        _assemble(dst, header, body)
    elif kind == "bad_metadata":
        header["__metadata__"]["bits"] = 8
        _assemble(dst, header, body)
    else:
        raise AssertionError(kind)
    return dst


CORRUPT = {
    "truncated": "past the end",
    "truncated_header": "truncated",
    "too_short": "too short",
    "bad_header_length": "only",
    "huge_header_length": "limit",
    "bad_json": "not JSON",
    "not_utf8": "not JSON",
    "not_an_object": "not a JSON object",
    "offsets_past_the_end": "past the end",
    "overlapping": "overlap",
    "size_mismatch": "needs",
    "trailing_bytes": "belong to no tensor",
    "unknown_dtype": "unsupported dtype",
    "bad_shape": "non-negative integers",
    "bad_metadata": "strings",
}


@pytest.mark.parametrize("kind", sorted(CORRUPT))
def test_corrupt_files_get_the_same_clear_error_from_both_readers(kind, small_file, tmp_path):
    bad = _corrupt(kind, small_file, tmp_path / f"{kind}.safetensors")
    with_pkg, without = _both(_error, load_model, bad)
    assert with_pkg == without
    assert with_pkg.startswith(f"{bad}: not a readable safetensors file (") and CORRUPT[kind] in with_pkg, with_pkg
    if HAS_SAFETENSORS:  # the checks are no stricter than the format: safetensors refuses these files too
        from safetensors.torch import load_file

        with pytest.raises(Exception):  # noqa: B017 - safetensors' own error types vary by version
            load_file(str(bad))


# --------------------------------------------------------------------------------------------------
# crafted files: validated before anything is allocated
@pytest.fixture
def nothing_allocated(monkeypatch):
    """Fail the test if a tensor is read or a model is built."""

    def refuse(*args, **kwargs):
        raise AssertionError("a tensor was read or a model built before the file was refused")

    monkeypatch.setattr(weight_file, "_numpy_read", refuse)
    monkeypatch.setattr(weights, "EmotionRecognitionModel", refuse)
    monkeypatch.setattr(native_int8, "NativeInt8Model", refuse)
    monkeypatch.setitem(sys.modules, "safetensors", None)
    monkeypatch.setitem(sys.modules, "safetensors.torch", None)


def _crafted(path, widths, tensors=None, **extra):
    """A small weight file whose metadata claims ``widths``; its tensors are tiny."""
    metadata = {"format": weight_file.FORMAT, "bits": 32, "granularity": "tensor", "widths": widths}
    metadata.update(meta(), preprocessing=weights.PREPROCESSING)
    metadata.update(extra)
    tensors = tensors if tensors is not None else {"classifier.1.weight": torch.zeros(4, 4)}
    write_safetensors(tensors, {k: json.dumps(v) for k, v in metadata.items()}, path)
    return path


@pytest.mark.parametrize(
    "widths, message",
    [
        ({"conv": [32, 64, 128, 128], "fc": [200000, 200000]}, r"widths.fc\[0\]=200000 is outside 1..512"),
        ({"conv": [32, 64, 10**6, 128], "fc": [512, 256]}, r"widths.conv\[2\]=1000000 is outside 1..128"),
        ({"conv": [32, 64, 128, 129], "fc": [512, 256]}, r"widths.conv\[3\]=129 is outside 1..128"),
        ({"conv": [32, 64, 128, 128], "fc": [512, 0]}, r"widths.fc\[1\]=0 is outside 1..256"),
        ({"conv": [32, 64, 128, 128], "fc": [512, True]}, r"widths.fc\[1\]=True"),
        ({"conv": [32, 64, 128], "fc": [512, 256]}, r"widths.conv=.*expected 4 widths"),
        ({"conv": [32, 64, 128, 128]}, r"is not \{'conv'"),
        ([1, 2], r"is not \{'conv'"),
    ],
)
def test_widths_are_bounded_by_the_architecture(tmp_path, nothing_allocated, widths, message):
    path = _crafted(tmp_path / "crafted.safetensors", widths)
    assert path.stat().st_size < 1024
    with pytest.raises(WeightFileError, match=message):
        load_model(path)
    with pytest.raises(WeightFileError, match=message):  # native int8 files are read through the same check
        load_model(_crafted(tmp_path / "native.safetensors", widths, kernels="int8_static"))


def test_the_issue_15_file_is_refused_with_the_bound(tmp_path):
    """The 1 kB file that made the classifier die in DefaultCPUAllocator is a WeightFileError naming 512."""
    path = _crafted(tmp_path / "x.safetensors", {"conv": [32, 64, 128, 128], "fc": [200000, 200000]})
    with pytest.raises(WeightFileError, match=r"1\.\.512 \(the paper's widths are the largest: conv 32/64/128/128"):
        EmotionClassifier(path)


@pytest.mark.parametrize(
    "extra, message",
    [
        ({"classes": []}, "classes must be 1 to 100 distinct names"),
        ({"classes": ["a"] * 2}, "distinct"),
        ({"classes": [str(i) for i in range(10**4)]}, "classes must be"),
        ({"granularity": "row"}, "granularity"),
        ({"bits": True}, "bit width"),
    ],
)
def test_other_metadata_is_bounded_too(tmp_path, nothing_allocated, extra, message):
    path = _crafted(tmp_path / "crafted.safetensors", {"conv": [4, 6, 8, 8], "fc": [16, 8]}, **extra)
    with pytest.raises(WeightFileError, match=message):
        load_model(path)


def test_every_tensor_shape_is_checked_before_reading(tmp_path, small_file, nothing_allocated):
    header, body = _parts(small_file)
    # Names that the architecture has, but claiming the baseline's (much larger) shapes and sizes.
    big = dict(header)
    big["classifier.1.weight"] = {"dtype": "F32", "shape": [512, 4608], "data_offsets": [0, 512 * 4608 * 4]}
    for name in [k for k in header if k not in ("__metadata__", "classifier.1.weight")]:
        del big[name]
    bad = _assemble(tmp_path / "big.safetensors", big, b"")
    assert "past the end" in _error(load_model, bad)  # sizes are checked against the file length
    # A consistent file (offsets fine) whose tensors are not the architecture's.
    wrong = {k: torch.zeros(2) for k in ("features.0.weight", "features.0.bias")}
    bad = _crafted(tmp_path / "wrong.safetensors", {"conv": [4, 6, 8, 8], "fc": [16, 8]}, tensors=wrong)
    assert "missing tensors" in _error(load_model, bad)
    tensors = {k: torch.zeros(v.shape) for k, v in EmotionRecognitionModel(5, **SMALL).state_dict().items()}
    tensors["features.3.weight"] = torch.zeros(6, 4, 3, 1)
    bad = _crafted(tmp_path / "shape.safetensors", {"conv": [4, 6, 8, 8], "fc": [16, 8]}, tensors=tensors)
    assert "features.3.weight has shape (6, 4, 3, 1), expected (6, 4, 3, 3)" in _error(load_model, bad)
    tensors["features.3.weight"] = torch.zeros(6, 4, 3, 3)
    tensors["extra"] = torch.zeros(1)
    bad = _crafted(tmp_path / "extra.safetensors", {"conv": [4, 6, 8, 8], "fc": [16, 8]}, tensors=tensors)
    assert "unexpected tensors ['extra']" in _error(load_model, bad)


def test_quantized_and_native_shapes_are_checked_before_reading(tmp_path, small_model, monkeypatch):
    path = save_model(tmp_path / "q.safetensors", small_model, meta("int4"), 4)
    tensors = read_tensors(path)
    tensors["features.0.weight.codes"] = tensors["features.0.weight.codes"][:-1].clone()
    write_safetensors(tensors, read_header(path).metadata, path)
    monkeypatch.setattr(weights, "EmotionRecognitionModel", None)  # never reached
    assert "features.0.weight.codes has shape (53,), expected (54,)" in _error(load_model, path)
    native = MODELS / "int8_native.safetensors"
    tensors = read_tensors(native)
    tensors["classifier.4.weight_scale"] = tensors["classifier.4.weight_scale"][:7].clone()
    bad = tmp_path / "int8_native.safetensors"
    write_safetensors(tensors, read_header(native).metadata, bad)
    monkeypatch.setattr(native_int8, "NativeInt8Model", None)
    assert "classifier.4.weight_scale has shape (7,), expected (256,)" in _error(load_model, bad)


# --------------------------------------------------------------------------------------------------
# int8_native where PyTorch has no int8 kernels (NVIDIA's Jetson wheels: no QNNPACK)
@pytest.mark.parametrize("machine, engines", [("x86_64", ["none"]), ("aarch64", ["none", "fbgemm"])])
def test_int8_native_is_refused_without_qnnpack_or_fbgemm(monkeypatch, machine, engines):
    monkeypatch.setattr(type(torch.backends.quantized), "supported_engines", engines)
    monkeypatch.setattr(native_int8.platform, "machine", lambda: machine)
    path = MODELS / "int8_native.safetensors"
    for load in (load_model, EmotionClassifier):
        message = _error(load, path)
        assert message.startswith(f"{path}: int8_native needs PyTorch's quantized CPU kernels"), message
        assert "QNNPACK" in message and "int8 variant" in message and str(engines) in message
    model, _ = load_model(MODELS / "int8.safetensors")  # the stored-int8 variant still works
    assert isinstance(model, EmotionRecognitionModel)


def test_int8_native_uses_the_engine_there_is():
    assert native_int8.select_engine() in torch.backends.quantized.supported_engines
    model, info = load_model(MODELS / "int8_native.safetensors")
    with torch.no_grad():
        out = model(torch.from_numpy(np.zeros((1, 3, 48, 48), np.float32)))
    assert out.shape == (1, len(info["classes"]))
