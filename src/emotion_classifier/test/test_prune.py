"""Structured pruning: consistent shapes, fewer MACs, a plain model that loads without torch-pruning."""

import sys

import pytest
import torch
from emotion_testutil import meta

from emotion_classifier.model import EmotionRecognitionModel, count_macs, layer_widths
from emotion_classifier.tooling.prune import prune_model
from emotion_classifier.weights import load_model, save_model


@pytest.fixture(scope="module")
def baseline():
    torch.manual_seed(0)
    return EmotionRecognitionModel(5).eval()


def test_prune_shapes_forward_and_macs(baseline):
    pruned = prune_model(baseline, 0.55, 0.5)
    assert type(pruned) is EmotionRecognitionModel
    widths = layer_widths(pruned)
    assert widths["conv"] == [14, 28, 57, 57]
    assert widths["fc"] == [256, 128]
    assert pruned.classifier[-1].out_features == 5  # the classes are never pruned
    assert pruned.classifier[1].in_features == 57 * 6 * 6
    assert pruned(torch.randn(2, 3, 48, 48)).shape == (2, 5)
    assert count_macs(baseline) / count_macs(pruned) >= 4.0


def test_zero_ratio_keeps_the_function(baseline):
    x = torch.randn(2, 3, 48, 48)
    assert torch.allclose(prune_model(baseline, 0.0, 0.0)(x), baseline(x), atol=1e-5)


def test_bad_ratio_is_refused(baseline):
    with pytest.raises(ValueError, match="conv_ratio"):
        prune_model(baseline, 1.0, 0.5)


def test_pruned_file_loads_without_torch_pruning(tmp_path, baseline, monkeypatch):
    pruned = prune_model(baseline, 0.5, 0.5)
    path = save_model(tmp_path / "pruned.safetensors", pruned, meta("pruned"))
    monkeypatch.setitem(sys.modules, "torch_pruning", None)  # any import of it would now fail
    loaded, info = load_model(path)
    assert info["widths"] == layer_widths(pruned)
    x = torch.randn(2, 3, 48, 48)
    assert torch.allclose(loaded(x), pruned(x), atol=1e-6)
