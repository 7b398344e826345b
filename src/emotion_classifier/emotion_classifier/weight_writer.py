"""Writing weight files (see ``weight_file`` for the format): safetensors when installed, else numpy.

Runtime code too (Python 3.6 syntax, PyTorch >= 1.10 calls): ``weights.save_model`` writes on the device.
"""

import json
import struct
from pathlib import Path
from typing import Any, Dict, Mapping

import numpy as np
import torch

from .weight_file import DTYPES, REQUIRED_META

_TORCH_TO_DTYPE = {
    torch.bool: "BOOL",
    torch.uint8: "U8",
    torch.int8: "I8",
    torch.int16: "I16",
    torch.int32: "I32",
    torch.int64: "I64",
    torch.float16: "F16",
    torch.float32: "F32",
    torch.float64: "F64",
}


def _numpy_write(tensors: Mapping[str, torch.Tensor], metadata: Dict[str, str], path: Path) -> None:
    """Write a safetensors file with numpy (the fallback when safetensors is not installed)."""
    # Widest dtypes first, then by name, as safetensors orders them, so every tensor stays aligned.
    arrays = []
    for name, tensor in tensors.items():
        if tensor.dtype not in _TORCH_TO_DTYPE:
            raise ValueError(f"{name}: dtype {tensor.dtype} cannot be written")
        dtype = _TORCH_TO_DTYPE[tensor.dtype]
        array = tensor.detach().cpu().contiguous().numpy().astype(np.dtype(DTYPES[dtype]), copy=False)
        arrays.append((-array.dtype.itemsize, name, dtype, array))
    arrays.sort(key=lambda a: a[:2])
    header: Dict[str, Any] = {"__metadata__": metadata} if metadata else {}
    at = 0
    for _, name, dtype, array in arrays:
        header[name] = {"dtype": dtype, "shape": list(array.shape), "data_offsets": [at, at + array.nbytes]}
        at += array.nbytes
    raw = json.dumps(header, separators=(",", ":")).encode("utf-8")
    raw += b" " * (-len(raw) % 8)  # safetensors pads the header with spaces to 8 bytes
    with path.open("wb") as fh:
        fh.write(struct.pack("<Q", len(raw)) + raw)
        for *_, array in arrays:
            fh.write(array.tobytes())


def write_safetensors(tensors: Mapping[str, torch.Tensor], metadata: Dict[str, str], path) -> None:
    """Write a plain safetensors file: the safetensors package when it is installed, else numpy."""
    try:
        from safetensors.torch import save_file
    except ImportError:
        _numpy_write(tensors, metadata, Path(path))
    else:
        save_file(dict(tensors), str(path), metadata=metadata)


def write_weight_file(tensors: Dict[str, torch.Tensor], metadata: Dict[str, Any], path) -> Path:
    """Write tensors and JSON-encoded metadata atomically (a temporary file renamed), readable by all."""
    missing = [k for k in REQUIRED_META if k not in metadata]
    if missing:
        raise ValueError(f"metadata lacks {missing}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    write_safetensors(tensors, {k: json.dumps(v) for k, v in metadata.items()}, tmp)
    tmp.chmod(0o644)  # safetensors writes 0600; weight files are meant to be shared
    tmp.replace(path)
    return path
