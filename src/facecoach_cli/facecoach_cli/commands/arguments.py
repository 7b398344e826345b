"""Checks of the command line that run before anything starts: one line each (CommandError, exit code 2).

argparse turns '--rate nan' into a float happily; these say what is wrong with it while nothing runs yet.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import List, Optional, Tuple

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


def available_variants(models_dir: str, suffix: str = ".safetensors") -> Tuple[Path, List[str]]:
    """The folder (``models_dir``, '' = the installed models/) and the variants with a weight file there."""
    if not models_dir:
        from emotion_classifier.config import default_models_dir

        models_dir = default_models_dir()
    folder = Path(models_dir)
    return folder, sorted(p.name[: -len(suffix)] for p in folder.glob("*" + suffix)) if folder.is_dir() else []


def model_variant(variant: Optional[str], models_dir: str, suffix: str = ".safetensors") -> None:
    """A variant with a weight file in ``models_dir`` ('' = the installed models/), naming those there."""
    if variant is None:
        return
    folder, found = available_variants(models_dir, suffix)
    if variant not in found:
        raise CommandError(
            f"--model-variant {variant!r}: no {variant}{suffix} in {folder} "
            f"(available variants: {', '.join(found) or 'none'})"
        )
