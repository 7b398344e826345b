"""The decide stage: one classified frame -> its category and the cue decision, wherever frames flow.

The alert_player node, single-process mode, ``facecoach eval-bag`` and the bench all decide through
:class:`DecideStage`: check the classifier's answer, map the emotion to the user's category, update the
cue policy. No rclpy, no clock: time is the frame's stamp.
"""

import math
from dataclasses import dataclass
from typing import Mapping, Optional, Sequence, Tuple

from .config import AlertConfig
from .mapping import NO_CATEGORY, categorize
from .policy import MALFORMED, CuePolicy, Decision


@dataclass(frozen=True)
class Classified:
    """What the classifier said about one frame (an Emotion message's fields)."""

    stamp_s: float
    has_face: bool
    label: str = ""
    confidence: float = 0.0
    class_names: Sequence[str] = ()
    probabilities: Sequence[float] = ()


def check(frame: Classified) -> None:
    """Raise ValueError saying what is wrong with a face frame's classification (no face: nothing to check)."""
    if not frame.has_face:
        return
    if not (math.isfinite(frame.confidence) and 0.0 <= frame.confidence <= 1.0):
        raise ValueError(f"confidence {frame.confidence} is not a probability in 0..1")
    if not frame.probabilities or len(frame.probabilities) != len(frame.class_names):
        raise ValueError(
            f"{len(frame.probabilities)} probabilities for {len(frame.class_names)} class names: must match, non-empty"
        )
    if not all(math.isfinite(p) and 0.0 <= p <= 1.0 for p in frame.probabilities):
        raise ValueError(f"probabilities {list(frame.probabilities)} are not all in 0..1")
    if frame.label not in frame.class_names:
        raise ValueError(f"label {frame.label!r} is not among class_names {list(frame.class_names)}")


def bad_probability(frame: Classified, mapping: Mapping[str, str]) -> float:
    """The summed probability of the classes ``mapping`` calls bad (0 without a face); frame already checked."""
    if not frame.has_face:
        return 0.0
    return min(1.0, sum(float(p) for c, p in zip(frame.class_names, frame.probabilities) if mapping.get(c) == "bad"))


class DecideStage:
    """Mapping + cue policy over a stream of classified frames; the config can change between two frames."""

    def __init__(self, config: AlertConfig) -> None:
        self.policy = CuePolicy(config.policy)
        self.configure(config)

    def configure(self, config: AlertConfig) -> None:
        """Use a new (validated) config from the next frame on; the policy keeps its window."""
        self.config = config
        self.mapping = config.effective_mapping
        self.policy.config = config.policy

    def decide(
        self, frame: Classified, busy: bool = False, now: Optional[float] = None
    ) -> Tuple[Decision, Optional[str]]:
        """The decision for one frame, and why the frame is malformed (or None).

        ``busy``: a cue is still playing; ``now``: the receive clock (see CuePolicy.update). A malformed
        frame changes nothing: no category, the current bad share, no cue, reason ``malformed``.
        """
        category = NO_CATEGORY
        try:
            if frame.has_face:
                category = categorize(self.mapping, frame.label)
            check(frame)
        except ValueError as exc:
            return Decision(NO_CATEGORY, self.policy.bad_share, False, MALFORMED), str(exc)
        decision = self.policy.update(
            frame.stamp_s,
            frame.has_face,
            frame.label,
            float(frame.confidence),
            category,
            busy=busy,
            now=now,
            bad_probability=bad_probability(frame, self.mapping),
        )
        return decision, None

    def reset(self) -> None:
        """A new stream: forget the window, the cooldown and the face-lost timer."""
        self.policy.reset()
