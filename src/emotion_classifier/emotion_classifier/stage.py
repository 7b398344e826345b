"""The classify stage: one face crop -> its (optionally smoothed) emotion scores, wherever frames flow.

The emotion_classifier node, single-process mode, ``facecoach eval-bag`` and the bench all classify through
:class:`ClassifyStage`; the classifier can be swapped between two frames (a runtime model switch).
"""

from typing import Optional, Tuple

import numpy as np

from .inference import EmotionClassifier, EmotionScores
from .smoothing import ProbabilitySmoother


class ClassifyStage:
    """An EmotionClassifier plus the temporal smoothing of the same face's probabilities."""

    def __init__(self, classifier: Optional[EmotionClassifier], smoothing_frames: int = 1) -> None:
        self.classifier = classifier
        self.smoother = ProbabilitySmoother(smoothing_frames)

    def set_smoothing(self, frames: int) -> None:
        """Smooth over ``frames`` face frames from now on (1 = off); the window starts afresh."""
        if frames != self.smoother.frames:
            self.smoother = ProbabilitySmoother(frames)

    def classify(self, crop: np.ndarray, stamp_s: float, box: Tuple[int, int, int, int]) -> EmotionScores:
        """Scores of one face crop (PreprocessError for a crop that is not an image), smoothed over its face."""
        classifier = self.classifier  # one read: a swap during this frame takes effect on the next one
        p = classifier.predict_batch([crop])[0]
        p = self.smoother.update(stamp_s, box, p)
        i = int(p.argmax())
        return EmotionScores(classifier.class_names[i], float(p[i]), classifier.class_names, tuple(float(v) for v in p))

    def no_face(self) -> None:
        """A frame without a face: the next face starts a new smoothing window."""
        self.smoother.no_face()
