"""EmotionClassifier: a loaded weight file and predict(face) -> EmotionScores (no ROS)."""

from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import numpy as np
import torch

from .preprocess import preprocess
from .weights import WeightFileError, load_model

MODEL_SUFFIX = ".safetensors"


@dataclass(frozen=True)
class EmotionScores:
    """The classifier's answer for one face."""

    label: str
    confidence: float
    class_names: Tuple[str, ...]
    probabilities: Tuple[float, ...]


def variant_path(models_dir, variant: str) -> Path:
    """The weight file of a variant: ``<models_dir>/<variant>.safetensors``."""
    if not variant or "/" in variant or variant.startswith("."):
        raise WeightFileError(f"invalid variant name {variant!r}")
    return Path(models_dir) / (variant + MODEL_SUFFIX)


def available_variants(models_dir) -> List[str]:
    """The variants present in a models directory, sorted."""
    d = Path(models_dir)
    return sorted(p.name[: -len(MODEL_SUFFIX)] for p in d.glob("*" + MODEL_SUFFIX)) if d.is_dir() else []


def flip_averaged_proba(model: torch.nn.Module, x: torch.Tensor, flip_tta: bool) -> torch.Tensor:
    """Softmax of ``model`` on N x 3 x 48 x 48 inputs, with ``flip_tta`` averaged with the mirrored inputs'.

    One batch of 2N (test-time flips: +1 pt on the FER2013 test split, see models/README.md).
    """
    if not flip_tta:
        return torch.softmax(model(x), dim=1)
    p = torch.softmax(model(torch.cat([x, torch.flip(x, dims=[3])])), dim=1)
    return (p[: len(x)] + p[len(x) :]) / 2


class EmotionClassifier:
    """One loaded model: the variant, its metadata and a predict() for BGR/gray face crops."""

    def __init__(self, path, device: str = "cpu", flip_tta: bool = False) -> None:
        """Load a weight file; ``flip_tta`` averages each face's probabilities with its mirror image's."""
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise WeightFileError(f"device {device!r} asked for, but this PyTorch sees no CUDA GPU")
        self.path = Path(path)
        self.device = device
        self.flip_tta = flip_tta  # may be changed between two predictions
        self.model, self.meta = load_model(self.path, device)
        self.variant = self.path.name[: -len(MODEL_SUFFIX)] if self.path.name.endswith(MODEL_SUFFIX) else self.path.stem
        self.class_names: Tuple[str, ...] = tuple(self.meta["classes"])
        # A first forward pass here, off the frame path, so the first frame is not slow.
        self.predict_batch(np.zeros((1, 48, 48), np.uint8))

    @torch.inference_mode()
    def predict_batch(self, faces: Sequence[np.ndarray]) -> np.ndarray:
        """Softmax probabilities (N x classes) for N face images (any size; gray, BGR or BGRA uint8)."""
        x = torch.from_numpy(np.concatenate([preprocess(f) for f in faces])).to(self.device)
        return flip_averaged_proba(self.model, x, self.flip_tta).cpu().numpy()

    def predict(self, face: np.ndarray) -> EmotionScores:
        """Classify one face crop."""
        p = self.predict_batch([face])[0]
        i = int(p.argmax())
        return EmotionScores(self.class_names[i], float(p[i]), self.class_names, tuple(float(v) for v in p))

    def describe(self) -> Dict[str, object]:
        """Short facts for logs and diagnostics."""
        return {"variant": self.variant, "path": str(self.path), "device": self.device, "bits": self.meta["bits"]}
