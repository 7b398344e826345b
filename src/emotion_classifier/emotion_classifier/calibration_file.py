"""The calibration file: small JSON (class names, model variant, frames, seconds, bias, created).

Reading one checks it and raises :class:`CalibrationError` with a one-line reason, whatever the file holds
(huge numbers, deep nesting, wrong types). No ROS; runs on the device (Python 3.6).
"""

import json
import math
import os
import stat
from typing import Dict, Optional, Sequence

from .calibration import NEUTRAL, Calibration, CalibrationError

FORMAT = "facecoach-calibration"
VERSION = 1
MAX_FILE_BYTES = 64 * 1024
# Where ~/calibrate writes when calibration_file is '' (the file then becomes calibration_file): in
# $FACECOACH_HOME when that is set (default_file()).
DEFAULT_FILE = "~/.facecoach/calibration.json"
_BIAS_LIMIT = 20.0  # a file's bias beyond this is corrupt, not a calibration
MAX_FRAMES = 10**9  # a hold of more frames than this (a year at 30 fps) is corrupt, not a calibration


def default_file() -> str:
    """Where ~/calibrate writes when calibration_file is '': calibration.json in the FaceCoach home."""
    from facecoach_common.paths import facecoach_home

    return str(facecoach_home() / "calibration.json")


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
