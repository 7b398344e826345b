"""The FaceCoach pipeline in one process: BGR frame -> face -> emotion -> category -> cue decision.

The very stages the nodes run (face_detector.stage.DetectStage, EmotionClassifier.predict,
alert_player.stage.DecideStage), wired as the graph wires them, with no ROS and no clock: time comes only
from the frames' stamps. The alert node also holds a cue back while the previous one is still playing
('busy'); here playback is taken to be instantaneous, so that state never applies.

``settings_from_graph`` builds the configuration the nodes would use: each node's config dataclass (whose
fields are its parameters, with their defaults) built from config/facecoach.yaml's values; no rclpy.
"""

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Optional

from alert_player.config import AlertConfig
from alert_player.stage import Classified, DecideStage
from emotion_classifier.config import ClassifierConfig, default_models_dir
from face_detector.config import DetectorNodeConfig
from face_detector.detector import DetectorConfig, FaceDetector, RawDetect
from face_detector.stage import DetectStage, FaceResult, FrameError
from facecoach_common.settings import from_values
from facecoach_common.stamps import stamp_seconds

__all__ = ["FrameError", "Pipeline", "PipelineSettings", "settings_from_graph"]


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
    smoothing_frames: int = 1
    calibration_file: str = ""

    def model_path(self, variant: Optional[str] = None) -> Path:
        """The weight file of ``variant`` (default: this settings' variant): its .safetensors, else its .onnx."""
        from emotion_classifier.inference import variant_path

        folder, name = self.models_dir or default_models_dir(), variant or self.variant
        torch_file = variant_path(folder, name)
        onnx_file = variant_path(folder, name, "onnxruntime")
        return onnx_file if not torch_file.is_file() and onnx_file.is_file() else torch_file


def settings_from_graph(
    graph=None, variant: Optional[str] = None, models_dir: Optional[str] = None
) -> PipelineSettings:
    """The settings of the replay graph's nodes (their config defaults merged with the graph's parameters)."""
    from facecoach.graph import load_graph

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
        smoothing_frames=cls_config.smoothing_frames,
        calibration_file=cls_config.calibration_file,
    )


class Pipeline:
    """Detect -> classify -> decide for a stream of stamped BGR frames, like the live graph."""

    def __init__(
        self, detector: FaceDetector, classifier, alert: AlertConfig, smoothing_frames: int = 1, calibration=None
    ) -> None:
        """Wire already-built stages (``classifier``: an EmotionClassifier; ``calibration``: the user's, or None)."""
        from emotion_classifier.stage import ClassifyStage

        self.detect_stage = DetectStage(detector)
        self.classify_stage = ClassifyStage(classifier, smoothing_frames, calibration)
        self.decide_stage = DecideStage(alert)
        self.last_ms: Dict[str, float] = {}  # stage timings of the last frame (measurement only, never decisions)

    @classmethod
    def from_settings(
        cls, settings: PipelineSettings, variant: Optional[str] = None, raw_detect: Optional[RawDetect] = None
    ) -> "Pipeline":
        """Load the cascade, the weights of ``variant`` (default: the settings') and the calibration; wire them.

        A calibration_file that cannot be used raises CalibrationError (a ValueError) with its reason.
        """
        import torch

        from emotion_classifier import calibration_file
        from emotion_classifier.inference import EmotionClassifier

        torch.set_num_threads(settings.num_threads)
        classifier = EmotionClassifier(settings.model_path(variant), settings.device, settings.flip_tta)
        cal = None
        if settings.calibration_file:
            cal = calibration_file.load(settings.calibration_file, classifier.class_names)
        detector = FaceDetector(settings.detector, raw_detect)
        return cls(detector, classifier, settings.alert, settings.smoothing_frames, cal)

    @property
    def variant(self) -> str:
        """The classifier's variant name."""
        return str(self.classify_stage.classifier.variant)

    def reset(self) -> None:
        """Start a new stream: forget the tracked face, the frames seen and the policy's window."""
        self.detect_stage.reset()
        self.classify_stage.no_face()
        self.decide_stage.reset()

    def detect(self, frame_bgr) -> FaceResult:
        """The face detector node's work on one decoded frame (FrameError when OpenCV fails on it)."""
        return self.detect_stage.detect(frame_bgr)

    def decide(self, face: FaceResult, stamp_ns: int) -> Dict[str, Any]:
        """The classifier and alert nodes' work on one detected frame; the result line of that frame."""
        from emotion_classifier.preprocess import PreprocessError

        t0 = time.perf_counter()
        frame = Classified(stamp_seconds(stamp_ns), face.box is not None)
        if face.box is None:
            self.classify_stage.no_face()
        else:
            b = face.box
            try:
                scores = self.classify_stage.classify(face.crop, frame.stamp_s, (b.x, b.y, b.w, b.h))
            except PreprocessError as exc:
                raise FrameError("preprocess", f"bad face crop: {exc}") from exc
            frame = Classified(
                frame.stamp_s, True, scores.label, scores.confidence, scores.class_names, scores.probabilities
            )
        t1 = time.perf_counter()
        decision, _malformed = self.decide_stage.decide(frame)  # busy=False: see the module docstring
        t2 = time.perf_counter()
        self.last_ms = {
            "detect": face.detect_ms,
            "classify": (t1 - t0) * 1000.0,
            "decide": (t2 - t1) * 1000.0,
            "total": face.detect_ms + (t2 - t0) * 1000.0,
        }
        return result_line(stamp_ns, face, frame, decision)

    def process(self, frame_bgr, stamp_ns: int) -> Dict[str, Any]:
        """One frame through the whole pipeline: the result line (stamp_ns, face, roi, label, ..., cue)."""
        return self.decide(self.detect(frame_bgr), stamp_ns)


def result_line(stamp_ns: int, face: FaceResult, frame: Classified, decision) -> Dict[str, Any]:
    """The eval-bag result line of one frame (the schema eval_results.read_jsonl checks)."""
    box = face.box
    return {
        "stamp_ns": int(stamp_ns),
        "face": box is not None,
        "roi": [box.x, box.y, box.w, box.h] if box is not None else [0, 0, 0, 0],
        "label": frame.label,
        "confidence": round(float(frame.confidence), 6),
        "probabilities": [round(float(p), 6) for p in frame.probabilities],
        "category": decision.category,
        "cue": bool(decision.cue),
        "reason": decision.reason,
        "bad_share": round(float(decision.bad_share), 6),
        "bad_probability": round(float(decision.bad_probability), 6),
        "bad_frame": bool(decision.bad_frame),
    }
