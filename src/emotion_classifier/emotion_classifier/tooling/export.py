"""ONNX export of float-compute variants (baseline, pruned, dequantized int16/8/4), checked with ONNX Runtime."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Dict

import numpy as np
import torch
from torch import nn

INPUT_NAME, OUTPUT_NAME = "input", "logits"


def export_onnx(model: nn.Module, path, meta: Dict[str, object], opset: int = 17) -> Path:
    """Write ``model`` as ONNX (dynamic batch, N x 3 x 48 x 48 -> N x classes) with the metadata attached."""
    import onnx

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model = model.cpu().eval()
    # The TorchScript exporter (dynamo=False) needs no onnxscript and gives a plain graph for TensorRT;
    # PyTorch 2.9+ calls it legacy, which is all its DeprecationWarning says.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            model,
            (torch.zeros(1, 3, 48, 48),),
            str(path),
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}},
            opset_version=opset,
            dynamo=False,
        )
    proto = onnx.load(str(path))
    for key in ("variant", "classes", "bits", "granularity", "widths", "preprocessing", "data_sha256"):
        if key in meta:
            entry = proto.metadata_props.add()
            entry.key, entry.value = key, json.dumps(meta[key])
    onnx.checker.check_model(proto)
    onnx.save(proto, str(path))
    return path


def onnx_max_abs_diff(model: nn.Module, path, n: int = 16, seed: int = 0) -> float:
    """Largest |PyTorch - ONNX Runtime| logit difference on ``n`` random normalized inputs."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    x = np.random.default_rng(seed).uniform(-1.0, 1.0, (n, 3, 48, 48)).astype(np.float32)
    (got,) = session.run([OUTPUT_NAME], {INPUT_NAME: x})
    with torch.inference_mode():
        want = model.cpu().eval()(torch.from_numpy(x)).numpy()
    return float(np.abs(got - want).max())
