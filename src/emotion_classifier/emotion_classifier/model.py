"""The paper's EmotionRecognitionModel (nn.Module only; no I/O, no ROS)."""

from typing import Sequence

import torch
from torch import nn

# The paper's layer widths: three 3x3 convolutions, a 1x1 convolution, then two hidden FC layers.
BASELINE_WIDTHS = {"conv": (32, 64, 128, 128), "fc": (512, 256)}
INPUT_SIZE = 48


class EmotionRecognitionModel(nn.Module):
    """Conv 32/64/128 (3x3, each + 2x2 max-pool), 1x1 conv 128, FC 4608->512->256->classes, dropout 0.5.

    With the default widths and 5 classes it has 2,602,181 parameters. Pruned models are the same
    network with narrower layers (``conv_widths``/``fc_widths``), so they load without torch-pruning.
    """

    def __init__(
        self,
        num_classes: int = 5,
        conv_widths: Sequence[int] = BASELINE_WIDTHS["conv"],
        fc_widths: Sequence[int] = BASELINE_WIDTHS["fc"],
        in_channels: int = 3,
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        c1, c2, c3, c4 = (int(c) for c in conv_widths)
        f1, f2 = (int(f) for f in fc_widths)
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, c1, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.Conv2d(c1, c2, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.Conv2d(c2, c3, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.Conv2d(c3, c4, 1),
            nn.ReLU(inplace=True),
        )
        spatial = INPUT_SIZE // 8
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(c4 * spatial * spatial, f1),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(f1, f2),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(f2, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return class logits for a batch of N x 3 x 48 x 48 normalized faces."""
        return self.classifier(self.features(x))


def layer_widths(model: nn.Module) -> dict:
    """Read the conv/FC widths of a (possibly pruned) model, for the weight file's metadata."""
    convs = [m.out_channels for m in model.modules() if isinstance(m, nn.Conv2d)]
    fcs = [m.out_features for m in model.modules() if isinstance(m, nn.Linear)][:-1]
    return {"conv": convs, "fc": fcs}


def count_macs(model: nn.Module) -> int:
    """Multiply-accumulates of one 3x48x48 forward pass (Conv2d and Linear layers)."""
    macs = 0
    size = INPUT_SIZE
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            k = m.kernel_size[0] * m.kernel_size[1]
            macs += size * size * m.out_channels * (m.in_channels // m.groups) * k
        elif isinstance(m, nn.MaxPool2d):
            size //= 2
        elif isinstance(m, nn.Linear):
            macs += m.in_features * m.out_features
    return macs


def count_params(model: nn.Module) -> int:
    """Number of parameters."""
    return sum(p.numel() for p in model.parameters())
