"""The classify stage: one face crop -> its (calibrated, optionally smoothed) emotion scores, wherever frames flow.

The emotion_classifier node, single-process mode, ``facecoach eval-bag`` and the bench all classify through
:class:`ClassifyStage`; the classifier can be swapped between two frames (a runtime model switch).
"""

from typing import List, Optional, Tuple

import numpy as np

from .calibration import Calibration
from .inference import EmotionClassifier, EmotionScores
from .smoothing import ProbabilitySmoother


class ClassifyStage:
    """An EmotionClassifier, the user's calibration, and the temporal smoothing of the same face's probabilities.

    ``calibration`` (None = off) corrects each frame's probabilities before smoothing. While ``recording``
    is a list, every face frame's probabilities *before* the correction are appended to it (a calibration
    hold: :meth:`start_recording` / :meth:`stop_recording`).
    """

    def __init__(
        self,
        classifier: Optional[EmotionClassifier],
        smoothing_frames: int = 1,
        calibration: Optional[Calibration] = None,
    ) -> None:
        self.classifier = classifier
        self.smoother = ProbabilitySmoother(smoothing_frames)
        self.calibration = calibration
        self.recording: Optional[List[np.ndarray]] = None

    def start_recording(self) -> None:
        """Record the uncorrected probabilities of the face frames from now on."""
        self.recording = []

    def stop_recording(self) -> List[np.ndarray]:
        """Stop recording; the probabilities recorded since :meth:`start_recording`."""
        recorded, self.recording = self.recording or [], None
        return recorded

    def set_smoothing(self, frames: int) -> None:
        """Smooth over ``frames`` face frames from now on (1 = off); the window starts afresh."""
        if frames != self.smoother.frames:
            self.smoother = ProbabilitySmoother(frames)

    def classify(self, crop: np.ndarray, stamp_s: float, box: Tuple[int, int, int, int]) -> EmotionScores:
        """Scores of one face crop (PreprocessError for a crop that is not an image), smoothed over its face."""
        classifier = self.classifier  # one read: a swap during this frame takes effect on the next one
        p = classifier.predict_batch([crop])[0]
        if self.recording is not None:
            self.recording.append(np.asarray(p, dtype=np.float64))
        calibration = self.calibration
        if calibration is not None and len(calibration.bias) == len(p):
            p = calibration.apply(p)
        p = self.smoother.update(stamp_s, box, p)
        i = int(p.argmax())
        return EmotionScores(classifier.class_names[i], float(p[i]), classifier.class_names, tuple(float(v) for v in p))

    def no_face(self) -> None:
        """A frame without a face: the next face starts a new smoothing window."""
        self.smoother.no_face()
