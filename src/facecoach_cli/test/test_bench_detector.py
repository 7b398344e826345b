"""The fast detector finds the faces the paper's naive one finds, on the sample interview."""

from __future__ import annotations

from pathlib import Path

from face_detector.detector import DetectorConfig
from facecoach_cli.bench.detector import detect_all, recall_vs_naive
from facecoach_cli.bench.frames import load_frames

REPO = Path(__file__).resolve().parents[3]
SAMPLE_BAG = REPO / "sample" / "interview"
STRIDE = 3  # naive Haar costs ~50-90 ms a frame: compare on every third frame


def test_fast_detector_recall_vs_naive_on_sample_bag():
    _, frames = load_frames(SAMPLE_BAG)
    fast = detect_all(frames, DetectorConfig(mode="fast"), stride=STRIDE)  # tracks on every frame
    naive = detect_all(frames[::STRIDE], DetectorConfig(mode="naive"))
    assert len(fast) == len(naive) == len(frames[::STRIDE])
    r = recall_vs_naive(fast, naive)
    assert r["naive_face_frames"] >= 0.5 * len(naive), "the sample interview should mostly show a face"
    assert r["recall"] >= 0.98, r
