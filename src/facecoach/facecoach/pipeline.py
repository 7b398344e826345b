"""The FaceCoach pipeline in one process: BGR frame -> face -> emotion -> category -> cue decision.

The same logic objects the three nodes run (FaceDetector, EmotionClassifier, CuePolicy), wired as the
graph wires them, with no ROS and no clock: time comes only from the frames' stamps. The alert node also
holds a cue back while the previous one is still playing ('busy'); here playback is taken to be
instantaneous, so that state never applies.

``settings_from_graph`` builds the configuration the nodes would use: each node's config dataclass (whose
fields are its parameters, with their defaults) built from config/facecoach.yaml's values; no rclpy.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict

import numpy as np

from alert_player.config import AlertConfig
from alert_player.mapping import NO_CATEGORY, categorize
from alert_player.policy import NO_FACE, CuePolicy, Decision
from face_detector.detector import DetectorConfig, FaceBox, FaceDetector, RawDetect

REPO = Path(__file__).resolve().parents[3]


class FrameError(ValueError):
    """One frame the live graph would skip (OpenCV or preprocessing failed on it); ``reason`` is a short code."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class PipelineSettings:
    """What the graph's nodes would run with: detector config, classifier weights and threads, alert config."""

    detector: DetectorConfig = field(default_factory=DetectorConfig)
    alert: AlertConfig = field(default_factory=AlertConfig)
    models_dir: str = ""
    variant: str = "baseline"
    device: str = "cpu"
    num_threads: int = 1
    flip_tta: bool = False

    def model_path(self, variant: str | None = None) -> Path:
        """The weight file of ``variant`` (default: this settings' variant)."""
        from emotion_classifier.inference import variant_path

        return variant_path(self.models_dir, variant or self.variant)


@dataclass(frozen=True)
class Detection:
    """The detector stage's output for one frame: the clipped face box and its crop, or no face."""

    box: FaceBox | None
    crop: np.ndarray | None
    detect_ms: float


def default_models_dir() -> str:
    """The repository's models/ when running from the source tree, else the installed one."""
    local = REPO / "models"
    if local.is_dir():
        return str(local)
    from emotion_classifier.node import default_models_dir as installed

    return installed()


def settings_from_graph(graph=None, variant: str | None = None, models_dir: str | None = None) -> PipelineSettings:
    """The settings of the replay graph's nodes (their config defaults merged with the graph's parameters)."""
    from emotion_classifier.config import ClassifierConfig
    from face_detector.config import DetectorNodeConfig
    from facecoach_common.settings import from_values

    from .graph import load_graph

    graph = graph or load_graph()
    nodes = {n.name: n.parameters for n in graph.nodes_for("replay")}
    cls = dict(nodes.get("emotion_classifier", {}))
    if variant:
        cls["model_variant"] = variant
    if models_dir:
        cls["models_dir"] = str(models_dir)
    cls_config = from_values(ClassifierConfig, cls)
    return PipelineSettings(
        detector=from_values(DetectorNodeConfig, nodes.get("face_detector", {})).detector,
        alert=from_values(AlertConfig, nodes.get("alert_player", {})),
        models_dir=cls_config.models_dir or default_models_dir(),
        variant=cls_config.model_variant,
        device=cls_config.device,
        num_threads=cls_config.num_threads,
        flip_tta=cls_config.flip_tta,
    )


def stamp_seconds(stamp_ns: int) -> float:
    """A stamp in seconds exactly as the alert node computes it from a header (sec + nanosec * 1e-9)."""
    sec, nanosec = divmod(int(stamp_ns), 10**9)
    return sec + nanosec * 1e-9


