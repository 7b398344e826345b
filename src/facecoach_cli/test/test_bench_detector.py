"""The fast detector finds the faces the paper's naive one finds, on the sample interview."""

from __future__ import annotations

from pathlib import Path

from face_detector.detector import DetectorConfig, FaceDetector
from facecoach_cli.bench.detector import recall_vs_naive
from facecoach_cli.bench.frames import load_frames
from facecoach_common.image_conversions import frame_to_bgr

REPO = Path(__file__).resolve().parents[3]
SAMPLE_BAG = REPO / "sample" / "interview"
STRIDE = 3  # naive Haar costs ~50-90 ms a frame: compare on every third frame


def detect_all(frames, config, stride=1):
    """The detector's box (or None) for every ``stride``-th frame (the detector still sees every frame)."""
    detector = FaceDetector(config)
    boxes = [detector.detect(frame_to_bgr(f.msg)) for f in frames]
    return boxes[::stride]


def test_fast_detector_recall_vs_naive_on_sample_bag():
    _, frames = load_frames(SAMPLE_BAG)
    fast = detect_all(frames, DetectorConfig(mode="fast"), stride=STRIDE)  # tracks on every frame
    naive = detect_all(frames[::STRIDE], DetectorConfig(mode="naive"))
    assert len(fast) == len(naive) == len(frames[::STRIDE])
    r = recall_vs_naive(fast, naive)
    assert r["naive_face_frames"] >= 0.5 * len(naive), "the sample interview should mostly show a face"
    assert r["recall"] >= 0.98, r
