"""The weight file on disk: safetensors tensors plus JSON metadata, read without running code.

Every variant (float, quantized, native int8) is one such file. This module only reads it and checks
the metadata every variant shares (``weight_writer`` writes it); ``weights`` and ``native_int8`` turn the
tensors into models. Runtime code: Python 3.6 syntax, PyTorch >= 1.10 calls.

The format (https://github.com/huggingface/safetensors): an 8-byte little-endian header length N,
N bytes of JSON (``{name: {dtype, shape, data_offsets}, "__metadata__": {str: str}}``), then the
tensors' raw little-endian bytes, back to back. The ``safetensors`` package reads and writes it when
it is installed; without it (it has no wheel for the Jetson's Python 3.6 on aarch64) a small numpy
reader and writer here do the same. Either way the header is checked here first, so a corrupt file
gets the same :class:`WeightFileError` from both, before any tensor is allocated.
"""

import json
import struct
from pathlib import Path
from typing import Any, Dict, Mapping, NamedTuple, Optional, Sequence, Tuple

import numpy as np
import torch

from .model import check_widths
from .preprocess import PREPROCESSING

FORMAT = "facecoach-emotion-1"
REQUIRED_META = (
    "format",
    "variant",
    "classes",
    "bits",
    "granularity",
    "widths",
    "preprocessing",
    "data_sha256",
    "command",
)
# Symmetric integer codes lie in [-qmax, qmax]; 32 is float. These are the bit widths a file may declare.
QMAX = {16: 32767, 8: 127, 4: 7}
BITS = (32,) + tuple(QMAX)
GRANULARITIES = ("tensor", "channel")
MAX_CLASSES = 100  # FaceCoach uses 5; a bound so that a crafted class list cannot make a huge last layer
# Our headers are a few kB; the bound keeps a corrupt length from costing memory (safetensors' own is 100 MB).
MAX_HEADER_BYTES = 1 << 20
# safetensors dtype -> little-endian numpy dtype. The dtypes numpy and PyTorch 1.10 share; BF16, F8 and
# the unsigned 16/32/64-bit types are refused (no FaceCoach file holds them).
DTYPES = {
    "BOOL": "?",
    "U8": "u1",
    "I8": "i1",
    "I16": "<i2",
    "I32": "<i4",
    "I64": "<i8",
    "F16": "<f2",
    "F32": "<f4",
    "F64": "<f8",
}


class WeightFileError(ValueError):
    """A weight file is missing, corrupt, or does not match what it claims to be."""


class TensorEntry(NamedTuple):
    """One tensor of the header: its dtype name, shape and byte range in the data section."""

    dtype: str
    shape: Tuple[int, ...]
    begin: int
    end: int


class Header(NamedTuple):
    """A checked safetensors header: the tensors, the raw (string) metadata, where the data starts, the file size."""

    tensors: Dict[str, TensorEntry]
    metadata: Dict[str, str]
    data_start: int
    file_size: int


