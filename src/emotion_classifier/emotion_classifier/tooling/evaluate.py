"""Evaluation of weight variants: accuracy, macro F1, per-class recall, confusion, size, MACs, latency."""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np
import torch
from torch import nn

from ..inference import available_variants, flip_averaged_proba, variant_path
from ..labels import CLASSES
from ..model import EmotionRecognitionModel, count_macs, count_params
from ..preprocess import normalize_gray
from ..weights import WeightFileError
from .coaching_metrics import coaching_metrics
from .data import DatasetError, FaceSet


def classification_metrics(labels: np.ndarray, predicted: np.ndarray, classes=CLASSES) -> Dict[str, object]:
    """Accuracy, macro F1 (over classes with support or predictions), per-class recall, confusion[true][pred]."""
    k = len(classes)
    confusion = np.zeros((k, k), dtype=np.int64)
    np.add.at(confusion, (labels.astype(np.int64), predicted.astype(np.int64)), 1)
    support, predicted_n, hits = confusion.sum(1), confusion.sum(0), np.diag(confusion)
    recall = {c: (float(hits[i] / support[i]) if support[i] else None) for i, c in enumerate(classes)}
    f1s = []
    for i in range(k):
        if support[i] == 0 and predicted_n[i] == 0:
            continue  # a class absent from both sides says nothing about the model
        denom = support[i] + predicted_n[i]
        f1s.append(2.0 * hits[i] / denom if denom else 0.0)
    n = int(confusion.sum())
    return {
        "accuracy": float(hits.sum() / n) if n else 0.0,
        "macro_f1": float(np.mean(f1s)) if f1s else 0.0,
        "per_class_recall": recall,
        "confusion": confusion.tolist(),
    }


def model_cost(meta: Dict[str, object]) -> Dict[str, int]:
    """Parameters and MACs of the network a weight file describes (same counts for every storage format)."""
    widths = meta["widths"]
    net = EmotionRecognitionModel(len(meta["classes"]), widths["conv"], widths["fc"])
    return {"params": count_params(net), "macs": count_macs(net)}


@torch.inference_mode()
def latency_ms_per_face(model: nn.Module, runs: int = 200, warmup: int = 20, flip_tta: bool = False) -> float:
    """Median ms for one face (normalize + forward + softmax, with its mirror if flip_tta), on one thread."""
    return latencies_in_turns([model], runs, warmup, flip_tta)[0]


def latencies_in_turns(
    models: Sequence[nn.Module], runs: int = 200, warmup: int = 20, flip_tta: bool = False
) -> List[float]:
    """``latency_ms_per_face`` of each model, measured in turns: face by face, every model.

    Taking turns puts the models through the same moments of a shared machine, so their ratio (int8 / fp32)
    is not skewed by a busy stretch that only one of them met.
    """
    face = np.random.default_rng(0).integers(0, 256, (1, 48, 48), dtype=np.uint8)
    x = torch.from_numpy(normalize_gray(face))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        times: List[List[float]] = [[] for _ in models]
        for i in range(warmup + runs):
            for model, own in zip(models, times):
                t0 = time.perf_counter()
                flip_averaged_proba(model, x, flip_tta)
                if i >= warmup:
                    own.append(time.perf_counter() - t0)
    finally:
        torch.set_num_threads(threads)
    return [statistics.median(t) * 1000.0 for t in times]


def predict_probs(classifier, images: np.ndarray, batch: int = 256, progress: bool = False) -> np.ndarray:
    """Class probabilities of an EmotionClassifier (any backend; its flip_tta) for N x 48 x 48 uint8 faces."""
    from tqdm import tqdm

    out = []
    starts = range(0, len(images), batch)
    for i in tqdm(starts, desc="batches", leave=False, disable=not progress, mininterval=0.5):
        out.append(classifier.predict_inputs(normalize_gray(images[i : i + batch])))
    return np.concatenate(out) if out else np.zeros((0, len(CLASSES)), np.float32)


def classifier_latency_ms(classifier, runs: int = 200, warmup: int = 20) -> float:
    """Median ms for one face through an EmotionClassifier (normalize + forward + softmax, its flip_tta)."""
    face = np.random.default_rng(0).integers(0, 256, (1, 48, 48), dtype=np.uint8)
    times = []
    for i in range(warmup + runs):
        t0 = time.perf_counter()
        classifier.predict_inputs(normalize_gray(face))
        if i >= warmup:
            times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000.0


