"""The distillation losses: soft targets from a cached ensemble's probabilities, or from teacher models."""

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn


def teachers_loss(logits: torch.Tensor, x: torch.Tensor, teachers: Sequence[nn.Module], t: float) -> torch.Tensor:
    """KL(teachers' mean flip-averaged softened probabilities || student's), scaled by t**2 (Hinton et al.)."""
    with torch.no_grad():
        both = torch.cat([x, torch.flip(x, dims=[3])])
        target = sum(torch.softmax(m(both) / t, dim=1) for m in teachers) / len(teachers)
        target = (target[: len(x)] + target[len(x) :]) / 2
    return F.kl_div(F.log_softmax(logits / t, dim=1), target, reduction="batchmean") * t * t


def soft_target_loss(logits: torch.Tensor, probs: torch.Tensor, t: float) -> torch.Tensor:
    """KL(probs softened at temperature t || student's softened prediction), scaled by t**2 (Hinton et al.).

    Softening fixed probabilities p at t is softmax(log p / t): the same as softening the logits behind them.
    """
    target = torch.softmax(torch.log(probs.clamp_min(1e-8)) / t, dim=1)
    return F.kl_div(F.log_softmax(logits / t, dim=1), target, reduction="batchmean") * t * t
