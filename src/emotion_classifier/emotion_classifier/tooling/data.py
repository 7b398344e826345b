"""Face datasets for training and evaluation: the FER2013 npz, the Kaggle csv, or an image folder.

Everything becomes N x 48 x 48 uint8 gray faces and labels indexed into ``CLASSES``. The data
never lives in the repository: the user passes a path.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from ..labels import CLASSES
from ..preprocess import to_gray48

# The original FER2013 label encoding -> our class index (angry and disgust are dropped).
FER_TO_CLASS = {2: 0, 3: 1, 6: 2, 4: 3, 5: 4}
SPLITS = {"train": 0, "val": 1, "test": 2}
FER_USAGE = {"Training": 0, "PublicTest": 1, "PrivateTest": 2}
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".pgm", ".webp"}


class DatasetError(ValueError):
    """The dataset path or its contents cannot be used."""


@dataclass
class FaceSet:
    """Faces of one split: ``images`` N x 48 x 48 uint8, ``labels`` N int64 in ``CLASSES`` order."""

    images: np.ndarray
    labels: np.ndarray
    source: str
    sha256: str
    n_images: int = 0  # images read (a folder may hold photos where no face was found)

    def __len__(self) -> int:
        return int(self.labels.shape[0])


def file_sha256(path: Path) -> str:
    """sha256 of a file, or of a folder's sorted file names and contents."""
    h = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for f in files:
        if path.is_dir():
            h.update(str(f.relative_to(path)).encode())
        with open(f, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


def _select(images: np.ndarray, fer_labels: np.ndarray, split_codes: np.ndarray, split: str) -> tuple:
    if split not in SPLITS:
        raise DatasetError(f"unknown split {split!r}; use one of {sorted(SPLITS)}")
    keep = (split_codes == SPLITS[split]) & np.isin(fer_labels, list(FER_TO_CLASS))
    labels = np.array([FER_TO_CLASS[int(v)] for v in fer_labels[keep]], dtype=np.int64)
    return np.ascontiguousarray(images[keep]), labels


def load_npz(path: Path, split: str) -> FaceSet:
    """FER2013 as one npz (``images``, ``labels`` in the original encoding, ``split`` 0/1/2)."""
    try:
        with np.load(path) as z:
            images, labels, splits = z["images"], z["labels"], z["split"]
    except (OSError, ValueError, KeyError) as exc:
        raise DatasetError(f"{path}: not a FER2013 npz with images/labels/split arrays ({exc})") from exc
    if images.ndim != 3 or images.shape[1:] != (48, 48) or images.dtype != np.uint8:
        raise DatasetError(f"{path}: images must be N x 48 x 48 uint8, got {images.shape} {images.dtype}")
    x, y = _select(images, labels, splits, split)
    return FaceSet(x, y, str(path), file_sha256(path), len(y))


def load_csv(path: Path, split: str) -> FaceSet:
    """The Kaggle ``fer2013.csv`` (columns emotion, pixels, Usage)."""
    images, labels, splits = [], [], []
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh)
        missing = {"emotion", "pixels", "Usage"} - set(reader.fieldnames or [])
        if missing:
            raise DatasetError(f"{path}: missing csv columns {sorted(missing)}")
        for row_no, row in enumerate(reader, start=2):
            pixels = np.array(row["pixels"].split(), dtype=np.uint8)
            if pixels.size != 48 * 48 or row["Usage"] not in FER_USAGE:
                raise DatasetError(f"{path}:{row_no}: expected 2304 pixels and a FER Usage value")
            images.append(pixels.reshape(48, 48))
            labels.append(int(row["emotion"]))
            splits.append(FER_USAGE[row["Usage"]])
    if not images:
        raise DatasetError(f"{path}: no rows")
    x, y = _select(np.stack(images), np.array(labels), np.array(splits), split)
    return FaceSet(x, y, str(path), file_sha256(path), len(y))


def load_folder(path: Path, face_finder: Optional[Callable[[np.ndarray], Optional[np.ndarray]]] = None) -> FaceSet:
    """Class-named subfolders of images (``fear/``, ``happy/`` ...; case-insensitive).

    A small image (up to 64 x 64) is taken as a face crop; a larger one is a photo and goes through
    ``face_finder`` (the node's face detector), which returns the face crop or None.
    """
    import cv2

    images, labels, n_read = [], [], 0
    folders = {p.name.lower(): p for p in path.iterdir() if p.is_dir()} if path.is_dir() else {}
    unknown = sorted(set(folders) - set(CLASSES))
    if not folders or unknown:
        raise DatasetError(
            f"{path}: expected subfolders named {list(CLASSES)}" + (f"; unknown {unknown}" if unknown else "")
        )
    for name, folder in folders.items():
        for f in sorted(folder.iterdir()):
            if f.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            img = cv2.imread(str(f), cv2.IMREAD_COLOR)
            if img is None:
                raise DatasetError(f"{f}: unreadable image")
            n_read += 1
            if max(img.shape[:2]) > 64:
                if face_finder is None:
                    raise DatasetError(f"{f}: a full photo needs a face detector")
                img = face_finder(img)
                if img is None:
                    continue
            images.append(to_gray48(img))
            labels.append(CLASSES.index(name))
    if n_read == 0:
        raise DatasetError(f"{path}: no images found")
    x = np.stack(images) if images else np.zeros((0, 48, 48), np.uint8)
    return FaceSet(x, np.array(labels, dtype=np.int64), str(path), file_sha256(path), n_read)


def load_faces(path, split: str = "test", face_finder=None) -> FaceSet:
    """Load faces from an npz, a Kaggle csv or an image folder (folders have no split)."""
    path = Path(path)
    if not path.exists():
        raise DatasetError(f"{path}: no such file or folder")
    if path.is_dir():
        return load_folder(path, face_finder)
    if path.suffix == ".npz":
        return load_npz(path, split)
    if path.suffix == ".csv":
        return load_csv(path, split)
    raise DatasetError(f"{path}: expected a .npz, a .csv or a folder")


def subset(faces: FaceSet, limit: int, seed: int = 0) -> FaceSet:
    """A fixed random subset of a face set (all of it when limit is 0 or larger than the set)."""
    if not limit or limit >= len(faces):
        return faces
    idx = np.sort(np.random.default_rng(seed).choice(len(faces), limit, replace=False))
    return FaceSet(faces.images[idx], faces.labels[idx], faces.source, faces.sha256, limit)
