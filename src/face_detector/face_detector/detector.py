"""Haar-cascade face detection: the paper's full-frame way ('naive') and a tracked, downscaled one ('fast').

Pure logic (OpenCV and NumPy, no rclpy, no clock). "Where to search" (``SearchPlan``, ``Tracker``) is kept
apart from the cv2 call (``RawDetect``) so the fast path's state machine is testable with a fake detector.
"""

import os
from dataclasses import dataclass
from typing import Callable, Iterable, List, Optional, Sequence, Tuple

import cv2
import numpy as np

from facecoach_common.settings import check_settings, setting

from .geometry import FaceBox, crop_face

MODES = ("naive", "fast")
DEFAULT_CASCADE = "haarcascade_frontalface_default.xml"
# Where a system (apt / JetPack) OpenCV keeps its cascades; its cv2 module has no cv2.data.
_SYSTEM_CASCADE_DIRS = (
    "/usr/share/opencv4/haarcascades",
    "/usr/share/opencv/haarcascades",
    "/usr/local/share/opencv4/haarcascades",
)
# In a search region the last face is scaled to about this width: 4x the cascade's 24 px window. Smaller
# costs less a search but misses the face more often (at 48 px: about one frame in six of the sample), and
# each miss then pays for a full-frame search.
TRACK_FACE_PX = 96
# The periodic full-frame check while a face is tracked only has to find that face again (see full_plan):
# a coarser copy does, and costs less; its rare miss is retried in the region.
CHECK_FACE_PX = 48
# Between two frames a tracked face changes size by less than this factor (the periodic full search
# catches anything faster), so the region scan only tries scales in [w / ratio, w * ratio].
TRACK_SIZE_RATIO = 1.2
# A box overlapping the tracked face this much is the same person (faces move little between two frames).
SAME_FACE_IOU = 0.3

# gray image, scale_factor, min_neighbors, min_size, max_size (0 = none) -> (x, y, w, h) boxes in that image
RawDetect = Callable[[np.ndarray, float, int, int, int], Sequence[Tuple[int, int, int, int]]]


class DetectorError(RuntimeError):
    """The detector cannot work: e.g. a missing or invalid cascade file."""


@dataclass(frozen=True)
class DetectorConfig:
    """Detector settings; the constructor validates them (ValueError with the reason)."""

    mode: str = setting(
        "fast", "naive: Haar on every full frame (the paper); fast: downscaled + tracked region", choices=MODES
    )
    cascade_path: str = setting("", "Haar cascade XML file ('' = OpenCV's haarcascade_frontalface_default.xml)")
    scale_factor: float = setting(1.1, "Haar pyramid step between scales", 1.01, 2.0)
    min_neighbors: int = setting(5, "Haar: overlapping detections needed to accept a face", 0, 50)
    min_size_px: int = setting(30, "smallest face to find, full-frame pixels", 1, 8192)
    max_size_px: int = setting(0, "largest face to find, full-frame pixels (0 = no limit)", 0, 8192)
    downscale_width: int = setting(
        320, "fast mode: full-frame searches run on the frame resized to this width", 32, 8192
    )
    roi_margin: float = setting(
        0.3, "fast mode: search region around the last face, fraction of its size per side", 0.0, 5.0
    )
    full_every_n: int = setting(10, "fast mode: a full-frame search at least every N frames", 1, 10000)
    crop_margin: float = setting(0.0, "crop = face box grown by this fraction of its size per side", 0.0, 2.0)
    crop_size: int = 48  # the classifier's input; not a parameter

    def __post_init__(self) -> None:
        """Range and cross-field validation."""
        check_settings(self)
        if self.max_size_px and self.max_size_px < self.min_size_px:
            raise ValueError(
                f"max_size_px must be 0 (no limit) or >= min_size_px ({self.min_size_px}), not {self.max_size_px}"
            )
        if not 8 <= self.crop_size <= 1024:
            raise ValueError(f"crop_size must be in [8, 1024], not {self.crop_size}")


@dataclass(frozen=True)
class SearchPlan:
    """Where to look: a region of the full frame, resized by ``scale``, for faces of min..max scaled px."""

    region: FaceBox
    scale: float
    min_size: int
    max_size: int  # 0 = no limit
    full: bool

    def to_frame(self, box: Tuple[int, int, int, int]) -> FaceBox:
        """Map a box found in the resized region back to full-frame pixels."""
        x, y, w, h = box
        s = self.scale
        return FaceBox(
            self.region.x + int(round(x / s)),
            self.region.y + int(round(y / s)),
            int(round(w / s)),
            int(round(h / s)),
        )


