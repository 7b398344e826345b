"""In-process measurements, one thread: the pipeline's stage times, classify time per face, native int8 speed-up."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Sequence

import numpy as np

from .frames import Frame


@dataclass
class PipelineRun:
    """One in-process pass over the frames: per-stage times, the boxes found and the crops."""

    wall_s: float = 0.0
    stages: Dict[str, List[float]] = field(default_factory=dict)
    boxes: List[Any] = field(default_factory=list)
    crops: List[np.ndarray] = field(default_factory=list)

    @property
    def fps(self) -> float:
        """Frames per second of the whole pass."""
        return len(self.boxes) / self.wall_s if self.wall_s > 0 else 0.0


def single_thread() -> None:
    """One thread for OpenCV and PyTorch: the device's one-core budget."""
    import cv2
    import torch

    cv2.setNumThreads(1)
    torch.set_num_threads(1)


def run_pipelines(frames: Sequence[Frame], detector_configs: Sequence[Any], classifier) -> List[PipelineRun]:
    """Decode, detect + crop, classify and serialize a Face and an Emotion message per frame, as the nodes do.

    Through the nodes' own stages (face_detector.stage.DetectStage and the EmotionClassifier), one pipeline
    per detector config, taking turns frame by frame: on this shared machine a busy moment then meets every
    pipeline, so their ratio (the fast detector's speed-up over the naive one) is not skewed by it. A run's
    ``wall_s`` is the sum of its own frames' times.
    """
    from face_detector.detector import FaceDetector
    from face_detector.stage import DetectStage

    stages = [DetectStage(FaceDetector(c)) for c in detector_configs]
    runs = [PipelineRun(stages={k: [] for k in ("decode", "detect", "classify", "publish")}) for _ in stages]
    for f in frames:
        for stage, run in zip(stages, runs):
            _one_frame(f, stage, classifier, run)
    return runs


def _one_frame(f: Frame, stage, classifier, run: PipelineRun) -> None:
    from rclpy.serialization import serialize_message
    from sensor_msgs.msg import RegionOfInterest

    from facecoach_common.image_conversions import numpy_to_image
    from facecoach_msgs.msg import Emotion, Face

    clock = time.perf_counter
    t0 = clock()
    img = stage.decode(f.msg)
    t1 = clock()
    result = stage.detect(img)
    t2 = clock()
    box, crop = result.box, result.crop
    scores = classifier.predict(crop) if crop is not None else None
    t3 = clock()
    face = Face(header=f.msg.header, frame_width=result.width, frame_height=result.height)
    emotion = Emotion(header=f.msg.header, has_face=box is not None, model_variant=classifier.variant)
    if box is not None:
        face.has_face = True
        face.roi = emotion.roi = RegionOfInterest(x_offset=box.x, y_offset=box.y, width=box.w, height=box.h)
        face.crop = numpy_to_image(crop, "bgr8", f.msg.header)
        emotion.class_names = list(classifier.class_names)
        emotion.label, emotion.confidence = scores.label, scores.confidence
        emotion.probabilities = list(scores.probabilities)
    serialize_message(face)
    serialize_message(emotion)
    t4 = clock()
    run.stages["decode"].append((t1 - t0) * 1e3)
    run.stages["detect"].append((t2 - t1) * 1e3)
    run.stages["publish"].append((t4 - t3) * 1e3)
    if crop is not None:
        run.stages["classify"].append((t3 - t2) * 1e3)
        run.crops.append(crop)
    run.boxes.append(box)
    run.wall_s += t4 - t0


def classify_ms(classifier, crops: Sequence[np.ndarray], limit: int = 300) -> List[float]:
    """Milliseconds of predict() per face crop."""
    out = []
    for crop in crops[:limit]:
        t0 = time.perf_counter()
        classifier.predict(crop)
        out.append((time.perf_counter() - t0) * 1e3)
    return out


def int8_native(models_dir: Path, fp32_variant: str, crops: Sequence[np.ndarray]) -> Dict[str, Any]:
    """fp32 vs integer-kernel int8 latency, batch 1, one thread; calibrates on the crops if models/ has none."""
    import torch

    from emotion_classifier.inference import available_variants, variant_path
    from emotion_classifier.native_int8 import KERNELS, load_native_int8
    from emotion_classifier.preprocess import preprocess
    from emotion_classifier.tooling.calibrate import calibrate_int8
    from emotion_classifier.tooling.evaluate import latencies_in_turns
    from emotion_classifier.weights import load_model, read_metadata

    fp32, meta = load_model(variant_path(models_dir, fp32_variant))
    native = [
        v
        for v in available_variants(models_dir)
        if read_metadata(variant_path(models_dir, v)).get("kernels") == KERNELS
    ]
    if native:
        qmodel, source = load_native_int8(variant_path(models_dir, native[0])), f"models/{native[0]}.safetensors"
    elif crops:
        calib = torch.from_numpy(np.concatenate([preprocess(c) for c in crops[:500]]))
        qmodel = calibrate_int8(fp32, calib)
        source = (
            f"calibrated in the bench from {fp32_variant} on {min(len(crops), 500)} sample crops (no int8_native file)"
        )
    else:
        return {"speedup": None, "source": "no native int8 file and no face crops to calibrate one"}
    fp32_ms, int8_ms = latencies_in_turns([fp32, qmodel], runs=300)
    return {
        "speedup": round(fp32_ms / int8_ms, 3),
        "fp32_ms": round(fp32_ms, 4),
        "int8_ms": round(int8_ms, 4),
        "engine": torch.backends.quantized.engine,
        "source": source,
        "fp32_variant": meta.get("variant"),
    }
