"""Emotion message → checked frame, and decision → Feedback message (message types, no rclpy)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping

from facecoach_msgs.msg import Emotion, Feedback

from .mapping import NO_CATEGORY, categorize
from .policy import Decision

CATEGORY_CODES = {
    NO_CATEGORY: Feedback.CATEGORY_NONE,
    "good": Feedback.CATEGORY_GOOD,
    "acceptable": Feedback.CATEGORY_ACCEPTABLE,
    "bad": Feedback.CATEGORY_BAD,
}


@dataclass(frozen=True)
class Frame:
    """One checked emotion message: its stamp in seconds, whether it has a face, label, confidence, category."""

    stamp_s: float
    has_face: bool
    emotion: str
    confidence: float
    category: str


def frame_from_msg(msg: Emotion, mapping: Mapping[str, str]) -> Frame:
    """Check an Emotion message and categorize it; raise ValueError saying what is wrong with it."""
    stamp_s = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9
    if not msg.has_face:
        return Frame(stamp_s, False, "", 0.0, NO_CATEGORY)
    category = categorize(mapping, msg.label)
    if not (math.isfinite(msg.confidence) and 0.0 <= msg.confidence <= 1.0):
        raise ValueError(f"confidence {msg.confidence} is not a probability in 0..1")
    if not msg.probabilities or len(msg.probabilities) != len(msg.class_names):
        raise ValueError(
            f"{len(msg.probabilities)} probabilities for {len(msg.class_names)} class names: must match, non-empty"
        )
    if msg.label not in msg.class_names:
        raise ValueError(f"label {msg.label!r} is not among class_names {list(msg.class_names)}")
    return Frame(stamp_s, True, msg.label, float(msg.confidence), category)


def feedback_msg(msg: Emotion, decision: Decision, cue_played: bool) -> Feedback:
    """Build the Feedback for ``msg``: header and classifier fields passed along, plus the decision."""
    out = Feedback(header=msg.header, has_face=msg.has_face, model_variant=msg.model_variant)
    if msg.has_face:
        out.emotion = msg.label
        out.confidence = float(msg.confidence) if math.isfinite(msg.confidence) else 0.0
    out.category = CATEGORY_CODES[decision.category]
    out.category_name = decision.category
    out.bad_share = float(decision.bad_share)
    out.cue_played = cue_played
    out.reason = decision.reason
    return out
