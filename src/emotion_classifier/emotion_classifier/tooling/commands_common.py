"""What the tooling commands share: the command line recorded in a file's metadata, and the float source."""

import argparse
import shlex
import sys
from pathlib import Path
from typing import Dict, Optional, Tuple

from torch import nn

from ..weights import WeightFileError, load_model
from .data import file_sha256


def command_line(args: Optional[argparse.Namespace] = None) -> str:
    """The command that made a file, for its metadata (``argv`` is set by ``cli.main``, else sys.argv)."""
    argv = getattr(args, "argv", None)
    return "./facecoach " + " ".join(shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv))


def load_float_source(path) -> Tuple[nn.Module, Dict[str, object], str]:
    """Model, metadata and sha256 of a float source file; quantized ones are refused (rounding twice)."""
    model, meta = load_model(path)
    if int(meta["bits"]) != 32 or meta.get("kernels"):
        raise WeightFileError(f"{path}: source must be a float (32-bit) model, this one is {meta['variant']!r}")
    return model, meta, file_sha256(Path(path))
