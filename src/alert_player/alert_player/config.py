"""The alert player's configuration: one frozen dataclass built from the node's parameter values."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping

from .mapping import DEFAULT_MAPPING, EMOTIONS, PRESETS, preset, validate_mapping
from .policy import PolicyConfig


@dataclass(frozen=True)
class AlertConfig:
    """Everything the alert player needs: the mapping, the cue policy and the audio output; validated."""

    mapping: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_MAPPING))
    mapping_preset: str = ""
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    cue_wav: str = ""
    face_lost_wav: str = ""
    alsa_device: str = "default"
    volume: float = 1.0

    def __post_init__(self) -> None:
        """Refuse bad values with a message that names the parameter."""
        if self.mapping_preset and self.mapping_preset not in PRESETS:
            raise ValueError(f"mapping_preset={self.mapping_preset!r}: must be '' or one of {', '.join(PRESETS)}")
        object.__setattr__(self, "mapping", validate_mapping(self.mapping))
        if not self.alsa_device.strip() or any(c.isspace() for c in self.alsa_device):
            raise ValueError(f"alsa_device={self.alsa_device!r}: must be a non-empty ALSA device name without spaces")
        if not (math.isfinite(self.volume) and 0.0 <= self.volume <= 2.0):
            raise ValueError("volume must be between 0 and 2")

    @property
    def effective_mapping(self) -> dict[str, str]:
        """The mapping in use: the preset's while mapping_preset is set, else the mapping.* values."""
        return preset(self.mapping_preset) if self.mapping_preset else dict(self.mapping)

    @classmethod
    def from_params(cls, values: Mapping[str, Any]) -> AlertConfig:
        """Build from the node's parameter values (names as declared: ``mapping.fear``, ``window_s`` ...)."""
        policy = PolicyConfig(
            window_s=float(values["window_s"]),
            bad_threshold=float(values["bad_threshold"]),
            release_threshold=float(values["release_threshold"]),
            min_confidence=float(values["min_confidence"]),
            cooldown_s=float(values["cooldown_s"]),
            face_lost_s=float(values["face_lost_s"]),
            mute=bool(values["mute"]),
        )
        return cls(
            mapping={e: str(values[f"mapping.{e}"]) for e in EMOTIONS},
            mapping_preset=str(values["mapping_preset"]),
            policy=policy,
            cue_wav=str(values["cue_wav"]),
            face_lost_wav=str(values["face_lost_wav"]),
            alsa_device=str(values["alsa_device"]),
            volume=float(values["volume"]),
        )
