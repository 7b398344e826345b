"""Calibration to the user's own face: a per-class log-prior bias fitted on a few seconds of a neutral hold.

People's resting faces differ: one reads as sad, another as 95 % neutral, so a subtle expression of the
second person never leaves neutral. While the user holds a neutral face the classifier's outputs
``p_t`` (before any correction) are recorded; the correction is a bias on the log-probabilities,

    m_c    = mean_t log p_t,c                    (the hold's geometric-mean profile)
    goal_c = log REFERENCE_c                     (what the model gives a typical neutral face; or a flat goal)
    bias_c = STRENGTH * (goal_c - m_c)           (+ on neutral what makes it lead the hold by MARGIN)
             clipped to +-MAX_BIAS, shifted so that its mean is 0

and each frame then reads ``p'_c ∝ p_c * exp(bias_c)`` (renormalised). The corrected hold profile is the
convex mix ``(1 - STRENGTH) m + STRENGTH goal``: half way from the user's neutral to the population's,
so a user whose neutral reads as sad gets sad lowered and neutral raised, and one whose neutral reads as
95 % neutral gets neutral *lowered*, so that their other expressions are not suppressed. A user close to
the reference gets almost no bias. The goal, STRENGTH and MARGIN were picked by measurement
(``facecoach eval-calibration``, models/README.md "Calibration to the user"), which also shows the cost.

The calibration file is ``calibration_file.py``. No ROS, no clock (``created`` is the caller's), numpy
only; runs on the device (Python 3.6).
"""

import math
from dataclasses import dataclass
from typing import Dict, Optional, Sequence, Tuple

import numpy as np

NEUTRAL = "neutral"
TARGET = 0.6  # the flat goal (reference None): neutral's share of the hold's profile after the correction
# The reference goal: the geometric-mean profile the baseline (flip_tta) gives the neutral faces of the FER2013
# *train* split (1,500 drawn with seed 0): `facecoach eval-calibration` measures it ("model_profile" in
# models/eval_calibration.json, which a test keeps equal to this; see models/README.md).
REFERENCE = {"fear": 0.0654, "happy": 0.0391, "neutral": 0.7258, "sad": 0.145, "surprise": 0.0246}
STRENGTH = 0.5  # how far towards the goal (1 = all the way)
MARGIN = math.log(2.0)  # after the bias, the hold's neutral is at least twice its next class (geometric means)
MAX_BIAS = 3.0  # log units: no class is moved by more than a factor of ~20
MIN_FRAMES = 10  # fewer face frames than this are too few to fit (a third of a second at 30 fps)
# A hold that does not look like a resting face is refused (a calibration that silences the coach is worse
# than none): one expression other than neutral holds this share of the hold's mean probability, or the
# correction raises neutral, or lowers another expression, by more than this many log units. Chosen by
# `facecoach eval-calibration`'s hold check (models/README.md): the share of neutral holds accepted and of
# fear/sad/happy/surprise holds refused.
HOLD_MAX_OTHER = 0.4
HOLD_MAX_BIAS = 0.8
_EPS = 1e-6


class CalibrationError(ValueError):
    """A calibration cannot be fitted, read or applied; the message says why in one line."""


@dataclass(frozen=True)
class Calibration:
    """A fitted per-user correction: ``bias`` (log units) per class of ``class_names``."""

    class_names: Tuple[str, ...]
    bias: Tuple[float, ...]
    model_variant: str = ""
    frames: int = 0
    seconds: float = 0.0
    created: str = ""
    neutral_before: float = float("nan")  # mean neutral probability of the hold, before / after the bias
    neutral_after: float = float("nan")

    def apply(self, probabilities: Sequence[float]) -> np.ndarray:
        """The corrected, renormalised probabilities of one frame (or of N x classes frames).

        CalibrationError when the frame has another number of classes.
        """
        p = np.asarray(probabilities, dtype=np.float64)
        if p.ndim not in (1, 2) or p.shape[-1] != len(self.bias):
            raise CalibrationError(f"calibration has {len(self.bias)} classes, the frame {p.shape[-1]}")
        logp = np.log(np.clip(p, _EPS, 1.0)) + np.asarray(self.bias)
        q = np.exp(logp - logp.max(axis=-1, keepdims=True))
        return q / q.sum(axis=-1, keepdims=True)

    def check_classes(self, class_names: Sequence[str]) -> None:
        """CalibrationError unless the model's classes are the calibration's (same names, same order)."""
        if tuple(class_names) != self.class_names:
            raise CalibrationError(
                f"calibration is for classes {list(self.class_names)}, the model has {list(class_names)}"
            )

    def summary(self) -> str:
        """One line: 'neutral 38% -> 81% over 142 frames (5.0 s)'."""
        return (
            f"neutral {self.neutral_before:.0%} -> {self.neutral_after:.0%} over {self.frames} frames "
            f"({self.seconds:.1f} s)"
        )

    def bias_text(self) -> str:
        """'fear -0.42, happy +0.10, ...' (the diagnostics value)."""
        return ", ".join(f"{n} {b:+.2f}" for n, b in zip(self.class_names, self.bias))


