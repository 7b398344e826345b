"""What the tooling commands share: the command line recorded in a file's metadata, and the float source."""

import argparse
import shlex
import sys
from pathlib import Path
from typing import Dict, Optional, Tuple

import numpy as np
from torch import nn

from ..labels import CLASSES
from ..weights import WeightFileError, load_model
from .data import DatasetError, FaceSet, file_sha256


def command_line(args: Optional[argparse.Namespace] = None) -> str:
    """The command that made a file, for its metadata (``argv`` is set by ``cli.main``, else sys.argv)."""
    argv = getattr(args, "argv", None)
    return "./facecoach " + " ".join(shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv))


def positive_int(text: str) -> int:
    """An argparse type: an integer >= 1 (a count of runs, epochs, faces)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


def load_float_source(path) -> Tuple[nn.Module, Dict[str, object], str]:
    """Model, metadata and sha256 of a float source file; quantized ones are refused (rounding twice)."""
    model, meta = load_model(path)
    if int(meta["bits"]) != 32 or meta.get("kernels"):
        raise WeightFileError(f"{path}: source must be a float (32-bit) model, this one is {meta['variant']!r}")
    return model, meta, file_sha256(Path(path))


def soft_labels_file(path: str, train_set: FaceSet) -> np.ndarray:
    """The probabilities of a ``soft-labels`` npz, checked against the training split they must describe."""
    import json

    try:
        with np.load(path) as z:
            probs, info = z["probs"], json.loads(str(z["info"]))
    except (OSError, ValueError, KeyError) as exc:
        raise DatasetError(f"{path}: not a soft-labels file ({exc})") from None
    if info.get("data_sha256") != train_set.sha256 or probs.shape != (len(train_set), len(CLASSES)):
        raise DatasetError(f"{path}: made for other data than these {len(train_set)} training faces")
    return probs
