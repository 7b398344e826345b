"""Dependency-aware structured pruning (torch-pruning) of the paper's model, as a plain narrower model.

torch-pruning removes whole conv channels and FC neurons, following the dependencies between layers
(a conv's output channels, the next conv's inputs, the Flatten -> Linear fan-out). The result is copied
into an ordinary ``EmotionRecognitionModel`` built from the new widths, so the weight file loads
without torch-pruning (only the tooling needs it).
"""

from __future__ import annotations

import copy
from typing import Optional

import torch
from torch import nn

from ..model import INPUT_SIZE, EmotionRecognitionModel, layer_widths


def _check_ratio(name: str, ratio: float) -> None:
    if not 0.0 <= ratio < 1.0:
        raise ValueError(f"{name} must be in [0, 1), got {ratio}")


def prune_model(
    model: EmotionRecognitionModel, conv_ratio: float, fc_ratio: float, round_to: Optional[int] = None
) -> EmotionRecognitionModel:
    """Remove ``conv_ratio`` of every conv's channels and ``fc_ratio`` of every hidden FC layer's neurons.

    Channels with the smallest L2 group magnitude go first. The final classifier keeps its outputs.
    Returns a new plain model; ``model`` is not changed.
    """
    import torch_pruning as tp

    _check_ratio("conv_ratio", conv_ratio)
    _check_ratio("fc_ratio", fc_ratio)
    work = copy.deepcopy(model).cpu().eval()
    convs = [m for m in work.modules() if isinstance(m, nn.Conv2d)]
    linears = [m for m in work.modules() if isinstance(m, nn.Linear)]
    head = linears[-1]
    ratios = {m: conv_ratio for m in convs}
    ratios.update({m: fc_ratio for m in linears[:-1]})
    example = torch.zeros(1, convs[0].in_channels, INPUT_SIZE, INPUT_SIZE)
    pruner = tp.pruner.MetaPruner(
        work,
        example,
        importance=tp.importance.GroupMagnitudeImportance(p=2),
        pruning_ratio=0.0,  # every prunable layer has its own entry in pruning_ratio_dict
        pruning_ratio_dict=ratios,
        ignored_layers=[head],  # never drop a class
        round_to=round_to,
    )
    pruner.step()
    return to_plain(work, num_classes=head.out_features)


def to_plain(model: nn.Module, num_classes: int) -> EmotionRecognitionModel:
    """Copy a (pruned) model's weights into a fresh ``EmotionRecognitionModel`` of the same widths."""
    widths = layer_widths(model)
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    dropout = next((m.p for m in model.modules() if isinstance(m, nn.Dropout)), 0.5)
    plain = EmotionRecognitionModel(num_classes, widths["conv"], widths["fc"], convs[0].in_channels, dropout)
    plain.load_state_dict({k: v.detach().clone() for k, v in model.state_dict().items()})
    return plain.eval()
