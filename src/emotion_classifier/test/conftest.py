"""Shared fixtures for the emotion_classifier tests."""

import sys
from pathlib import Path
from typing import NamedTuple

import pytest
import torch

# Import the package from this source tree even when the workspace is not sourced, and the test helpers
# also under --import-mode=importlib (which puts no test folder on sys.path). Nothing here imports the
# tooling at module level: the runtime's tests also run in the device profile (Python 3.6, no tooling).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from emotion_testutil import SMALL, TRAIN_EPOCHS, TRAINABLE, meta, write_fer_npz  # noqa: E402

from emotion_classifier.labels import CLASSES  # noqa: E402
from emotion_classifier.model import EmotionRecognitionModel  # noqa: E402
from emotion_classifier.weights import save_model  # noqa: E402


class TrainedRun(NamedTuple):
    """What the ``train`` command made: the weight file, its workdir and the init file it started from."""

    weights: Path
    workdir: Path
    init: Path


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)
    torch.manual_seed(0)


@pytest.fixture
def small_model() -> EmotionRecognitionModel:
    return EmotionRecognitionModel(len(CLASSES), **SMALL).eval()


@pytest.fixture
def small_file(tmp_path, small_model) -> Path:
    return save_model(tmp_path / "baseline.safetensors", small_model, meta())


@pytest.fixture(scope="session")
def fer_npz(tmp_path_factory) -> Path:
    """A FER-style npz of separable generated faces: 400 train, 50 val, 100 test."""
    path = tmp_path_factory.mktemp("data") / "fer.npz"
    write_fer_npz(path, {"train": 400, "val": 50, "test": 100})
    return path


@pytest.fixture(scope="session")
def trained(tmp_path_factory, fer_npz) -> TrainedRun:
    """A small model trained by the ``train`` command on ``fer_npz`` (from a saved random init)."""
    from emotion_classifier.tooling import cli  # tooling: not importable in the device profile (Python 3.6)

    root = tmp_path_factory.mktemp("trained")
    torch.manual_seed(0)
    init = save_model(root / "init.safetensors", EmotionRecognitionModel(len(CLASSES), **TRAINABLE), meta("init"))
    out, workdir = root / "models" / "baseline.safetensors", root / "run"
    args = ["train", "--data", str(fer_npz), "--init", str(init), "--epochs", str(TRAIN_EPOCHS), "--lr", "3e-3"]
    args += ["--warmup-epochs", "0", "--threads", "1", "--workdir", str(workdir), "--out", str(out), "--no-progress"]
    assert cli.main(args) == 0
    return TrainedRun(out, workdir, init)
