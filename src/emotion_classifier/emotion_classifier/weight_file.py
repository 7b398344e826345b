"""The weight file on disk: safetensors tensors plus JSON metadata, read without running code.

Every variant (float, quantized, native int8) is one such file. This module only writes and reads
it and checks the metadata every variant shares; ``weights`` and ``native_int8`` turn the tensors
into models. Runtime code: Python 3.6 syntax, PyTorch >= 1.10 calls.
"""

import json
from pathlib import Path
from typing import Any, Dict

import torch

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


class WeightFileError(ValueError):
    """A weight file is missing, corrupt, or does not match what it claims to be."""


def write_weight_file(tensors: Dict[str, torch.Tensor], metadata: Dict[str, Any], path) -> Path:
    """Write tensors and JSON-encoded metadata atomically (a temporary file renamed), readable by all."""
    from safetensors.torch import save_file

    missing = [k for k in REQUIRED_META if k not in metadata]
    if missing:
        raise ValueError(f"metadata lacks {missing}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    save_file(tensors, str(tmp), metadata={k: json.dumps(v) for k, v in metadata.items()})
    tmp.chmod(0o644)  # safetensors writes 0600; weight files are meant to be shared
    tmp.replace(path)
    return path


def read_metadata(path) -> Dict[str, object]:
    """The metadata of a weight file, without loading its tensors."""
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise WeightFileError(f"{path}: no such weight file")
    try:
        with safe_open(str(path), framework="pt") as fh:
            raw = fh.metadata() or {}
        meta = {k: json.loads(v) for k, v in raw.items()}
    except Exception as exc:  # safetensors raises its own error types for corrupt headers
        raise WeightFileError(f"{path}: not a readable safetensors file ({exc})") from exc
    missing = [k for k in REQUIRED_META if k not in meta]
    if missing:
        raise WeightFileError(f"{path}: metadata lacks {missing}; not a FaceCoach weight file")
    if meta["format"] != FORMAT:
        raise WeightFileError(f"{path}: format {meta['format']!r}, expected {FORMAT!r}")
    if meta["preprocessing"] != PREPROCESSING:
        raise WeightFileError(f"{path}: preprocessing {meta['preprocessing']} differs from this code's {PREPROCESSING}")
    if meta["bits"] not in BITS:
        raise WeightFileError(f"{path}: unsupported bit width {meta['bits']}")
    return meta


def read_tensors(path) -> Dict[str, torch.Tensor]:
    """The tensors of a weight file (WeightFileError when they cannot be read)."""
    from safetensors.torch import load_file

    try:
        return load_file(str(path))
    except Exception as exc:
        raise WeightFileError(f"{path}: cannot read tensors ({exc})") from exc
