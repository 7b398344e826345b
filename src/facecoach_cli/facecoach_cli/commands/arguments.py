"""Checks of the command line that run before anything starts: one line each (CommandError, exit code 2).

argparse turns '--rate nan' into a float happily; these say what is wrong with it while nothing runs yet.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

from ..errors import CommandError


def positive(option: str, value: Optional[float]) -> None:
    """A finite number > 0 (a rate, a timeout); None means not given."""
    if value is not None and not (math.isfinite(value) and value > 0):
        raise CommandError(f"{option} {value}: must be a finite number > 0")


def non_negative(option: str, value: Optional[float]) -> None:
    """A finite number >= 0 (a duration, where 0 means no limit); None means not given."""
    if value is not None and not (math.isfinite(value) and value >= 0):
        raise CommandError(f"{option} {value}: must be a finite number >= 0")


def readable_bag(bag) -> None:
    """A bag that opens (its metadata is read; BagError's one line otherwise)."""
    from facecoach_bag.reader import open_reader

    open_reader(bag).close()


def image_topic(topic: Optional[str]) -> None:
    """A ROS topic name for --image-topic: letters, digits, '_' and '/' ('~' and {} substitutions are not for this)."""
    if topic and not re.fullmatch(r"/?[A-Za-z][A-Za-z0-9_]*(/[A-Za-z][A-Za-z0-9_]*)*", topic):
        raise CommandError(f"--image-topic {topic!r}: not a topic name (e.g. /my_cam/image_raw or …/compressed)")


SUFFIXES = {"torch": ".safetensors", "onnxruntime": ".onnx"}  # the classifier's backends and their weight files


def available_variants(models_dir: str, suffix: str = ".safetensors") -> Tuple[Path, List[str]]:
    """The folder (``models_dir``, '' = the installed models/) and the variants with a ``suffix`` file there."""
    if not models_dir:
        from emotion_classifier.config import default_models_dir

        models_dir = default_models_dir()
    folder = Path(models_dir)
    return folder, sorted(p.name[: -len(suffix)] for p in folder.glob("*" + suffix)) if folder.is_dir() else []


def model_variant(variant: Optional[str], models_dir: str, backend: str = "auto") -> None:
    """A variant with a weight file for ``backend`` in ``models_dir`` ('' = the installed models/), naming those there.

    'auto' (the classifier's default) takes either file: the variant's file decides the backend.
    """
    if variant is None:
        return
    folder = available_variants(models_dir)[0]

    def found(suffix: str) -> Sequence[str]:
        return available_variants(str(folder), suffix)[1]

    wanted = SUFFIXES if backend == "auto" else {backend: SUFFIXES.get(backend, ".safetensors")}
    if not any(variant in found(suffix) for suffix in wanted.values()):
        files = " or ".join(variant + suffix for suffix in wanted.values())
        known = "; ".join(f"{b}: {', '.join(found(sx)) or 'none'}" for b, sx in SUFFIXES.items())
        raise CommandError(
            f"--model-variant {variant!r}: no {files} in {folder} for backend {backend} (available variants: {known})"
        )
