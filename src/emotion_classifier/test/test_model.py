"""The paper's network: size, cost and widths."""

import pytest
import torch

from emotion_classifier.model import (
    MAX_WIDTHS,
    EmotionRecognitionModel,
    check_widths,
    count_macs,
    count_params,
    layer_widths,
    state_shapes,
)


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


@pytest.mark.parametrize("classes, conv, fc", [(5, (32, 64, 128, 128), (512, 256)), (3, (4, 6, 8, 8), (16, 8))])
def test_state_shapes_are_the_built_models(classes, conv, fc):
    built = {k: tuple(v.shape) for k, v in EmotionRecognitionModel(classes, conv, fc).state_dict().items()}
    assert state_shapes(classes, conv, fc) == built


def test_widths_are_bounded_by_the_papers():
    assert check_widths({"conv": list(MAX_WIDTHS["conv"]), "fc": list(MAX_WIDTHS["fc"])}) == layer_widths(
        EmotionRecognitionModel(5)
    )
    assert check_widths({"conv": [1, 1, 1, 1], "fc": [1, 1]}) == {"conv": [1, 1, 1, 1], "fc": [1, 1]}
    for bad in ({"conv": [33, 64, 128, 128], "fc": [512, 256]}, {"conv": [32, 64, 128, 128], "fc": [512, 257]}):
        with pytest.raises(ValueError, match="outside 1..(32|256)"):
            check_widths(bad)
