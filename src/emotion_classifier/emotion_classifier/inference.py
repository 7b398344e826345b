"""EmotionClassifier: a loaded weight file and predict(face) -> EmotionScores (no ROS)."""

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import numpy as np
import torch

from .preprocess import preprocess
from .weights import WeightFileError, load_model

MODEL_SUFFIX = ".safetensors"
BACKENDS = ("torch", "onnxruntime")
AUTO = "auto"  # backend: the one whose file the variant has (torch first), so model_variant alone switches it
_SUFFIX = {"torch": MODEL_SUFFIX, "onnxruntime": ".onnx"}  # onnx_backend.ONNX_SUFFIX, without importing it


@dataclass(frozen=True)
class EmotionScores:
    """The classifier's answer for one face."""

    label: str
    confidence: float
    class_names: Tuple[str, ...]
    probabilities: Tuple[float, ...]


def variant_path(models_dir, variant: str, backend: str = "torch") -> Path:
    """The file of a variant: ``<models_dir>/<variant>.safetensors`` (torch) or ``<variant>.onnx`` (onnxruntime)."""
    if not variant or "/" in variant or variant.startswith("."):
        raise WeightFileError(f"invalid variant name {variant!r}")
    if backend not in _SUFFIX:
        raise WeightFileError(f"backend {backend!r}: must be one of {list(BACKENDS)}")
    return Path(models_dir) / (variant + _SUFFIX[backend])


def available_variants(models_dir, backend: str = "torch") -> List[str]:
    """The variants a backend can load from a models directory, sorted."""
    d, suffix = Path(models_dir), _SUFFIX.get(backend, MODEL_SUFFIX)
    return sorted(p.name[: -len(suffix)] for p in d.glob("*" + suffix)) if d.is_dir() else []


def resolve_backend(models_dir, variant: str, backend: str = AUTO) -> str:
    """The backend that runs ``variant``: ``backend`` itself, or for 'auto' the one whose file the variant has.

    'auto' takes ``<variant>.safetensors`` (torch) when it exists, else ``<variant>.onnx`` (onnxruntime), so a
    single model_variant change goes from a torch variant to an ONNX one and back. WeightFileError, naming
    the variants that exist for each backend, when the variant has no file for the backend (or for any).
    """
    if backend != AUTO and backend not in BACKENDS:
        raise WeightFileError(f"backend {backend!r}: must be one of {[AUTO] + list(BACKENDS)}")
    candidates = BACKENDS if backend == AUTO else (backend,)
    for b in candidates:
        if variant_path(models_dir, variant, b).is_file():
            return b
    known = "; ".join(f"{b}: {', '.join(available_variants(models_dir, b)) or 'none'}" for b in BACKENDS)
    files = " or ".join(variant + _SUFFIX[b] for b in candidates)
    hint = ""
    if backend == "onnxruntime" and variant_path(models_dir, variant, "torch").is_file():
        hint = f"; make it with `facecoach export --variant {variant}`, or use backend auto or torch"
    raise WeightFileError(
        f"model_variant {variant!r}: no such weight file for backend {backend} (no {files} in {models_dir}); "
        f"available variants: {known}{hint}"
    )


def flip_averaged_proba(
    model: torch.nn.Module,
    x: torch.Tensor,
    flip_tta: bool,
    memory_format: torch.memory_format = torch.contiguous_format,
) -> torch.Tensor:
    """Softmax of ``model`` on N x 3 x 48 x 48 inputs, with ``flip_tta`` averaged with the mirrored inputs'.

    One batch of 2N (test-time flips: +1 pt on the FER2013 test split, see models/README.md), laid out in
    ``memory_format`` (the model's: see :func:`faster_layout`).
    """
    batch = torch.cat([x, torch.flip(x, dims=[3])]) if flip_tta else x
    p = torch.softmax(model(batch.contiguous(memory_format=memory_format)), dim=1)
    return (p[: len(x)] + p[len(x) :]) / 2 if flip_tta else p


# faster_layout's choices in this process, by architecture (the weights' names and shapes), input and threads.
_LAYOUTS: Dict[tuple, torch.memory_format] = {}


def faster_layout(model: torch.nn.Module, x: torch.Tensor, repeats: int = 10) -> torch.memory_format:
    """Lay ``model`` out channels-last when this PyTorch runs it faster so on ``x``, else leave it as it is.

    Which layout is faster depends on the PyTorch build (on x86: channels-last takes about 0.7x the time
    with torch 2.x, 1.1x with torch 1.10), so it is measured at the first load of an architecture: the
    two layouts take turns, so a busy moment of the machine meets both. Same results either way (to float
    rounding; checked here too); quantized models stay as they are. The choice is kept for the process:
    a switch to other weights of the same shapes (baseline, int16, int8, int4) costs no timing runs, so
    the classifier's frames wait less while it loads.
    """
    state = model.state_dict()
    if not all(isinstance(p, torch.Tensor) and p.is_floating_point() for p in state.values()):
        return torch.contiguous_format
    shapes = tuple((k, tuple(v.shape)) for k, v in state.items())
    key = (type(model).__name__, shapes, tuple(x.shape), torch.get_num_threads())
    if key not in _LAYOUTS:
        _LAYOUTS[key] = _measure_layout(model, x, repeats)
    if _LAYOUTS[key] == torch.channels_last:
        model.to(memory_format=torch.channels_last)
    return _LAYOUTS[key]


