"""The classifier node's configuration (validated, immutable); its fields are the node's parameters."""

from dataclasses import dataclass
from pathlib import Path

from facecoach_common.paths import ResourceNotFound, share_dir
from facecoach_common.settings import check_settings, setting


def default_models_dir() -> str:
    """Where models_dir '' points: the weight files installed with this package (share/emotion_classifier/models)."""
    try:
        return str(share_dir("emotion_classifier") / "models")
    except ResourceNotFound as exc:
        raise ValueError(f"models_dir is '' and {exc}; set models_dir to a folder of weight files") from None


@dataclass(frozen=True)
class ClassifierConfig:
    """Which weights to run, where, and on how many threads."""

    model_variant: str = setting(
        "baseline",
        "weights to run: <models_dir>/<variant>.safetensors (torch: baseline, pruned, int16, int8, int4, "
        "int8_native) or <variant>.onnx (onnxruntime: int8_qdq); backend auto follows the variant's file",
    )
    models_dir: str = setting("", "folder of weight files; '' = the models/ installed with emotion_classifier")
    backend: str = setting(
        "auto",
        "inference engine: auto (the variant's file decides: .safetensors -> torch, else .onnx -> onnxruntime), "
        "torch (<variant>.safetensors on device) or onnxruntime (<variant>.onnx on providers)",
        choices=("auto", "torch", "onnxruntime"),
    )
    device: str = setting("cpu", "torch device: cpu, cuda or cuda:N")
    providers: str = setting(
        "auto",
        "onnxruntime execution providers: auto (tensorrt -> cuda -> cpu, those this onnxruntime has), cpu, cuda, "
        "or tensorrt (FP16, with cuda and cpu as fallbacks)",
        choices=("auto", "cpu", "cuda", "tensorrt"),
    )
    engine_cache_dir: str = setting(
        "", "onnxruntime tensorrt: folder that caches built engines ('' = none: minutes to build at every start)"
    )
    num_threads: int = setting(1, "CPU threads for inference (torch, or the onnxruntime session)", 1, 16)
    flip_tta: bool = setting(
        True, "average each face's probabilities with its mirror image's (+1 pt on FER2013 test, ~1.5x classify time)"
    )
    smoothing_frames: int = setting(
        1, "labels from the mean probabilities of the same face's last N frames (1 = off: each frame alone)", 1, 30
    )
    calibration_file: str = setting(
        "",
        "the user's calibration (facecoach calibrate, ~/calibrate): a per-class bias applied to every face; '' = off",
    )
    calibrate_seconds: float = setting(5.0, "how long ~/calibrate records the user's neutral hold, seconds", 1.0, 30.0)
    calibrate_check: bool = setting(
        True,
        "~/calibrate refuses a hold that does not look like a resting face (one other expression >= 40 % of it, "
        "or a correction beyond 0.8 log units) and keeps the previous calibration; false accepts any hold",
    )
    diagnostics_period_s: float = setting(1.0, "period of /diagnostics reports, seconds", 0.1, 60.0)

    def __post_init__(self) -> None:
        check_settings(self)
        if not self.model_variant or "/" in self.model_variant:
            raise ValueError(f"model_variant {self.model_variant!r} is not a variant name (baseline, int8, ...)")
        if self.device != "cpu" and not self.device.startswith("cuda"):
            raise ValueError(f"device must be 'cpu', 'cuda' or 'cuda:N', not {self.device!r}")
        if self.engine_cache_dir and not Path(self.engine_cache_dir).is_dir():
            raise ValueError(f"engine_cache_dir {self.engine_cache_dir!r} is not a directory")
        if self.models_dir and not Path(self.models_dir).is_dir():
            raise ValueError(f"models_dir {self.models_dir!r} is not a directory")
