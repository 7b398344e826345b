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

A calibration file is small JSON (class names, model variant, frames, seconds, bias, created); reading
one checks it and raises :class:`CalibrationError` with a one-line reason. No ROS, no clock (``created``
is the caller's), numpy only; runs on the device (Python 3.6).
"""

import json
import math
import os
import stat
from dataclasses import dataclass
from typing import Dict, Optional, Sequence, Tuple

import numpy as np

FORMAT = "facecoach-calibration"
VERSION = 1
NEUTRAL = "neutral"
TARGET = 0.6  # the flat goal (reference None): neutral's share of the hold's profile after the correction
# The reference goal: the geometric-mean profile the baseline (flip_tta) gives the neutral faces of the FER2013
# *train* split (1,500 drawn with seed 0; int8_native within 0.01, pruned within 0.07; see models/README.md).
REFERENCE = {"fear": 0.0862, "happy": 0.0539, "neutral": 0.6522, "sad": 0.1657, "surprise": 0.0419}
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
MAX_FILE_BYTES = 64 * 1024
# Where ~/calibrate writes when calibration_file is '' (the file then becomes calibration_file).
DEFAULT_FILE = "~/.facecoach/calibration.json"
_EPS = 1e-6
_BIAS_LIMIT = 20.0  # a file's bias beyond this is corrupt, not a calibration
MAX_FRAMES = 10**9  # a hold of more frames than this (a year at 30 fps) is corrupt, not a calibration


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


def to_dict(cal: Calibration) -> Dict[str, object]:
    """The file's content."""
    return {
        "format": FORMAT,
        "version": VERSION,
        "class_names": list(cal.class_names),
        "model_variant": cal.model_variant,
        "frames": cal.frames,
        "seconds": cal.seconds,
        "bias": list(cal.bias),
        "created": cal.created,
        "neutral_before": None if math.isnan(cal.neutral_before) else round(cal.neutral_before, 6),
        "neutral_after": None if math.isnan(cal.neutral_after) else round(cal.neutral_after, 6),
    }


def save(cal: Calibration, path: str) -> None:
    """Write the calibration file (to a temporary file first: a crash never leaves half a file)."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(folder, exist_ok=True)
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(to_dict(cal), f, indent=1)
            f.write("\n")
        os.replace(tmp, path)
    except OSError as exc:
        raise CalibrationError(f"{path}: cannot write the calibration ({exc.strerror or exc})") from exc


def _finite(v: object) -> Optional[float]:
    """``v`` as a finite float, or None when it is no number (bool, str, ...) or not a finite one.

    JSON integers are unbounded: 10**4000 is an int that ``math.isfinite`` and ``float`` refuse with
    OverflowError, so the conversion comes first and its failure is an answer, not a crash.
    """
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    try:
        f = float(v)
    except OverflowError:
        return None
    return f if math.isfinite(f) else None


def _number(d: dict, key: str, path: str, kind: type = float) -> float:
    v = _finite(d.get(key))
    if v is None or v < 0 or (kind is int and v > MAX_FRAMES):
        limit = f" and <= {MAX_FRAMES}" if kind is int else ""
        raise CalibrationError(f"{path}: {key} must be a finite number >= 0{limit}, not {_short(d.get(key))}")
    return kind(v)


def _fraction(d: dict, key: str, path: str) -> float:
    """A hold's mean probability: a number within [0, 1], or NaN when the file has none (null or absent)."""
    v = d.get(key)
    if v is None:
        return float("nan")
    f = _finite(v)
    if f is None or not 0.0 <= f <= 1.0:
        raise CalibrationError(f"{path}: {key} must be a probability within [0, 1] or null, not {_short(v)}")
    return f


def _short(v: object, limit: int = 40) -> str:
    """``repr(v)`` cut to ``limit`` characters: a 4000-digit number must not become a 4000-character line."""
    text = repr(v)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def from_dict(d: object, path: str = "calibration") -> Calibration:
    """A Calibration from a file's parsed content; CalibrationError naming the first problem."""
    if not isinstance(d, dict) or d.get("format") != FORMAT:
        raise CalibrationError(f'{path}: not a FaceCoach calibration file (no "format": "{FORMAT}")')
    if d.get("version") != VERSION:
        raise CalibrationError(
            f"{path}: calibration version {_short(d.get('version'))}, this FaceCoach reads {VERSION}"
        )
    names, bias = d.get("class_names"), d.get("bias")
    if not isinstance(names, list) or not names or not all(isinstance(n, str) and n for n in names):
        raise CalibrationError(f"{path}: class_names must be a list of class names")
    if len(set(names)) != len(names) or NEUTRAL not in names:
        raise CalibrationError(f"{path}: class_names {_short(names, 120)} must be distinct and include {NEUTRAL!r}")
    if not isinstance(bias, list) or len(bias) != len(names):
        raise CalibrationError(f"{path}: bias must be a list of {len(names)} numbers, one per class")
    for b in bias:
        f = _finite(b)
        if f is None or abs(f) > _BIAS_LIMIT:
            raise CalibrationError(f"{path}: bias {_short(b)} is not a finite number within +-{_BIAS_LIMIT:g}")
    variant, created = d.get("model_variant", ""), d.get("created", "")
    if not isinstance(variant, str) or not isinstance(created, str):
        raise CalibrationError(f"{path}: model_variant and created must be strings")
    return Calibration(
        tuple(names),
        tuple(float(b) for b in bias),
        variant,
        int(_number(d, "frames", path, int)),
        _number(d, "seconds", path),
        created,
        _fraction(d, "neutral_before", path),
        _fraction(d, "neutral_after", path),
    )


def load(path: str, class_names: Optional[Sequence[str]] = None) -> Calibration:
    """Read and check a calibration file (regular file, at most 64 KiB); with ``class_names``, match them too."""
    path = os.fspath(path)
    try:
        st = os.stat(path)
    except OSError as exc:
        raise CalibrationError(f"{path}: cannot read the calibration ({exc.strerror or exc})") from None
    if not stat.S_ISREG(st.st_mode):
        raise CalibrationError(f"{path}: not a regular file")
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise CalibrationError(f"{path}: cannot read the calibration ({exc.strerror or exc})") from None
    if len(raw) > MAX_FILE_BYTES:
        raise CalibrationError(f"{path}: larger than {MAX_FILE_BYTES // 1024} KiB, not a calibration file")
    try:
        content = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:  # also an integer beyond Python's digit limit (3.11+)
        raise CalibrationError(f"{path}: not JSON ({exc})") from None
    except RecursionError:  # [[[[...: the parser recurses once per level
        raise CalibrationError(f"{path}: JSON nested too deeply, not a calibration file") from None
    cal = from_dict(content, path)
    if class_names is not None:
        try:
            cal.check_classes(class_names)
        except CalibrationError as exc:
            raise CalibrationError(f"{path}: {exc}") from None
    return cal
