"""The classifier's /diagnostics: frame counts between two reports, and the status they make (no rclpy)."""

import threading
from typing import Tuple

from diagnostic_msgs.msg import DiagnosticStatus, KeyValue


class FrameStats:
    """What the node counts between two /diagnostics messages; safe to count from any callback's thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._frames = self._errors = self._dropped = 0
        self._infer_ms_sum = 0.0

    def count(self, infer_ms: float = 0.0, error: bool = False, dropped: bool = False) -> None:
        """One frame: classified in ``infer_ms``, or a bad crop (``error``), or no model (``dropped``)."""
        with self._lock:
            self._frames += 1
            self._errors += error
            self._dropped += dropped
            self._infer_ms_sum += infer_ms

    def take(self) -> Tuple[int, int, int, float]:
        """(frames, errors, dropped, summed inference ms) since the last take; the counts start again."""
        with self._lock:
            out = (self._frames, self._errors, self._dropped, self._infer_ms_sum)
            self._frames = self._errors = self._dropped = 0
            self._infer_ms_sum = 0.0
        return out


def classifier_status(
    counts: Tuple[int, int, int, float], period_s: float, classifier, config, calibration, cal_problem: str = ""
) -> DiagnosticStatus:
    """The status of one report: the model (or none), its rate and latency, the calibration (or why it is off).

    ``classifier`` is the EmotionClassifier in use (None: no model loaded), ``config`` the ClassifierConfig,
    ``calibration`` the Calibration applied (None: off), ``cal_problem`` why calibration_file was refused.
    """
    frames, errors, dropped, ms = counts
    c = classifier
    device = c.device if c else config.device
    status = DiagnosticStatus(name="facecoach: emotion_classifier", hardware_id=device)
    status.level = DiagnosticStatus.OK if c else DiagnosticStatus.ERROR
    status.message = (f"running {c.variant}" + (", calibrated" if calibration else "")) if c else "no model loaded"
    if c and cal_problem:
        status.level = DiagnosticStatus.WARN
        status.message += f"; calibration_file refused: {cal_problem}"
    done = max(1, frames - errors - dropped)
    status.values = [
        KeyValue(key="variant", value=c.variant if c else ""),
        KeyValue(key="backend", value=c.backend if c else config.backend),
        KeyValue(key="device", value=device),
        KeyValue(key="fps", value=f"{frames / period_s:.1f}"),
        KeyValue(key="inference_ms_mean", value=f"{ms / done:.2f}"),
        KeyValue(key="dropped_frames", value=str(dropped + errors)),
        KeyValue(key="calibration_file", value=config.calibration_file),
        KeyValue(key="calibration", value=calibration.summary() if calibration else "off"),
        KeyValue(key="calibration_bias", value=calibration.bias_text() if calibration else ""),
    ]
    return status
