"""The debug picture: the frame with the face box, the label and the category drawn on it (no ROS)."""

from typing import Optional

import cv2
import numpy as np

from .geometry import FaceBox

COLOURS = {"good": (80, 200, 60), "acceptable": (0, 200, 230), "bad": (40, 40, 230), "none": (180, 180, 180)}


def annotate(
    frame: np.ndarray, box: Optional[FaceBox], label: str = "", category: str = "none", confidence: float = 0.0
) -> np.ndarray:
    """A copy of a BGR frame with the face box in the category's colour and 'label 0.87 (category)' above it."""
    out = frame.copy() if frame.ndim == 3 else cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
    if box is None:
        cv2.putText(out, "no face", (10, 30), cv2.FONT_HERSHEY_SIMPLEX, 0.8, COLOURS["none"], 2, cv2.LINE_AA)
        return out
    colour = COLOURS.get(category, COLOURS["none"])
    cv2.rectangle(out, (box.x, box.y), (box.x + box.w, box.y + box.h), colour, 2)
    text = f"{label} {confidence:.2f} ({category})" if label else "(classifying)"
    y = box.y - 8 if box.y > 24 else box.y + box.h + 22
    cv2.putText(out, text, (box.x, y), cv2.FONT_HERSHEY_SIMPLEX, 0.7, colour, 2, cv2.LINE_AA)
    return out
