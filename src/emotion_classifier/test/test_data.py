"""Dataset loaders: FER npz, Kaggle csv, class-named image folders, and their errors."""

import cv2
import numpy as np
import pytest

from emotion_classifier.labels import CLASSES
from emotion_classifier.tooling.data import DatasetError, load_faces


def _fer(n=12):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (n, 48, 48), dtype=np.uint8)
    labels = np.array([0, 1, 2, 3, 4, 5, 6] * 2)[:n]  # 0 angry and 1 disgust are dropped
    split = np.array([0, 0, 0, 0, 1, 1, 2, 2, 2, 2, 2, 2])[:n]
    return images, labels, split


def test_npz_selects_split_and_five_classes(tmp_path):
    images, labels, split = _fer()
    path = tmp_path / "fer.npz"
    np.savez(path, images=images, labels=labels, split=split)
    test = load_faces(path, "test")
    keep = (split == 2) & (labels >= 2)
    assert len(test) == keep.sum()
    assert np.array_equal(test.images, images[keep])
    # FER 2 fear, 3 happy, 4 sad, 5 surprise, 6 neutral -> our order
    assert [CLASSES[i] for i in test.labels] == [
        {2: "fear", 3: "happy", 4: "sad", 5: "surprise", 6: "neutral"}[v] for v in labels[keep]
    ]
    with pytest.raises(DatasetError, match="unknown split"):
        load_faces(path, "dev")


def test_npz_errors(tmp_path):
    bad = tmp_path / "bad.npz"
    np.savez(bad, images=np.zeros((2, 10, 10), np.uint8), labels=np.zeros(2), split=np.zeros(2))
    with pytest.raises(DatasetError, match="48 x 48"):
        load_faces(bad)
    missing = tmp_path / "missing.npz"
    np.savez(missing, x=np.zeros(1))
    with pytest.raises(DatasetError, match="not a FER2013 npz"):
        load_faces(missing)
    with pytest.raises(DatasetError, match="no such"):
        load_faces(tmp_path / "nothing.npz")
    (tmp_path / "x.txt").write_text("x")
    with pytest.raises(DatasetError, match="expected a .npz"):
        load_faces(tmp_path / "x.txt")


def test_csv_matches_npz(tmp_path):
    images, labels, split = _fer()
    usage = {0: "Training", 1: "PublicTest", 2: "PrivateTest"}
    rows = ["emotion,pixels,Usage"] + [
        f"{lab},{' '.join(map(str, img.reshape(-1)))},{usage[int(s)]}" for img, lab, s in zip(images, labels, split)
    ]
    path = tmp_path / "fer2013.csv"
    path.write_text("\n".join(rows) + "\n")
    np.savez(tmp_path / "fer.npz", images=images, labels=labels, split=split)
    for name in ("train", "val", "test"):
        a, b = load_faces(path, name), load_faces(tmp_path / "fer.npz", name)
        assert np.array_equal(a.images, b.images) and np.array_equal(a.labels, b.labels)
    (tmp_path / "bad.csv").write_text("emotion,pixels\n1,2 3\n")
    with pytest.raises(DatasetError, match="missing csv columns"):
        load_faces(tmp_path / "bad.csv")
    (tmp_path / "short.csv").write_text("emotion,pixels,Usage\n3,1 2 3,Training\n")
    with pytest.raises(DatasetError, match="2304 pixels"):
        load_faces(tmp_path / "short.csv")


def test_folder_crops_and_photos(tmp_path):
    rng = np.random.default_rng(0)
    for c in CLASSES:
        (tmp_path / c.upper()).mkdir()
        cv2.imwrite(str(tmp_path / c.upper() / "a.png"), rng.integers(0, 256, (48, 48, 3), dtype=np.uint8))
    cv2.imwrite(str(tmp_path / "HAPPY" / "photo.png"), np.zeros((200, 300, 3), np.uint8))
    with pytest.raises(DatasetError, match="face detector"):
        load_faces(tmp_path)
    faces = load_faces(tmp_path, face_finder=lambda img: None)  # no face found in the photo
    assert faces.n_images == 6 and len(faces) == 5
    assert sorted(faces.labels.tolist()) == [0, 1, 2, 3, 4]
    found = load_faces(tmp_path, face_finder=lambda img: img[:100, :100])
    assert len(found) == 6 and found.images.shape == (6, 48, 48)


def test_folder_errors(tmp_path):
    (tmp_path / "angry").mkdir()
    with pytest.raises(DatasetError, match="unknown"):
        load_faces(tmp_path)
    (tmp_path / "angry").rmdir()
    (tmp_path / "fear").mkdir()
    with pytest.raises(DatasetError, match="no images"):
        load_faces(tmp_path)
    (tmp_path / "fear" / "x.png").write_bytes(b"not an image")
    with pytest.raises(DatasetError, match="unreadable"):
        load_faces(tmp_path)
