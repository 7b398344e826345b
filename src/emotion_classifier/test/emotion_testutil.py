"""Helpers for the emotion_classifier tests: tiny generated faces and metadata (no dataset needed)."""

import numpy as np

from emotion_classifier.labels import CLASSES

SMALL = {"conv_widths": (4, 6, 8, 8), "fc_widths": (16, 8)}
# Narrow, yet wide enough that the train command learns make_faces reliably in a few seconds.
TRAINABLE = {"conv_widths": (8, 16, 16, 16), "fc_widths": (64, 32)}
TRAIN_EPOCHS = 10  # of 4 batches each on the 400 training faces of the fer_npz fixture


def make_faces(n: int, seed: int = 0):
    """Separable random faces (a tooling FaceSet): class k brightens the k-th of five horizontal bands."""
    from emotion_classifier.tooling.data import FaceSet

    images, labels = make_face_images(n, seed)
    return FaceSet(images, labels, "generated", "0" * 64, n)


def make_face_images(n: int, seed: int = 0):
    """The images (N x 48 x 48 uint8) and labels of :func:`make_faces`, without the tooling (device profile)."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % len(CLASSES)
    images = rng.integers(0, 80, (n, 48, 48), dtype=np.uint8)
    for i, c in enumerate(labels):
        images[i, 4 + 8 * c : 12 + 8 * c, :] += 150
    return images, labels.astype(np.int64)


def write_fer_npz(path, n_per_split: dict) -> None:
    """A FER2013-style npz (original label encoding, split codes) of :func:`make_faces` faces, one seed per split."""
    from emotion_classifier.tooling.data import FER_TO_CLASS, SPLITS

    class_to_fer = {c: fer for fer, c in FER_TO_CLASS.items()}
    images, labels, splits = [], [], []
    for i, (split, n) in enumerate(n_per_split.items()):
        faces = make_faces(n, seed=i)
        images.append(faces.images)
        labels.append([class_to_fer[int(c)] for c in faces.labels])
        splits.append(np.full(n, SPLITS[split]))
    np.savez(path, images=np.concatenate(images), labels=np.concatenate(labels), split=np.concatenate(splits))


def meta(variant: str = "baseline") -> dict:
    """Minimal valid metadata for a weight file."""
    return {"variant": variant, "classes": list(CLASSES), "data_sha256": "0" * 64, "command": "pytest"}
