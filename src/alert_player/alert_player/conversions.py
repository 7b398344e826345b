"""Emotion message → the decide stage's input, and decision → Feedback message (message types, no rclpy)."""

from facecoach_common.stamps import stamp_seconds, stamp_to_ns
from facecoach_msgs.msg import Emotion, Feedback

from .mapping import NO_CATEGORY
from .policy import MALFORMED, Decision
from .stage import Classified

CATEGORY_CODES = {
    NO_CATEGORY: Feedback.CATEGORY_NONE,
    "good": Feedback.CATEGORY_GOOD,
    "acceptable": Feedback.CATEGORY_ACCEPTABLE,
    "bad": Feedback.CATEGORY_BAD,
}


def classified_from_msg(msg: Emotion) -> Classified:
    """The fields of an Emotion message the decide stage checks and uses (its stamp in seconds)."""
    return Classified(
        stamp_seconds(stamp_to_ns(msg.header.stamp)),
        bool(msg.has_face),
        str(msg.label),
        float(msg.confidence),
        tuple(msg.class_names),
        tuple(msg.probabilities),
    )


def feedback_msg(msg: Emotion, decision: Decision, cue_played: bool) -> Feedback:
    """Build the Feedback for ``msg``: header and classifier fields passed along, plus the decision."""
    out = Feedback(header=msg.header, has_face=msg.has_face, model_variant=msg.model_variant)
    if msg.has_face and decision.reason != MALFORMED:  # a malformed message's fields are not passed on
        out.emotion = msg.label
        out.confidence = float(msg.confidence)
    out.category = CATEGORY_CODES[decision.category]
    out.category_name = decision.category
    out.bad_share = float(decision.bad_share)
    out.cue_played = cue_played
    out.reason = decision.reason
    return out