def evaluate_file(
    path,
    faces: FaceSet,
    latency_runs: int = 200,
    progress: bool = False,
    flip_tta: bool = False,
    backend: str = "torch",
    coaching: Optional[Dict[str, object]] = None,
) -> Dict[str, object]:
    """Every number of the eval JSON for one weight file (``.safetensors``, or ``.onnx`` with onnxruntime).

    ``coaching``: keyword arguments of :func:`coaching_metrics` (mapping, bad_threshold, min_confidence) to
    add the coach's view of the predictions.
    """
    from ..inference import EmotionClassifier

    path = Path(path)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the device's one-core budget, for both backends
    try:
        classifier = EmotionClassifier(path, flip_tta=flip_tta, backend=backend, threads=1)
        meta = classifier.meta
        if tuple(meta["classes"]) != tuple(CLASSES):
            raise WeightFileError(f"{path}: class order {meta['classes']} differs from the data's {list(CLASSES)}")
        probs = predict_probs(classifier, faces.images, progress=progress)
        latency = classifier_latency_ms(classifier, runs=latency_runs)
    finally:
        torch.set_num_threads(threads)
    result = classification_metrics(faces.labels, probs.argmax(1))
    if coaching is not None:
        result["coaching"] = coaching_metrics(faces.labels, probs, **coaching)
    result.update(
        n_images=int(faces.n_images),
        n_faces=len(faces),
        file_bytes=path.stat().st_size,
        latency_ms_per_face=round(latency, 4),
        flip_tta=flip_tta,
        backend=backend,
        **model_cost(meta),
    )
    return result


def variant_files(models_dir, variant: str, backend: str = "torch") -> List[Path]:
    """The files of ``variant`` (a file stem) or of ``all`` variants the backend can load, sorted."""
    d = Path(models_dir)
    if variant == "all":
        files = [variant_path(d, v, backend) for v in available_variants(d, backend)]
        if not files:
            raise WeightFileError(f"{d}: no {variant_path(d, 'x', backend).suffix} files for backend {backend}")
        return files
    path = variant_path(d, variant, backend)
    if not path.is_file():
        raise WeightFileError(f"{path}: no such variant (have {available_variants(d, backend)})")
    return [path]


def evaluate_variants(
    files: List[Path],
    faces: FaceSet,
    latency_runs: int = 200,
    progress: bool = True,
    flip_tta: bool = False,
    backend: str = "torch",
    coaching: Optional[Dict[str, object]] = None,
) -> Dict[str, Dict[str, object]]:
    """Evaluate several weight files; keys are the variant names (file stems)."""
    from tqdm import tqdm

    results = {}
    bar = tqdm(files, desc="variants", disable=not progress)
    for path in bar:
        bar.set_postfix(variant=path.stem)
        results[path.stem] = evaluate_file(path, faces, latency_runs, progress, flip_tta, backend, coaching)
    return results


def format_table(results: Dict[str, Dict[str, object]]) -> str:
    """A readable table of eval results, one variant per row, then per-class recall."""
    head = f"{'variant':<14}{'acc %':>8}{'F1 %':>8}{'faces':>8}{'params':>11}{'MMAC':>8}{'MB':>8}{'ms/face':>9}"
    lines = [head, "-" * len(head)]
    for name, r in results.items():
        lines.append(
            f"{name:<14}{100 * r['accuracy']:>8.2f}{100 * r['macro_f1']:>8.2f}{r['n_faces']:>8}{r['params']:>11,}"
            f"{r['macs'] / 1e6:>8.2f}{r['file_bytes'] / 1e6:>8.2f}{r['latency_ms_per_face']:>9.3f}"
        )
    coached = {n: r["coaching"] for n, r in results.items() if "coaching" in r}
    if coached:
        lines.append("")
        lines.append(f"{'bad (coach)':<14}{'AP':>8}{'recall':>8}{'prec.':>8}{'F1':>8}   rule")
        for name, c in coached.items():
            for key, rule in (("bad_probability_rule", "P(bad) >= {threshold:g}"), ("bad_label_rule", "label")):
                r = c[key]
                ap = f"{c['bad_average_precision']:>8.3f}" if key == "bad_probability_rule" else " " * 8
                lines.append(
                    f"{name:<14}{ap}{r['recall']:>8.3f}{r['precision']:>8.3f}{r['f1']:>8.3f}   {rule.format(**r)}"
                )
    lines.append("")
    lines.append(f"{'recall %':<14}" + "".join(f"{c:>10}" for c in CLASSES))
    for name, r in results.items():
        recall = r["per_class_recall"]
        cells = "".join(f"{'-':>10}" if recall[c] is None else f"{100 * recall[c]:>10.1f}" for c in CLASSES)
        lines.append(f"{name:<14}{cells}")
    return "\n".join(lines)


def detector_face_finder() -> Callable[[np.ndarray], Optional[np.ndarray]]:
    """A face finder for full photos: the node's face detector with its default settings.

    face_detector is imported on the first photo, so evaluating crops or an npz does not need it.
    """
    detectors: List[object] = []

    def find(image: np.ndarray) -> Optional[np.ndarray]:
        if not detectors:
            try:
                from face_detector.detector import DetectorConfig, FaceDetector
            except ImportError as exc:
                raise DatasetError(f"full photos need the face_detector package ({exc})") from exc
            detectors.append(FaceDetector(DetectorConfig()))
        detector = detectors[0]
        detector.reset()  # photos are unrelated: no tracking from the previous photo's face
        box = detector.detect(image)
        return None if box is None else detector.crop(image, box)

    return find
