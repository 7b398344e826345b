"""Per-face classify time of every variant on every backend (one thread, the node's flip_tta), in one run."""

import logging
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Sequence

import numpy as np

log = logging.getLogger(__name__)
ONNX_INT8 = "int8_qdq"  # the committed static int8 ONNX model (facecoach quantize-onnx)


def _ms_per_face(classifier, crops: Sequence[np.ndarray], limit: int = 300, warmup: int = 20) -> float:
    for crop in crops[:warmup]:
        classifier.predict(crop)
    times: List[float] = []
    for crop in crops[:limit]:
        t0 = time.perf_counter()
        classifier.predict(crop)
        times.append((time.perf_counter() - t0) * 1e3)
    return round(float(np.median(times)), 4)


def backend_latencies(models_dir: Path, crops: Sequence[np.ndarray], flip_tta: bool) -> Dict[str, Any]:
    """Ms a face: torch for every .safetensors, onnxruntime (CPU) for each float variant exported here and int8_qdq."""
    from emotion_classifier.inference import EmotionClassifier, available_variants, variant_path
    from emotion_classifier.tooling.export import export_onnx
    from emotion_classifier.weights import load_model

    out: Dict[str, Any] = {"torch": {}, "onnxruntime": {}, "flip_tta": flip_tta, "threads": 1}
    with tempfile.TemporaryDirectory(prefix="facecoach-bench-onnx-") as tmp:
        for v in available_variants(models_dir):
            path = variant_path(models_dir, v)
            out["torch"][v] = _ms_per_face(EmotionClassifier(path, flip_tta=flip_tta), crops)
            model, meta = load_model(path)
            if meta.get("kernels"):
                continue  # int8_native: PyTorch's own integer modules, no ONNX form
            onnx = export_onnx(model, Path(tmp) / f"{v}.onnx", meta, opset=13)
            out["onnxruntime"][v] = _ms_per_face(
                EmotionClassifier(onnx, flip_tta=flip_tta, backend="onnxruntime"), crops
            )
        int8 = variant_path(models_dir, ONNX_INT8, "onnxruntime")
        if int8.is_file():
            qdq = EmotionClassifier(int8, flip_tta=flip_tta, backend="onnxruntime")
            out["onnxruntime"][ONNX_INT8] = _ms_per_face(qdq, crops)
    torch_fp32, ort = out["torch"].get("baseline"), out["onnxruntime"]
    out["onnx_fp32_vs_torch"] = round(ort["baseline"] / torch_fp32, 3) if torch_fp32 and "baseline" in ort else None
    out["onnx_int8_speedup"] = (
        round(ort["baseline"] / ort[ONNX_INT8], 3) if "baseline" in ort and ONNX_INT8 in ort else None
    )
    return out
