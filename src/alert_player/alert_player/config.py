"""The alert player's configuration: one frozen dataclass; its fields are the node's parameters."""

from dataclasses import dataclass
from typing import Dict, Mapping

from facecoach_common.settings import check_settings, group, setting

from .audio import check_alsa_device
from .mapping import CATEGORIES, DEFAULT_MAPPING, EMOTIONS, PRESETS, preset, validate_mapping
from .policy import PolicyConfig


@dataclass(frozen=True)
class AlertConfig:
    """Everything the alert player needs: the mapping, the cue policy and the audio output; validated."""

    mapping: Mapping[str, str] = setting(
        DEFAULT_MAPPING, "category of the '{key}' expression", choices=CATEGORIES, keys=EMOTIONS
    )
    mapping_preset: str = setting(
        "",
        "named mapping used instead of the mapping.* parameters while set: '' (use them) or "
        + ", ".join(repr(p) for p in PRESETS),
        choices=("",) + tuple(PRESETS),
    )
    policy: PolicyConfig = group(PolicyConfig)
    cue_wav: str = setting("", "the cue: the user's own recorded WAV ('' or an unusable file = a generated tone)")
    face_lost_wav: str = setting("", "the face-lost cue WAV ('' or an unusable file = a generated tone)")
    alsa_device: str = setting(
        "default", "ALSA playback device for aplay -D: a plain device name (e.g. default, plughw:1,0, null)"
    )
    volume: float = setting(
        1.0, "cue volume factor (0 = silent, 1 = as recorded, 2 = twice as loud, clipped)", 0.0, 2.0
    )

    def __post_init__(self) -> None:
        """Refuse bad values with a message that names the parameter."""
        check_settings(self)
        object.__setattr__(self, "mapping", validate_mapping(self.mapping))
        check_alsa_device(self.alsa_device)

    @property
    def effective_mapping(self) -> Dict[str, str]:
        """The mapping in use: the preset's while mapping_preset is set, else the mapping.* values."""
        return preset(self.mapping_preset) if self.mapping_preset else dict(self.mapping)
