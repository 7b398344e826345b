"""The paper's EmotionRecognitionModel (nn.Module only; no I/O, no ROS)."""

from typing import Any, Dict, List, Sequence, Tuple

import torch
from torch import nn

# The paper's layer widths: three 3x3 convolutions, a 1x1 convolution, then two hidden FC layers.
BASELINE_WIDTHS = {"conv": (32, 64, 128, 128), "fc": (512, 256)}
# The largest widths a weight file may declare: the paper's (pruning only narrows layers). Loaders check
# a file's widths against these before they build anything, so a crafted file cannot ask for gigabytes.
MAX_WIDTHS = BASELINE_WIDTHS
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


def check_widths(widths: Any) -> Dict[str, List[int]]:
    """A weight file's ``widths`` metadata as ``{"conv": [4 ints], "fc": [2 ints]}``, each in 1..MAX_WIDTHS.

    Raises ValueError naming the first width out of bounds.
    """
    limits = "the paper's widths are the largest: conv {}, fc {}".format(
        "/".join(map(str, MAX_WIDTHS["conv"])), "/".join(map(str, MAX_WIDTHS["fc"]))
    )
    if not isinstance(widths, dict) or set(widths) != {"conv", "fc"}:
        raise ValueError(f"widths {str(widths)[:200]} is not {{'conv': [4 widths], 'fc': [2 widths]}}")
    out = {}
    for kind in ("conv", "fc"):
        values, maxima = widths[kind], MAX_WIDTHS[kind]
        if not isinstance(values, list) or len(values) != len(maxima):
            raise ValueError(f"widths.{kind}={str(values)[:200]}: expected {len(maxima)} widths")
        for i, (w, top) in enumerate(zip(values, maxima)):
            if not isinstance(w, int) or isinstance(w, bool) or not 1 <= w <= top:
                raise ValueError(f"widths.{kind}[{i}]={w!r} is outside 1..{top} ({limits})")
        out[kind] = [int(w) for w in values]
    return out


def state_shapes(
    num_classes: int, conv_widths: Sequence[int], fc_widths: Sequence[int], in_channels: int = 3
) -> Dict[str, Tuple[int, ...]]:
    """The state_dict shapes of ``EmotionRecognitionModel(num_classes, conv_widths, fc_widths)``, not built."""
    c1, c2, c3, c4 = (int(c) for c in conv_widths)
    f1, f2 = (int(f) for f in fc_widths)
    spatial = INPUT_SIZE // 8
    layers = {
        "features.0": (c1, in_channels, 3, 3),
        "features.3": (c2, c1, 3, 3),
        "features.6": (c3, c2, 3, 3),
        "features.9": (c4, c3, 1, 1),
        "classifier.1": (f1, c4 * spatial * spatial),
        "classifier.4": (f2, f1),
        "classifier.7": (int(num_classes), f2),
    }
    shapes = {}
    for name, weight in layers.items():
        shapes[name + ".weight"] = weight
        shapes[name + ".bias"] = (weight[0],)
    return shapes