def full_plan(width: int, height: int, config: DetectorConfig, tracked: Optional[FaceBox] = None) -> SearchPlan:
    """Search the whole frame; in fast mode on a copy downscaled to ``downscale_width``.

    Fast mode's periodic check while it follows a face (``tracked``) looks only for faces at least that
    face's width / TRACK_SIZE_RATIO: a smaller one would never be picked over it (see :func:`pick`). So the
    copy is scaled down further, until the tracked face is about CHECK_FACE_PX wide.
    """
    scale = 1.0 if config.mode == "naive" else min(1.0, config.downscale_width / float(width))
    min_size = float(config.min_size_px)
    if tracked is not None and config.mode == "fast":
        scale = min(scale, CHECK_FACE_PX / float(max(1, tracked.w)))
        min_size = max(min_size, tracked.w / TRACK_SIZE_RATIO)
    max_size = int(round(config.max_size_px * scale)) if config.max_size_px else 0
    return SearchPlan(FaceBox(0, 0, width, height), scale, max(1, int(round(min_size * scale))), max_size, True)


def roi_plan(
    last: FaceBox, width: int, height: int, config: DetectorConfig, face_px: float = TRACK_FACE_PX
) -> Optional[SearchPlan]:
    """Search around the last face, scaled so it is about ``face_px`` wide; None if it left the frame."""
    region = last.expanded(config.roi_margin).clipped(width, height)
    if region is None:
        return None
    scale = min(1.0, face_px / float(max(1, last.w)))
    lo = max(last.w / TRACK_SIZE_RATIO, config.min_size_px)
    hi = last.w * TRACK_SIZE_RATIO
    if config.max_size_px:
        hi = min(hi, config.max_size_px)
    return SearchPlan(region, scale, max(1, int(round(lo * scale))), max(1, int(round(hi * scale))), False)


def largest(boxes: Iterable[FaceBox]) -> Optional[FaceBox]:
    """The box with the largest area (the first one on ties), or None."""
    best: Optional[FaceBox] = None
    for b in boxes:
        if best is None or b.area > best.area:
            best = b
    return best


def pick(boxes: Iterable[FaceBox], tracked: Optional[FaceBox] = None) -> Optional[FaceBox]:
    """The tracked person's face when one of the boxes overlaps it (IoU >= SAME_FACE_IOU), else the largest.

    With two faces in view (a second person, a face on a screen) the coach keeps following the one it was
    following, even when the other is larger; only when that face is gone does it take the largest.
    """
    boxes = list(boxes)
    if tracked is not None:
        same = [(b.iou(tracked), i) for i, b in enumerate(boxes)]
        same = [x for x in same if x[0] >= SAME_FACE_IOU]
        if same:
            return boxes[max(same)[1]]
    return largest(boxes)


class Tracker:
    """Fast mode's state machine: a full search when no face is known or every N frames, else the region."""

    def __init__(self, full_every_n: int) -> None:
        """Start with no face known."""
        self.full_every_n = full_every_n
        self.last: Optional[FaceBox] = None
        self.since_full = 0  # frames since the last full-frame search

    def wants_full(self) -> bool:
        """True when the next frame needs a full-frame search."""
        return self.last is None or self.since_full + 1 >= self.full_every_n

    def update(self, box: Optional[FaceBox], searched_full: bool) -> None:
        """Record the outcome of this frame's search(es)."""
        self.since_full = 0 if searched_full else self.since_full + 1
        self.last = box

    def reset(self) -> None:
        """Forget the face (e.g. the frame size changed)."""
        self.last, self.since_full = None, 0


def default_cascade_path() -> str:
    """OpenCV's own frontal-face cascade: pip's cv2.data, or a system OpenCV's share directory."""
    data = getattr(cv2, "data", None)
    dirs: List[str] = [data.haarcascades] if data is not None else []
    for d in dirs + list(_SYSTEM_CASCADE_DIRS):
        path = os.path.join(d, DEFAULT_CASCADE)
        if os.path.isfile(path):
            return path
    return os.path.join(dirs[0] if dirs else _SYSTEM_CASCADE_DIRS[0], DEFAULT_CASCADE)


def load_cascade(path: str = "") -> cv2.CascadeClassifier:
    """Load a Haar cascade XML ('' = OpenCV's default frontal face); DetectorError when it is missing or invalid."""
    path = path or default_cascade_path()
    if not os.path.isfile(path):
        raise DetectorError(f"cascade file not found: {path}")
    cascade = cv2.CascadeClassifier()
    try:
        ok = cascade.load(path)
    except cv2.error as exc:  # OpenCV raises on malformed XML instead of returning False
        raise DetectorError(f"cascade file {path} is not a valid OpenCV cascade: {exc}") from exc
    if not ok or cascade.empty():
        raise DetectorError(f"cascade file {path} is not a valid OpenCV cascade")
    return cascade