class Pipeline:
    """Detector -> classifier -> mapping -> cue policy for a stream of stamped BGR frames, like the live graph."""

    def __init__(self, detector: FaceDetector, classifier, alert: AlertConfig) -> None:
        """Wire already-built stages (``classifier``: an EmotionClassifier or anything with its predict())."""
        self.detector = detector
        self.classifier = classifier
        self.alert = alert
        self.mapping = alert.effective_mapping
        self.policy = CuePolicy(alert.policy)
        self.last_ms: Dict[str, float] = {}  # stage timings of the last frame (measurement only, never decisions)

    @classmethod
    def from_settings(
        cls, settings: PipelineSettings, variant: str | None = None, raw_detect: RawDetect | None = None
    ) -> Pipeline:
        """Load the cascade and the weights of ``variant`` (default: the settings') and build the pipeline."""
        import torch

        from emotion_classifier.inference import EmotionClassifier

        torch.set_num_threads(settings.num_threads)
        classifier = EmotionClassifier(settings.model_path(variant), settings.device, settings.flip_tta)
        return cls(FaceDetector(settings.detector, raw_detect), classifier, settings.alert)

    @property
    def variant(self) -> str:
        """The classifier's variant name."""
        return str(getattr(self.classifier, "variant", ""))

    def reset(self) -> None:
        """Start a new stream: forget the tracked face and the policy's window."""
        self.detector.reset()
        self.policy.reset()

    def detect(self, frame_bgr: np.ndarray) -> Detection:
        """The face detector node's work on one frame: the largest face, clipped, and its crop."""
        import cv2

        t0 = time.perf_counter()
        try:
            box = self.detector.detect(frame_bgr)
        except cv2.error as exc:
            raise FrameError("opencv", f"OpenCV failed on the frame: {exc}") from exc
        crop = self.detector.crop(frame_bgr, box) if box is not None else None
        return Detection(box, crop, (time.perf_counter() - t0) * 1000.0)

    def decide(self, detection: Detection, stamp_ns: int) -> Dict[str, Any]:
        """The classifier and alert nodes' work on one detected frame; the result line of that frame."""
        from emotion_classifier.preprocess import PreprocessError

        t0 = time.perf_counter()
        stamp_s = stamp_seconds(stamp_ns)
        label, confidence, probabilities = "", 0.0, ()
        if detection.box is not None:
            try:
                scores = self.classifier.predict(detection.crop)
            except PreprocessError as exc:
                raise FrameError("preprocess", f"bad face crop: {exc}") from exc
            label, confidence, probabilities = scores.label, scores.confidence, scores.probabilities
        t1 = time.perf_counter()
        decision = self._decide(stamp_s, detection.box is not None, label, confidence)
        t2 = time.perf_counter()
        self.last_ms = {
            "detect": detection.detect_ms,
            "classify": (t1 - t0) * 1000.0,
            "decide": (t2 - t1) * 1000.0,
            "total": detection.detect_ms + (t2 - t0) * 1000.0,
        }
        box = detection.box
        return {
            "stamp_ns": int(stamp_ns),
            "face": box is not None,
            "roi": [box.x, box.y, box.w, box.h] if box is not None else [0, 0, 0, 0],
            "label": label,
            "confidence": round(float(confidence), 6),
            "probabilities": [round(float(p), 6) for p in probabilities],
            "category": decision.category,
            "cue": bool(decision.cue),
            "reason": decision.reason,
            "bad_share": round(float(decision.bad_share), 6),
        }

    def _decide(self, stamp_s: float, has_face: bool, label: str, confidence: float) -> Decision:
        """What the alert node does with one Emotion message (a label outside the mapping: 'none', no update)."""
        if not has_face:
            category = NO_CATEGORY
        else:
            try:
                category = categorize(self.mapping, label)
            except ValueError:
                return Decision(NO_CATEGORY, self.policy.bad_share, False, NO_FACE)
            if not (math.isfinite(confidence) and 0.0 <= confidence <= 1.0):
                return Decision(NO_CATEGORY, self.policy.bad_share, False, NO_FACE)
        # busy=False: playback is taken to be instantaneous (see the module docstring).
        return self.policy.update(stamp_s, has_face, label, confidence, category, busy=False)

    def process(self, frame_bgr: np.ndarray, stamp_ns: int) -> Dict[str, Any]:
        """One frame through the whole pipeline: the result line (stamp_ns, face, roi, label, ..., cue)."""
        return self.decide(self.detect(frame_bgr), stamp_ns)
