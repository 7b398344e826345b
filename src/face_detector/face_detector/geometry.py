"""Face boxes in pixels and the crop of one (NumPy and OpenCV, no rclpy)."""

from dataclasses import dataclass
from typing import Optional

import cv2
import numpy as np


@dataclass(frozen=True)
class FaceBox:
    """An axis-aligned face box in pixels (x, y = top-left corner)."""

    x: int
    y: int
    w: int
    h: int

    @property
    def area(self) -> int:
        """Box area in square pixels."""
        return max(0, self.w) * max(0, self.h)

    def iou(self, other: "FaceBox") -> float:
        """Intersection over union with another box (0 when disjoint)."""
        ix = max(0, min(self.x + self.w, other.x + other.w) - max(self.x, other.x))
        iy = max(0, min(self.y + self.h, other.y + other.h) - max(self.y, other.y))
        inter = ix * iy
        union = self.area + other.area - inter
        return inter / union if union > 0 else 0.0

    def expanded(self, margin: float) -> "FaceBox":
        """The box grown by ``margin`` times its size on every side."""
        dx, dy = int(round(self.w * margin)), int(round(self.h * margin))
        return FaceBox(self.x - dx, self.y - dy, self.w + 2 * dx, self.h + 2 * dy)

    def clipped(self, width: int, height: int) -> Optional["FaceBox"]:
        """The part of the box inside a width x height frame, or None when nothing is inside."""
        x0, y0 = max(0, self.x), max(0, self.y)
        x1, y1 = min(width, self.x + self.w), min(height, self.y + self.h)
        if x1 <= x0 or y1 <= y0:
            return None
        return FaceBox(x0, y0, x1 - x0, y1 - y0)


def crop_face(frame: np.ndarray, box: FaceBox, size: int = 48, margin: float = 0.0) -> np.ndarray:
    """The face (grown by ``margin``, clipped to the frame) from the full-resolution frame, as size x size x 3 BGR."""
    height, width = frame.shape[:2]
    region = box.expanded(margin).clipped(width, height)
    if region is None:
        raise ValueError(f"face box {box} lies outside the {width}x{height} frame")
    patch = frame[region.y : region.y + region.h, region.x : region.x + region.w]
    # INTER_AREA averages when shrinking (no aliasing); INTER_LINEAR is the better choice when enlarging.
    interp = cv2.INTER_AREA if region.w >= size and region.h >= size else cv2.INTER_LINEAR
    crop = cv2.resize(patch, (size, size), interpolation=interp)
    if crop.ndim == 2:
        crop = cv2.cvtColor(crop, cv2.COLOR_GRAY2BGR)
    elif crop.shape[2] == 4:
        crop = cv2.cvtColor(crop, cv2.COLOR_BGRA2BGR)
    return np.ascontiguousarray(crop, dtype=np.uint8)