def _measure_layout(model: torch.nn.Module, x: torch.Tensor, repeats: int) -> torch.memory_format:
    """Which layout runs ``model`` faster on ``x``; contiguous unless channels-last gives the same results."""
    import copy

    candidate = copy.deepcopy(model).to(memory_format=torch.channels_last)
    runs = ((model, x), (candidate, x.contiguous(memory_format=torch.channels_last)))
    best = [float("inf"), float("inf")]
    with torch.inference_mode():
        if not torch.allclose(model(runs[0][1]), candidate(runs[1][1]), atol=1e-5):  # also the first, allocating pass
            return torch.contiguous_format
        for _ in range(repeats):
            for i, (m, batch) in enumerate(runs):
                t0 = time.perf_counter()
                m(batch)
                best[i] = min(best[i], time.perf_counter() - t0)
    return torch.channels_last if best[1] < best[0] else torch.contiguous_format


class EmotionClassifier:
    """One loaded model: the variant, its metadata and a predict() for BGR/gray face crops."""

    def __init__(
        self,
        path,
        device: str = "cpu",
        flip_tta: bool = False,
        backend: str = AUTO,
        providers: str = "cpu",
        engine_cache_dir: str = "",
        threads: int = 1,
    ) -> None:
        """Load a weight file; ``flip_tta`` averages each face's probabilities with its mirror image's.

        ``backend`` 'auto' follows the file's suffix; 'torch' runs a ``.safetensors`` file on ``device``;
        'onnxruntime' runs an ``.onnx`` file on ``providers`` (auto, cpu, cuda or tensorrt, whose engines are
        cached in ``engine_cache_dir``) with ``threads`` CPU threads.
        """
        self.path = Path(path)
        if backend == AUTO:
            backend = "onnxruntime" if self.path.suffix == _SUFFIX["onnxruntime"] else "torch"
        self.backend = backend
        self.flip_tta = flip_tta  # may be changed between two predictions
        self.memory_format = torch.contiguous_format
        if backend == "onnxruntime":
            from .onnx_backend import OnnxModel

            self.model = OnnxModel(self.path, providers, engine_cache_dir, threads)
            self.device = self.model.kind
            self.meta = self.model.meta
        elif backend == "torch":
            if device.startswith("cuda") and not torch.cuda.is_available():
                raise WeightFileError(f"device {device!r} asked for, but this PyTorch sees no CUDA GPU")
            self.device = device
            self.model, self.meta = load_model(self.path, device)
            probe = torch.zeros((2 if flip_tta else 1, 3, 48, 48), device=device)
            self.memory_format = faster_layout(self.model, probe) if device == "cpu" else torch.contiguous_format
        else:
            raise WeightFileError(f"backend {backend!r}: must be one of {list(BACKENDS)}")
        suffix = _SUFFIX[backend]
        self.variant = self.path.name[: -len(suffix)] if self.path.name.endswith(suffix) else self.path.stem
        self.class_names: Tuple[str, ...] = tuple(self.meta["classes"])
        # A first forward pass here, off the frame path, so the first frame is not slow.
        self.predict_batch(np.zeros((1, 48, 48), np.uint8))

    def predict_batch(self, faces: Sequence[np.ndarray]) -> np.ndarray:
        """Softmax probabilities (N x classes) for N face images (any size; gray, BGR or BGRA uint8)."""
        return self.predict_inputs(np.concatenate([preprocess(f) for f in faces]))

    def predict_inputs(self, x: np.ndarray) -> np.ndarray:
        """Softmax probabilities (N x classes) for N x 3 x 48 x 48 preprocessed inputs."""
        if self.backend == "onnxruntime":
            from .onnx_backend import flip_averaged

            return flip_averaged(self.model, x, self.flip_tta)
        with torch.inference_mode():
            t = torch.from_numpy(x).to(self.device)
            return flip_averaged_proba(self.model, t, self.flip_tta, self.memory_format).cpu().numpy()

    def predict(self, face: np.ndarray) -> EmotionScores:
        """Classify one face crop."""
        p = self.predict_batch([face])[0]
        i = int(p.argmax())
        return EmotionScores(self.class_names[i], float(p[i]), self.class_names, tuple(float(v) for v in p))

    def describe(self) -> Dict[str, object]:
        """Short facts for logs and diagnostics."""
        return {
            "variant": self.variant,
            "path": str(self.path),
            "backend": self.backend,
            "device": self.device,
            "bits": self.meta["bits"],
            "layout": "channels_last" if self.memory_format == torch.channels_last else "contiguous",
        }
