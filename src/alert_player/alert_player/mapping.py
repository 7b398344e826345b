"""The user's emotion → category mapping (good / acceptable / bad): presets, validation, rendering."""

from typing import Dict, Mapping

EMOTIONS = ("fear", "happy", "neutral", "sad", "surprise")
CATEGORIES = ("good", "acceptable", "bad")
NO_CATEGORY = "none"

PRESETS: Dict[str, Dict[str, str]] = {
    # The paper's mapping, also the default.
    "paper": {"fear": "bad", "happy": "good", "neutral": "acceptable", "sad": "bad", "surprise": "acceptable"},
}
DEFAULT_MAPPING: Dict[str, str] = dict(PRESETS["paper"])


def validate_mapping(mapping: Mapping[str, str]) -> Dict[str, str]:
    """Return a checked copy of ``mapping``; raise ValueError naming the first bad entry."""
    for emotion, category in mapping.items():
        if emotion not in EMOTIONS:
            raise ValueError(f"unknown emotion {emotion!r}: expected one of {', '.join(EMOTIONS)}")
        if category not in CATEGORIES:
            raise ValueError(f"mapping.{emotion}={category!r}: must be one of {', '.join(CATEGORIES)}")
    missing = [e for e in EMOTIONS if e not in mapping]
    if missing:
        raise ValueError(f"mapping has no category for {', '.join(missing)}")
    return {e: mapping[e] for e in EMOTIONS}


def preset(name: str) -> Dict[str, str]:
    """Return a copy of the named preset mapping; raise ValueError for an unknown name."""
    if name not in PRESETS:
        raise ValueError(f"unknown mapping preset {name!r}: expected one of {', '.join(PRESETS)}")
    return dict(PRESETS[name])


def categorize(mapping: Mapping[str, str], emotion: str) -> str:
    """Return the category of ``emotion``; raise ValueError when the mapping does not know it."""
    try:
        return mapping[emotion]
    except KeyError:
        raise ValueError(f"unknown emotion label {emotion!r}: expected one of {', '.join(EMOTIONS)}") from None


def render_mapping(mapping: Mapping[str, str]) -> str:
    """Render the mapping on one line, grouped by category, e.g. ``good: happy | acceptable: ... | bad: ...``."""
    groups = [f"{c}: {', '.join(e for e in EMOTIONS if mapping.get(e) == c) or '-'}" for c in CATEGORIES]
    return " | ".join(groups)
