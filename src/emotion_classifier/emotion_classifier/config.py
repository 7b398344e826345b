"""The classifier node's configuration (validated, immutable)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ClassifierConfig:
    """Which weights to run, where, and on how many threads."""

    model_variant: str = "baseline"
    models_dir: str = ""
    device: str = "cpu"
    num_threads: int = 1
    flip_tta: bool = True
    diagnostics_period_s: float = 1.0

    def __post_init__(self) -> None:
        if not self.model_variant or "/" in self.model_variant:
            raise ValueError(f"model_variant {self.model_variant!r} is not a variant name (baseline, int8, ...)")
        if self.device != "cpu" and not self.device.startswith("cuda"):
            raise ValueError(f"device must be 'cpu', 'cuda' or 'cuda:N', not {self.device!r}")
        if self.num_threads < 1:
            raise ValueError("num_threads must be >= 1")
        if self.models_dir and not Path(self.models_dir).is_dir():
            raise ValueError(f"models_dir {self.models_dir!r} is not a directory")
        if self.diagnostics_period_s <= 0:
            raise ValueError("diagnostics_period_s must be > 0")
