"""Steadier labels: the mean of the last N probability vectors of the same face (no ROS, no clock of its own).

Single-frame labels flicker on video. The window restarts when the face is gone, when a box no longer
overlaps the last one (another person), or when the stamps jump back or leave a gap, so smoothing never
mixes two faces or two moments. ``frames`` 1 is no smoothing (the frame's own probabilities).
"""

from collections import deque
from typing import Deque, Optional, Sequence, Tuple

import numpy as np

Box = Tuple[int, int, int, int]  # x, y, w, h
SAME_FACE_IOU = 0.3
MAX_GAP_S = 0.5


def _iou(a: Box, b: Box) -> float:
    ix = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


class ProbabilitySmoother:
    """``update(stamp_s, box, probabilities)`` -> the smoothed probabilities of this face."""

    def __init__(self, frames: int = 1) -> None:
        if frames < 1:
            raise ValueError("smoothing needs frames >= 1 (1 = off)")
        self.frames = frames
        self._window: Deque[np.ndarray] = deque(maxlen=frames)
        self._last: Optional[Tuple[float, Box]] = None

    def update(self, stamp_s: float, box: Box, probabilities: Sequence[float]) -> np.ndarray:
        """Add one face frame and return the mean over the window (the frame alone when frames is 1)."""
        p = np.asarray(probabilities, dtype=np.float64)
        if self._last is not None:
            t, last_box = self._last
            if not (t - 1e-6 <= stamp_s <= t + MAX_GAP_S) or _iou(box, last_box) < SAME_FACE_IOU:
                self._window.clear()
        self._last = (stamp_s, box)
        if self._window and self._window[0].shape != p.shape:
            self._window.clear()  # another model with other classes
        self._window.append(p)
        return np.mean(self._window, axis=0)

    def no_face(self) -> None:
        """The face is gone: the next face starts a new window."""
        self._window.clear()
        self._last = None
