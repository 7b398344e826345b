"""Shared fixtures for the emotion_classifier tests."""

import sys
from pathlib import Path

import pytest
import torch

# Import the package from this source tree even when the workspace is not sourced, and the test helpers
# also under --import-mode=importlib (which puts no test folder on sys.path).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from emotion_testutil import SMALL, meta  # noqa: E402

from emotion_classifier.data import CLASSES  # noqa: E402
from emotion_classifier.model import EmotionRecognitionModel  # noqa: E402
from emotion_classifier.weights import save_model  # noqa: E402


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
