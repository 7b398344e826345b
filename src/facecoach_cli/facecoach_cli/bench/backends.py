"""Per-face classify time of every variant on every backend (one thread, the node's flip_tta), in one run."""

import logging
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Sequence, Tuple

import numpy as np

log = logging.getLogger(__name__)
ONNX_INT8 = "int8_qdq"  # the committed static int8 ONNX model (facecoach quantize-onnx)


def _ms_per_face(
    classifiers: Dict[Tuple[str, str], Any], crops: Sequence[np.ndarray], limit: int = 300, warmup: int = 20
) -> Dict[Tuple[str, str], float]:
    """Median ms of predict() a face for each classifier, measured in turns: face by face, every classifier.

    Taking turns puts each classifier through the same moments of this shared machine, so their ratios
    (int8 / fp32, onnxruntime / torch) are not skewed by a busy stretch that only one of them met.
    """
    for crop in crops[:warmup]:
        for c in classifiers.values():
            c.predict(crop)
    times: Dict[Tuple[str, str], List[float]] = {key: [] for key in classifiers}
    for crop in crops[:limit]:
        for key, c in classifiers.items():
            t0 = time.perf_counter()
            c.predict(crop)
            times[key].append((time.perf_counter() - t0) * 1e3)
    return {key: round(float(np.median(t)), 4) for key, t in times.items()}


def backend_latencies(models_dir: Path, crops: Sequence[np.ndarray], flip_tta: bool) -> Dict[str, Any]:
    """Ms a face: torch for every .safetensors, onnxruntime (CPU) for each float variant exported here and int8_qdq."""
    from emotion_classifier.inference import EmotionClassifier, available_variants, variant_path
    from emotion_classifier.tooling.export import export_onnx
    from emotion_classifier.weights import load_model

    out: Dict[str, Any] = {"torch": {}, "onnxruntime": {}, "flip_tta": flip_tta, "threads": 1}
    classifiers: Dict[Tuple[str, str], Any] = {}
    with tempfile.TemporaryDirectory(prefix="facecoach-bench-onnx-") as tmp:
        for v in available_variants(models_dir):
            path = variant_path(models_dir, v)
            classifiers["torch", v] = EmotionClassifier(path, flip_tta=flip_tta)
            model, meta = load_model(path)
            if meta.get("kernels"):
                continue  # int8_native: PyTorch's own integer modules, no ONNX form
            onnx = export_onnx(model, Path(tmp) / f"{v}.onnx", meta, opset=13)
            classifiers["onnxruntime", v] = EmotionClassifier(onnx, flip_tta=flip_tta, backend="onnxruntime")
        int8 = variant_path(models_dir, ONNX_INT8, "onnxruntime")
        if int8.is_file():
            classifiers["onnxruntime", ONNX_INT8] = EmotionClassifier(int8, flip_tta=flip_tta, backend="onnxruntime")
        for (backend, v), ms in _ms_per_face(classifiers, crops).items():
            out[backend][v] = ms
    torch_fp32, ort = out["torch"].get("baseline"), out["onnxruntime"]
    out["onnx_fp32_vs_torch"] = round(ort["baseline"] / torch_fp32, 3) if torch_fp32 and "baseline" in ort else None
    out["onnx_int8_speedup"] = (
        round(ort["baseline"] / ort[ONNX_INT8], 3) if "baseline" in ort and ONNX_INT8 in ort else None
    )
    return out