def _numel(shape: Sequence[int]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def read_header(path) -> Header:
    """Read and check a safetensors header without reading any tensor data (WeightFileError naming the fault).

    Checked as the safetensors package checks it: the length fits in the file, the JSON is an object,
    every tensor has a known dtype, a shape and byte offsets that match, and the tensors tile the data
    section exactly (no gap, no overlap, nothing past the end of the file, no trailing bytes).
    """
    path = Path(path)
    if not path.is_file():
        raise WeightFileError(f"{path}: no such weight file")

    def bad(reason: str) -> WeightFileError:
        return WeightFileError(f"{path}: not a readable safetensors file ({reason})")

    size = path.stat().st_size
    if size < 8:
        raise bad(f"{size} bytes: too short for the 8-byte header length")
    with path.open("rb") as fh:
        (length,) = struct.unpack("<Q", fh.read(8))
        if length > MAX_HEADER_BYTES:
            raise bad(f"header length {length} bytes is over the {MAX_HEADER_BYTES}-byte limit")
        if length > size - 8:
            raise bad(f"header length {length} bytes, but only {size - 8} bytes follow: the file is truncated")
        raw = fh.read(length)
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise bad(f"the header is not JSON: {exc}") from None
    if not isinstance(header, dict):
        raise bad("the header is not a JSON object")
    metadata = header.pop("__metadata__", {})
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise bad("__metadata__ must map names to strings")
    data_size = size - 8 - length
    tensors = {}
    for name, entry in header.items():
        if not isinstance(entry, dict) or not {"dtype", "shape", "data_offsets"} <= set(entry):
            raise bad(f"tensor {name!r} needs a dtype, a shape and data_offsets")
        dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
        if dtype not in DTYPES:
            raise bad(f"tensor {name!r} has unsupported dtype {dtype!r} (supported: {', '.join(DTYPES)})")
        if not isinstance(shape, list) or not all(_is_count(d) for d in shape):
            raise bad(f"tensor {name!r} has shape {shape!r}, not a list of non-negative integers")
        if not (isinstance(offsets, list) and len(offsets) == 2 and all(_is_count(o) for o in offsets)):
            raise bad(f"tensor {name!r} has data_offsets {offsets!r}, not two non-negative integers")
        begin, end = offsets
        if end > data_size:
            raise bad(
                f"tensor {name!r} ends at data byte {end}, past the end of the file's {data_size} data bytes"
                " (truncated, or wrong offsets)"
            )
        need = _numel(shape) * np.dtype(DTYPES[dtype]).itemsize
        if end - begin != need:
            raise bad(
                f"tensor {name!r}: data_offsets [{begin}, {end}] hold {end - begin} bytes, {dtype} {shape} needs {need}"
            )
        tensors[name] = TensorEntry(dtype, tuple(shape), begin, end)
    at, previous = 0, None
    for name, entry in sorted(tensors.items(), key=lambda item: (item[1].begin, item[1].end)):
        if entry.begin < at:
            raise bad(f"tensors {previous!r} and {name!r} overlap (data bytes {entry.begin}..{at})")
        if entry.begin > at:
            raise bad(f"data bytes {at}..{entry.begin} belong to no tensor")
        at, previous = entry.end, name
    if at != data_size:
        raise bad(f"the last {data_size - at} data bytes belong to no tensor")
    return Header(tensors, dict(metadata), 8 + length, size)


def _numpy_read(path: Path, header: Header) -> Dict[str, torch.Tensor]:
    """The tensors of a checked file, read with numpy (the fallback when safetensors is not installed)."""
    data = path.read_bytes()
    if len(data) != header.file_size:
        raise WeightFileError(f"{path}: the file changed while it was read")
    out = {}
    for name, t in header.tensors.items():
        dtype = np.dtype(DTYPES[t.dtype])
        count = _numel(t.shape)
        if count:
            flat = np.frombuffer(data, dtype=dtype, count=count, offset=header.data_start + t.begin)
        else:
            flat = np.zeros(0, dtype)
        # A native-byte-order copy: aligned and writable, as torch.from_numpy wants.
        out[name] = torch.from_numpy(flat.astype(dtype.newbyteorder("="), copy=True).reshape(t.shape))
    return out


def read_metadata(path) -> Dict[str, Any]:
    """The checked metadata of a weight file, without loading its tensors.

    Besides the format, preprocessing and bit width, the class list and the layer widths are bounded
    here (widths by the architecture's, see ``model.check_widths``), so that no loader builds a network
    from numbers nobody checked.
    """
    path = Path(path)
    raw = read_header(path).metadata
    meta = {}
    for key, value in raw.items():
        try:
            meta[key] = json.loads(value)
        except ValueError as exc:
            raise WeightFileError(f"{path}: metadata {key!r} is not JSON ({exc})") from None
    missing = [k for k in REQUIRED_META if k not in meta]
    if missing:
        raise WeightFileError(f"{path}: metadata lacks {missing}; not a FaceCoach weight file")
    if meta["format"] != FORMAT:
        raise WeightFileError(f"{path}: format {meta['format']!r}, expected {FORMAT!r}")
    if meta["preprocessing"] != PREPROCESSING:
        raise WeightFileError(f"{path}: preprocessing {meta['preprocessing']} differs from this code's {PREPROCESSING}")
    if meta["bits"] not in BITS or isinstance(meta["bits"], bool):
        raise WeightFileError(f"{path}: unsupported bit width {meta['bits']}")
    if meta["granularity"] not in GRANULARITIES:
        raise WeightFileError(f"{path}: granularity {meta['granularity']!r}, expected one of {list(GRANULARITIES)}")
    check_classes(path, meta["classes"])
    try:
        meta["widths"] = check_widths(meta["widths"])
    except ValueError as exc:
        raise WeightFileError(f"{path}: {exc}") from None
    return meta


def check_classes(path, classes: object) -> None:
    """Refuse a class list that is not 1 to MAX_CLASSES distinct, non-empty names (the weight file's or the ONNX's)."""
    if (
        not isinstance(classes, list)
        or not 1 <= len(classes) <= MAX_CLASSES
        or not all(isinstance(c, str) and c for c in classes)
        or len(set(classes)) != len(classes)
    ):
        raise WeightFileError(f"{path}: classes must be 1 to {MAX_CLASSES} distinct names, not {str(classes)[:200]}")


def read_tensors(path, shapes: Optional[Mapping[str, Sequence[int]]] = None) -> Dict[str, torch.Tensor]:
    """The tensors of a weight file (WeightFileError when they cannot be read).

    With ``shapes`` ({name: shape} the architecture expects), the file must hold exactly those tensors
    with those shapes; that is checked from the header, before any tensor data is read.
    """
    path = Path(path)
    header = read_header(path)
    if shapes is not None:
        check_shapes(path, header, shapes)
    try:
        from safetensors.torch import load_file
    except ImportError:
        return _numpy_read(path, header)
    try:
        return load_file(str(path))
    except Exception as exc:  # the header passed our checks, so this is rare (an I/O error)
        raise WeightFileError(f"{path}: cannot read tensors ({exc})") from exc


def check_shapes(path, header: Header, shapes: Mapping[str, Sequence[int]]) -> None:
    """Refuse a file whose tensors are not exactly ``shapes`` (missing, unexpected, or another shape)."""
    missing = sorted(set(shapes) - set(header.tensors))
    if missing:
        raise WeightFileError(f"{path}: missing tensors {missing[:5]}")
    extra = sorted(set(header.tensors) - set(shapes))
    if extra:
        raise WeightFileError(f"{path}: unexpected tensors {extra[:5]}")
    for name in sorted(shapes):
        got, want = header.tensors[name].shape, tuple(int(d) for d in shapes[name])
        if got != want:
            raise WeightFileError(f"{path}: {name} has shape {got}, expected {want}")
