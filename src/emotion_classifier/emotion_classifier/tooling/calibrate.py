"""Native int8, tooling half: calibrate a float model to static int8 and save it as a weight file.

Eager-mode static quantization: QuantStub/DeQuantStub, conv+ReLU and linear+ReLU fused, weights int8
symmetric per output channel, activations uint8 7-bit from histogram observers. The runtime half
(``native_int8.load_native_int8``) rebuilds the quantized modules from the saved tensors.
"""

import copy
import warnings
from pathlib import Path
from typing import Dict

import torch
from torch import nn

from ..model import EmotionRecognitionModel, layer_widths
from ..native_int8 import CONV_NAMES, FC_NAMES, KERNELS, NativeInt8Model, build_native_int8, select_engine
from ..preprocess import PREPROCESSING
from ..weight_file import FORMAT
from ..weight_writer import write_weight_file


def export_tensors(qmodel: nn.Module) -> Dict[str, torch.Tensor]:
    """The tensors that describe a converted (eager-mode) quantized model, for safetensors."""
    modules = dict(qmodel.named_modules())
    quant = modules["quant"]
    tensors = {
        "quant.scale": quant.scale.detach().double().reshape(1),
        "quant.zero_point": quant.zero_point.detach().long().reshape(1),
    }
    for name in CONV_NAMES + FC_NAMES:
        m = modules[name]
        w = m.weight()
        if w.qscheme() != torch.per_channel_symmetric and w.qscheme() != torch.per_channel_affine:
            raise ValueError(f"{name}: expected per-channel weights, got {w.qscheme()}")
        tensors[name + ".weight_codes"] = w.int_repr().contiguous()
        tensors[name + ".weight_scale"] = w.q_per_channel_scales().double().contiguous()
        tensors[name + ".weight_zero_point"] = w.q_per_channel_zero_points().long().contiguous()
        tensors[name + ".bias"] = m.bias().detach().float().contiguous()
        tensors[name + ".out_scale"] = torch.tensor([float(m.scale)], dtype=torch.float64)
        tensors[name + ".out_zero_point"] = torch.tensor([int(m.zero_point)], dtype=torch.int64)
    return tensors


def calibrate_int8(model: EmotionRecognitionModel, calib: torch.Tensor, batch: int = 100) -> NativeInt8Model:
    """Static int8 quantization of a float model, calibrated on ``calib`` (N x 3 x 48 x 48 model inputs)."""
    from torch.ao import quantization as tq

    select_engine()
    float_model = copy.deepcopy(model).cpu().eval()
    wrapped = nn.Sequential()
    wrapped.add_module("quant", tq.QuantStub())
    wrapped.add_module("features", float_model.features)
    wrapped.add_module("classifier", float_model.classifier)
    wrapped.add_module("dequant", tq.DeQuantStub())
    pairs = [[n, n[:-1] + str(int(n[-1]) + 1)] for n in CONV_NAMES + FC_NAMES[:-1]]
    wrapped = tq.fuse_modules(wrapped, pairs)
    # 7-bit activations (0..127, what reduce_range does) so that fbgemm's 16-bit accumulation cannot
    # saturate; the same file then also runs on qnnpack. Weights: int8, symmetric (zero point 0), per channel.
    wrapped.qconfig = tq.QConfig(
        activation=tq.HistogramObserver.with_args(dtype=torch.quint8, quant_min=0, quant_max=127),
        weight=tq.PerChannelMinMaxObserver.with_args(dtype=torch.qint8, qscheme=torch.per_channel_symmetric),
    )
    with warnings.catch_warnings():  # PyTorch 2.10+ announces eager quantization's move to torchao; it still works
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        tq.prepare(wrapped, inplace=True)
        with torch.inference_mode():
            for i in range(0, len(calib), batch):
                wrapped(calib[i : i + batch])
        tq.convert(wrapped, inplace=True)
    num_classes = [m for m in float_model.modules() if isinstance(m, nn.Linear)][-1].out_features
    # Rebuild through the same path the loader uses, so what is measured is what is shipped.
    return build_native_int8(export_tensors(wrapped), num_classes, layer_widths(float_model))


def save_native_int8(path, qmodel: NativeInt8Model, meta: Dict[str, object]) -> Path:
    """Write a native int8 model (from :func:`calibrate_int8`) as a safetensors weight file."""
    widths = {
        "conv": [int(m.weight().shape[0]) for _, m in qmodel.quantized_layers()[:4]],
        "fc": [int(m.weight().shape[0]) for _, m in qmodel.quantized_layers()[4:6]],
    }
    full = {
        "format": FORMAT,
        "bits": 8,
        "granularity": "channel",
        "kernels": KERNELS,
        "engine": torch.backends.quantized.engine,
        "widths": widths,
        "preprocessing": PREPROCESSING,
        **meta,
    }
    return write_weight_file(export_tensors(qmodel), full, path)
