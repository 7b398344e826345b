"""Static int8 for ONNX Runtime: QDQ, per-channel 7-bit weights, activations calibrated on training faces.

The first block (conv, ReLU, max-pool) stays float: its convolution has 3 input channels, where ONNX Runtime's
integer kernels are no faster than its blocked float ones (quantizing it made the int8 model slower in
`make bench`).

PyTorch's eager int8 needs fbgemm (x86) or QNNPACK, which NVIDIA's Jetson wheels lack; ONNX Runtime's
integer kernels (MLAS) run on x86 and ARM CPUs alike, so this is the int8 that runs on the device's CPU.
"""

import json
import tempfile
from pathlib import Path
from typing import Dict, List

from ..preprocess import normalize_gray
from .data import FaceSet


def quantize_int8_qdq(src_onnx, out, calib: FaceSet, meta_updates: Dict[str, object]) -> Path:
    """Quantize a float ``.onnx`` (from ``facecoach export``) to static int8 QDQ, calibrated on ``calib``."""
    import onnx
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Faces(CalibrationDataReader):
        def __init__(self) -> None:
            x = normalize_gray(calib.images)
            self._batches = iter([{"input": x[i : i + 1]} for i in range(len(x))])

        def get_next(self):
            return next(self._batches, None)

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="facecoach-qdq-") as tmp:
        prepared = str(Path(tmp) / "prepared.onnx")
        quant_pre_process(str(src_onnx), prepared)  # shape inference + graph optimization, as ORT recommends
        quantize_static(
            prepared,
            str(out),
            Faces(),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            # 7-bit weights: x86's U8S8 kernels (VPMADDUBSW, AVX2 without VNNI) saturate int16 sums otherwise.
            # Measured on 1,000 FER test faces: 57.4 % without, 68.3 % (= fp32) with; ARM loses nothing by it.
            reduce_range=True,
            nodes_to_exclude=first_block(onnx.load(prepared)),
        )
    # quantize_static keeps no custom metadata: copy the source's (classes, preprocessing ...) and add ours.
    source = {p.key: p.value for p in onnx.load(str(src_onnx)).metadata_props}
    source.update({k: json.dumps(v) for k, v in meta_updates.items()})
    model = onnx.load(str(out))
    del model.metadata_props[:]
    for key, value in source.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    keep_used_opsets(model)
    onnx.save(model, str(out))
    return out


def keep_used_opsets(model) -> None:
    """Drop the opset imports of domains no node uses (in place).

    The quantizer (ORT's pre-processing) stamps every domain this onnxruntime knows, e.g. ai.onnx.ml opset 5;
    onnxruntime 1.10, the Jetson Nano's (JetPack 4.6, Python 3.6), refuses to load a model that imports an
    opset newer than it knows, even one no node uses. The QDQ model only needs the default domain.
    """
    used = {node.domain for node in model.graph.node}
    kept = [o for o in model.opset_import if o.domain in used or o.domain in ("", "ai.onnx")]
    del model.opset_import[:]
    model.opset_import.extend(kept)


def first_block(model) -> List[str]:
    """Names of the graph's nodes up to its first MaxPool (the first conv block), in graph order."""
    names = []
    for node in model.graph.node:
        names.append(node.name)
        if node.op_type == "MaxPool":
            return names
    return []
