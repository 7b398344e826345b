"""The emotion → category mapping and the node's config dataclass."""

import re

import pytest

from alert_player.config import AlertConfig
from alert_player.mapping import DEFAULT_MAPPING, EMOTIONS, categorize, preset, render_mapping, validate_mapping
from alert_player.policy import PolicyConfig
from facecoach_common.settings import from_values


def test_default_is_the_papers_mapping():
    assert DEFAULT_MAPPING == {
        "fear": "bad",
        "happy": "good",
        "neutral": "acceptable",
        "sad": "bad",
        "surprise": "acceptable",
    }
    assert preset("paper") == DEFAULT_MAPPING


def test_validation_refuses_unknown_emotion_category_and_gaps():
    with pytest.raises(ValueError, match="mapping.fear='terrible'"):
        validate_mapping({**DEFAULT_MAPPING, "fear": "terrible"})
    with pytest.raises(ValueError, match="unknown emotion 'angry'"):
        validate_mapping({**DEFAULT_MAPPING, "angry": "bad"})
    with pytest.raises(ValueError, match="no category for sad"):
        validate_mapping({e: "good" for e in EMOTIONS if e != "sad"})
    with pytest.raises(ValueError, match="unknown mapping preset"):
        preset("mine")
    with pytest.raises(ValueError, match="unknown emotion label 'angry'"):
        categorize(DEFAULT_MAPPING, "angry")


def test_render_lists_every_category():
    text = render_mapping(DEFAULT_MAPPING)
    assert text == "good: happy | acceptable: neutral, surprise | bad: fear, sad"
    assert render_mapping({e: "bad" for e in EMOTIONS}).startswith("good: - | acceptable: - | bad: fear")


def _values(**changes):
    values = {f"mapping.{e}": c for e, c in DEFAULT_MAPPING.items()}
    values.update(mapping_preset="", window_s=2.0, bad_threshold=0.6, release_threshold=0.3, min_confidence=0.4)
    values.update(bad_rule="probability", bad_probability=PolicyConfig().bad_probability)
    values.update(cooldown_s=8.0, face_lost_s=0.0, cue_wav="", face_lost_wav="", alsa_device="null", volume=1.0)
    values.update(mute=False)
    values.update({k.replace("__", "."): v for k, v in changes.items()})
    return values


def test_config_from_params_and_preset():
    config = from_values(AlertConfig, _values(mapping__happy="bad"))
    assert config.effective_mapping["happy"] == "bad"
    assert config.policy == PolicyConfig(cooldown_s=8.0)
    preset_config = from_values(AlertConfig, _values(mapping__happy="bad", mapping_preset="paper"))
    assert preset_config.effective_mapping == DEFAULT_MAPPING


@pytest.mark.parametrize(
    "change, message",
    [
        ({"cooldown_s": -1.0}, "cooldown_s=-1.0: must be >= 0"),
        ({"window_s": 0.0}, "window_s=0.0: must be >= 0.1 (range 0.1..60)"),
        ({"bad_threshold": 0.2}, "release_threshold must be < bad_threshold"),
        ({"min_confidence": 1.5}, "min_confidence=1.5: must be <= 1"),
        ({"bad_probability": 0.0}, "bad_probability=0.0: must be >= 0.01"),
        ({"bad_rule": "argmax"}, "bad_rule='argmax'"),
        ({"face_lost_s": -2.0}, "face_lost_s=-2.0: must be >= 0"),
        ({"volume": 3.0}, "volume=3.0: must be <= 2"),
        ({"alsa_device": ""}, "alsa_device=''"),
        ({"mapping_preset": "mine"}, "mapping_preset='mine'"),
        ({"mapping__sad": "meh"}, "mapping.sad='meh'"),
        ({"window_s": float("nan")}, "window_s=nan: must be a finite number"),
        ({"window_s": 0.05}, "window_s=0.05: must be >= 0.1"),
    ],
)
def test_config_refuses_with_a_clear_reason(change, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        from_values(AlertConfig, _values(**change))
