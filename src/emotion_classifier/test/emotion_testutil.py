"""Helpers for the emotion_classifier tests: tiny generated faces and metadata (no dataset needed)."""

import numpy as np

from emotion_classifier.data import CLASSES, FaceSet

SMALL = {"conv_widths": (4, 6, 8, 8), "fc_widths": (16, 8)}


def make_faces(n: int, seed: int = 0) -> FaceSet:
    """Learnable random faces: the class sets the brightness of the upper half."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % len(CLASSES)
    images = rng.integers(0, 60, (n, 48, 48), dtype=np.uint8)
    images[:, :24, :] += (labels * 45).astype(np.uint8)[:, None, None]
    return FaceSet(images, labels.astype(np.int64), "generated", "0" * 64, n)


def meta(variant: str = "baseline") -> dict:
    """Minimal valid metadata for a weight file."""
    return {"variant": variant, "classes": list(CLASSES), "data_sha256": "0" * 64, "command": "pytest"}
