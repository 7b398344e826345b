"""How much temporal smoothing steadies the labels: clips built from FER2013 test faces, frame by frame.

Each clip is one test face held for ``clip_frames`` frames at 30 fps, every frame perturbed as a webcam
would (a shift of up to 2 px, brightness and contrast +-10 %, sensor noise sigma 6 grey levels); the
true label is the face's. Reported per smoothing setting: label flips a minute and per-frame accuracy.
"""

from typing import Dict, List, Sequence

import cv2
import numpy as np

from ..smoothing import ProbabilitySmoother
from .data import FaceSet

FPS = 30.0


def perturbed_clip(face: np.ndarray, frames: int, rng: np.random.Generator) -> np.ndarray:
    """``frames`` webcam-like copies of one 48x48 gray face."""
    out = np.empty((frames,) + face.shape, np.uint8)
    for i in range(frames):
        dx, dy = rng.integers(-2, 3, 2)
        shifted = cv2.warpAffine(
            face, np.float32([[1, 0, dx], [0, 1, dy]]), face.shape[::-1], borderMode=cv2.BORDER_REPLICATE
        )
        gain, bias = rng.uniform(0.9, 1.1), rng.uniform(-12, 12)
        noisy = shifted.astype(np.float32) * gain + bias + rng.normal(0, 6, face.shape)
        out[i] = np.clip(noisy, 0, 255).astype(np.uint8)
    return out


def smoothing_effect(
    classifier, faces: FaceSet, settings: Sequence[int], clips: int = 300, clip_frames: int = 60, seed: int = 0
) -> List[Dict[str, float]]:
    """For each smoothing setting: flips a minute and per-frame accuracy over the same perturbed clips."""
    rng = np.random.default_rng(seed)
    picks = rng.choice(len(faces), min(clips, len(faces)), replace=False)
    probs = []
    for i in picks:
        x = perturbed_clip(faces.images[i], clip_frames, rng)
        probs.append(classifier.predict_batch(list(x)))  # the clip's frames, each alone
    rows = []
    box = (0, 0, 48, 48)
    for n in settings:
        flips = hits = total = 0
        for i, p in zip(picks, probs):
            smoother = ProbabilitySmoother(n)
            labels = [int(np.argmax(smoother.update(k / FPS, box, p[k]))) for k in range(len(p))]
            flips += sum(1 for a, b in zip(labels, labels[1:]) if a != b)
            hits += sum(1 for label in labels if label == faces.labels[i])
            total += len(labels)
        minutes = total / FPS / 60.0
        rows.append({"smoothing_frames": n, "flips_per_minute": flips / minutes, "accuracy": hits / total})
    return rows
