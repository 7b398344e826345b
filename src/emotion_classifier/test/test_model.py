"""The paper's network: size, cost and widths."""

import torch

from emotion_classifier.model import EmotionRecognitionModel, count_macs, count_params, layer_widths


def test_paper_parameter_count_and_macs():
    model = EmotionRecognitionModel(5)
    assert count_params(model) == 2_602_181
    # conv 1.99M + 10.62M + 10.62M + 0.59M, FC 2.36M + 0.13M + 1.3k (the paper rounds its own count to 26.57M)
    assert count_macs(model) == 26_305_792
    assert layer_widths(model) == {"conv": [32, 64, 128, 128], "fc": [512, 256]}


def test_forward_shape_for_narrow_widths():
    model = EmotionRecognitionModel(5, (4, 6, 8, 8), (16, 8)).eval()
    assert model(torch.zeros(3, 3, 48, 48)).shape == (3, 5)
    assert layer_widths(model) == {"conv": [4, 6, 8, 8], "fc": [16, 8]}