def fit(
    probabilities: Sequence[Sequence[float]],
    class_names: Sequence[str],
    model_variant: str = "",
    seconds: float = 0.0,
    created: str = "",
    target: float = TARGET,
    strength: float = STRENGTH,
    max_bias: float = MAX_BIAS,
    min_frames: int = MIN_FRAMES,
    reference: Optional[Dict[str, float]] = REFERENCE,
) -> Calibration:
    """Fit the correction from the uncorrected probability vectors of a neutral hold (see the module docstring).

    The goal is ``reference`` (a class -> share profile) when it names the model's classes, else the flat
    goal of ``target``.
    """
    names = tuple(str(n) for n in class_names)
    if NEUTRAL not in names:
        raise CalibrationError(f"the model has no {NEUTRAL!r} class ({list(names)}): nothing to calibrate to")
    if not 0.0 < target < 1.0 or not 0.0 < strength <= 1.0 or not max_bias > 0.0:
        raise CalibrationError("calibration needs 0 < target < 1, 0 < strength <= 1 and max_bias > 0")
    p = np.asarray(probabilities, dtype=np.float64).reshape(-1, len(names)) if len(probabilities) else None
    if p is None or len(p) < min_frames:
        n = 0 if p is None else len(p)
        raise CalibrationError(
            f"only {n} face frame(s) in the hold, at least {min_frames} needed: face the camera, in good light"
        )
    if not np.all(np.isfinite(p)):
        raise CalibrationError("the hold's probabilities are not finite numbers")
    k, i = len(names), names.index(NEUTRAL)
    mean_log = np.log(np.clip(p, _EPS, 1.0)).mean(axis=0)
    if reference is not None and set(reference) == set(names):
        goal = np.log([reference[n] / sum(reference.values()) for n in names])
    else:
        goal = np.full(k, math.log((1.0 - target) / (k - 1)))
        goal[i] = math.log(target)
    bias = strength * (goal - mean_log)
    corrected = mean_log + bias
    gap = corrected[i] - np.max(np.delete(corrected, i))
    if gap < MARGIN:  # a hold far from the goal: neutral is raised until it leads by the margin
        bias[i] += MARGIN - gap
    bias = np.clip(bias, -max_bias, max_bias)
    bias -= bias.mean()  # softmax ignores a common shift; zero mean keeps the file readable
    cal = Calibration(names, tuple(round(float(b), 6) for b in bias), model_variant, len(p), float(seconds), created)
    after = cal.apply(p)
    return Calibration(
        cal.class_names,
        cal.bias,
        cal.model_variant,
        cal.frames,
        cal.seconds,
        cal.created,
        float(p[:, i].mean()),
        float(after[:, i].mean()),
    )


def check_hold(
    probabilities: Sequence[Sequence[float]],
    cal: Calibration,
    max_other: float = HOLD_MAX_OTHER,
    max_bias: float = HOLD_MAX_BIAS,
) -> Optional[str]:
    """Why the hold behind ``cal`` does not look like a resting face, or None when it does."""
    names = cal.class_names
    p = np.asarray(probabilities, dtype=np.float64).reshape(-1, len(names))
    mean = p.mean(axis=0)
    others = [(float(mean[j]), n) for j, n in enumerate(names) if n != NEUTRAL]
    share, other = max(others)
    if share >= max_other:
        return f"the hold reads as {other} ({share:.0%} of it), not as a resting face"
    # Only a correction that would silence the coach counts: neutral raised, or another expression lowered.
    # A hold that reads as very neutral gets neutral lowered, which makes the coach more sensitive, not less.
    silencing = [(b, n) for n, b in zip(names, cal.bias) if n == NEUTRAL] + [
        (-b, n) for n, b in zip(names, cal.bias) if n != NEUTRAL
    ]
    size, name = max(silencing)
    if size > max_bias:
        bias = cal.bias[names.index(name)]
        return (
            f"the hold needs a correction of {name} {bias:+.2f}, beyond {max_bias:g} log units: "
            "it does not look like a resting face"
        )
    return None