def cascade_detector(cascade: cv2.CascadeClassifier) -> RawDetect:
    """Wrap a CascadeClassifier as a RawDetect function."""

    def detect(gray: np.ndarray, scale_factor: float, min_neighbors: int, min_size: int, max_size: int):
        found = cascade.detectMultiScale(
            gray,
            scaleFactor=scale_factor,
            minNeighbors=min_neighbors,
            minSize=(min_size, min_size),
            maxSize=(max_size, max_size) if max_size else (0, 0),
        )
        return [tuple(int(v) for v in b) for b in found]

    return detect


class FaceDetector:
    """Finds the largest face of each frame, in full-resolution pixels."""

    def __init__(self, config: DetectorConfig, raw_detect: Optional[RawDetect] = None) -> None:
        """Load the cascade unless a RawDetect is injected (tests, or a cascade shared between detectors)."""
        self.config = config
        self._raw = raw_detect if raw_detect is not None else cascade_detector(load_cascade(config.cascade_path))
        self.tracker = Tracker(config.full_every_n)
        self._frame_size: Tuple[int, int] = (0, 0)
        self.searches: List[SearchPlan] = []  # the plans run for the last frame (for tests and benchmarks)

    def reset(self) -> None:
        """Forget the tracked face."""
        self.tracker.reset()

    def run_plan(self, frame: np.ndarray, plan: SearchPlan) -> Optional[FaceBox]:
        """Run one search and return its face in full-frame pixels (see :func:`pick`)."""
        self.searches.append(plan)
        r = plan.region
        patch = frame[r.y : r.y + r.h, r.x : r.x + r.w]
        if plan.scale < 1.0:
            size = (max(1, int(round(r.w * plan.scale))), max(1, int(round(r.h * plan.scale))))
            patch = cv2.resize(patch, size, interpolation=cv2.INTER_AREA)
        gray = patch if patch.ndim == 2 else cv2.cvtColor(patch, cv2.COLOR_BGR2GRAY)
        c = self.config
        boxes = self._raw(gray, c.scale_factor, c.min_neighbors, plan.min_size, plan.max_size)
        # The paper's naive mode takes the largest face; fast mode keeps following the tracked one.
        tracked = self.tracker.last if self.config.mode == "fast" else None
        return pick((plan.to_frame(b) for b in boxes), tracked)

    def detect(self, frame: np.ndarray) -> Optional[FaceBox]:
        """The largest face in a BGR (or gray) frame, clipped to the frame, or None."""
        self.searches = []
        height, width = frame.shape[:2]
        if width <= 0 or height <= 0:
            return None
        if self.config.mode == "naive":
            box = self.run_plan(frame, full_plan(width, height, self.config))
        else:
            box = self._track(frame, width, height)
        # Mapping a box back from a scaled search can round it a pixel past the edge; the tracker keeps that
        # box, callers get the part inside the frame.
        return box.clipped(width, height) if box is not None else None

    def crop(self, frame: np.ndarray, box: FaceBox) -> np.ndarray:
        """The configured crop (crop_size, crop_margin) of a face this detector found in ``frame``."""
        return crop_face(frame, box, self.config.crop_size, self.config.crop_margin)

    def _track(self, frame: np.ndarray, width: int, height: int) -> Optional[FaceBox]:
        """Fast mode: search around the last face or the whole downscaled frame, as the tracker says."""
        if (width, height) != self._frame_size:
            self._frame_size = (width, height)
            self.tracker.reset()
        last = self.tracker.last
        roi = roi_plan(last, width, height, self.config) if last is not None else None
        full = roi is None or self.tracker.wants_full()
        box = self.run_plan(frame, full_plan(width, height, self.config, last if roi else None) if full else roi)
        if box is None and roi is not None:
            # A miss is retried the other way round in the same frame, and then around the last face at full
            # resolution (borderline faces that only the full-resolution cascade finds): losing a tracked face
            # costs extra searches on that one frame, never a detection the naive way would have made.
            box = self.run_plan(frame, roi if full else full_plan(width, height, self.config))
            full = True
            if box is None and roi.scale < 1.0:
                box = self.run_plan(frame, roi_plan(last, width, height, self.config, float("inf")))
        self.tracker.update(box, full)
        return box
