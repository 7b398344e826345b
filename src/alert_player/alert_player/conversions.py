"""Emotion message → the decide stage's input, and decision → Feedback message (message types, no rclpy)."""

from typing import Optional

from diagnostic_msgs.msg import DiagnosticStatus, KeyValue

from facecoach_common.stamps import stamp_seconds, stamp_to_ns
from facecoach_msgs.msg import Emotion, Feedback

from .config import AlertConfig
from .mapping import NO_CATEGORY, render_mapping
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
    out.bad_probability = float(decision.bad_probability)
    out.cue_played = cue_played
    out.reason = decision.reason
    return out


def diagnostic_status(
    config: AlertConfig, bad_share: float, output_error: Optional[str], stamp_trouble: str = ""
) -> DiagnosticStatus:
    """The alert player's /diagnostics entry: how a frame counts as bad, the mapping, the timeline, the sound."""
    policy = config.policy
    status = DiagnosticStatus(name="facecoach: alert_player", hardware_id=config.alsa_device)
    status.level = DiagnosticStatus.ERROR if output_error else DiagnosticStatus.OK
    status.message = f"sound output fails: {output_error}" if output_error else "coaching"
    if policy.mute:
        status.message += " (muted)"
    if stamp_trouble and not output_error:
        status.level = DiagnosticStatus.WARN
        status.message = f"{stamp_trouble}: timed by the receive clock"
    rule = (
        f"P(bad) >= {policy.bad_probability:g}"
        if policy.bad_rule == "probability"
        else f"bad top label with confidence >= {policy.min_confidence:g}"
    )
    status.values = [
        KeyValue(key="bad_rule", value=policy.bad_rule),
        KeyValue(key="bad_frame", value=rule),
        KeyValue(key="bad_probability", value=f"{policy.bad_probability:g}"),
        KeyValue(key="bad_threshold", value=f"{policy.bad_threshold:g} of the frames in {policy.window_s:g} s"),
        KeyValue(key="bad_share", value=f"{bad_share:.3f}"),
        KeyValue(key="mapping", value=render_mapping(config.effective_mapping)),
        KeyValue(key="timeline", value=f"receive clock ({stamp_trouble})" if stamp_trouble else "message stamps"),
        KeyValue(key="alsa_device", value=config.alsa_device),
    ]
    return status
