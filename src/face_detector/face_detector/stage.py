"""The detect stage: one frame -> its largest face and the crop, the same code wherever frames flow.

The face_detector node, single-process mode, ``facecoach eval-bag`` and the bench all run a frame through
:class:`DetectStage`: decode the image message, drop a frame already seen (raw + compressed copies of one
camera frame), find the face, crop it. No rclpy; messages are only read.
"""

import time
from dataclasses import dataclass
from typing import Any, Optional

import cv2
import numpy as np

from facecoach_common.image_conversions import ImageConversionError, frame_to_detect
from facecoach_common.stamps import RecentFrames

from .detector import FaceBox, FaceDetector


class FrameError(ValueError):
    """A frame the graph skips (it cannot be decoded, OpenCV fails on it); ``reason`` is a short code."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class FaceResult:
    """One frame's face: the clipped box and its crop (both None without a face), the frame size, the time."""

    box: Optional[FaceBox]
    crop: Optional[np.ndarray]
    width: int
    height: int
    detect_ms: float


class DetectStage:
    """Decode, de-duplicate, detect and crop; the detector can be swapped between two frames."""

    def __init__(self, detector: FaceDetector) -> None:
        self.detector = detector
        self._recent = RecentFrames()

    def is_duplicate(self, stamp_ns: int, frame_id: str) -> bool:
        """True for a frame (stamp, frame_id) among the last ones seen: the graph processes it once."""
        return self._recent.seen(stamp_ns, frame_id)

    @staticmethod
    def decode(msg: Any) -> np.ndarray:
        """The frame of a sensor_msgs Image (BGR, or mono) or CompressedImage (gray), rclpy's or rosbags' classes."""
        try:
            return frame_to_detect(msg)
        except ImageConversionError as exc:
            raise FrameError(exc.reason, str(exc)) from exc

    def detect(self, frame_bgr: np.ndarray) -> FaceResult:
        """The largest face of a BGR (or gray) frame, clipped to it, with the configured crop (BGR)."""
        detector = self.detector  # one read: a swap during this frame takes effect on the next one
        t0 = time.perf_counter()
        try:
            box = detector.detect(frame_bgr)
        except cv2.error as exc:
            raise FrameError("opencv", f"OpenCV failed on the frame: {exc}") from exc
        crop = detector.crop(frame_bgr, box) if box is not None else None
        height, width = frame_bgr.shape[:2]
        return FaceResult(box, crop, int(width), int(height), (time.perf_counter() - t0) * 1000.0)

    def reset(self) -> None:
        """A new stream: forget the tracked face and the frames seen."""
        self.detector.reset()
        self._recent.clear()
