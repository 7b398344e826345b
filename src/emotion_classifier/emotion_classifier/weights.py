"""Float and quantized variants in the one weight-file format, loaded without running code.

Float variants store each parameter as float32. Quantized variants store, for every Conv2d and
Linear weight, the integer codes (int16, int8, or int4 packed two to a byte) and their scales
(symmetric: zero point 0; one scale per tensor or per output channel). Biases stay float32.
The metadata (``weight_file``) carries the class order, the variant, bit width, layer widths,
preprocessing, the training data's sha256 and the command that made the file. Anything
inconsistent is refused. ``load_model`` reads every variant, native int8 included.
Runtime code: Python 3.6 syntax, PyTorch >= 1.10 calls.
"""

import math
from pathlib import Path
from typing import Dict, Tuple

import numpy as np
import torch

from .model import EmotionRecognitionModel, layer_widths, state_shapes
from .native_int8 import load_native_int8
from .preprocess import PREPROCESSING
from .weight_file import (
    BITS,
    FORMAT,
    QMAX,
    WeightFileError,
    read_metadata,
    read_tensors,
)
from .weight_writer import write_weight_file

CODE_DTYPE = {16: torch.int16, 8: torch.int8, 4: torch.uint8}


# --------------------------------------------------------------------------------------------------
# symmetric quantization
def quantize_tensor(w: torch.Tensor, bits: int, per_channel: bool) -> Tuple[torch.Tensor, torch.Tensor]:
    """Symmetric quantization: codes in [-qmax, qmax] and scales (one, or one per output channel)."""
    qmax = QMAX[bits]
    flat = w.detach().reshape(w.shape[0], -1) if per_channel else w.detach().reshape(1, -1)
    amax = flat.abs().amax(dim=1)
    scale = torch.where(amax > 0, amax / qmax, torch.ones_like(amax)).float()
    codes = torch.clamp(torch.round(flat / scale[:, None]), -qmax, qmax).to(torch.int32)
    return codes.reshape(w.shape), scale


def dequantize_tensor(codes: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """float32 weights from codes and scales."""
    flat = codes.reshape(scale.numel(), -1).float() * scale.float()[:, None]
    return flat.reshape(codes.shape)


def pack_int4(codes: torch.Tensor) -> torch.Tensor:
    """Codes in [-7, 7] -> uint8 bytes holding two 4-bit values (low nibble first)."""
    flat = (codes.reshape(-1).to(torch.int32) + 8).to(torch.uint8)
    if flat.numel() % 2:
        flat = torch.cat([flat, torch.full((1,), 8, dtype=torch.uint8)])
    return (flat[0::2] | (flat[1::2] << 4)).contiguous()


def unpack_int4(packed: torch.Tensor, numel: int) -> torch.Tensor:
    """Inverse of :func:`pack_int4`: int32 codes in [-8, 7]."""
    lo = (packed & 0x0F).to(torch.int32) - 8
    hi = (packed >> 4).to(torch.int32) - 8
    return torch.stack([lo, hi], dim=1).reshape(-1)[:numel]


def _quantizable(model: torch.nn.Module):
    for name, module in model.named_modules():
        if isinstance(module, (torch.nn.Conv2d, torch.nn.Linear)):
            yield name + ".weight"


# --------------------------------------------------------------------------------------------------
# save / load
def save_model(
    path, model: EmotionRecognitionModel, meta: Dict[str, object], bits: int = 32, per_channel: bool = False
) -> Path:
    """Write ``model`` as a weight file; bits 32 (float) or 16/8/4 (quantized codes + scales)."""
    if bits not in BITS:
        raise ValueError(f"bits must be 32, 16, 8 or 4, not {bits}")
    state = {k: v.detach().float().contiguous() for k, v in model.state_dict().items()}
    tensors: Dict[str, torch.Tensor] = {}
    quantized = set(_quantizable(model)) if bits != 32 else set()
    for key, value in state.items():
        if key not in quantized:
            tensors[key] = value
            continue
        codes, scale = quantize_tensor(value, bits, per_channel)
        tensors[key + ".codes"] = pack_int4(codes) if bits == 4 else codes.to(CODE_DTYPE[bits]).contiguous()
        tensors[key + ".scale"] = scale.contiguous()
    full = {
        "format": FORMAT,
        "bits": bits,
        "granularity": "channel" if per_channel else "tensor",
        "widths": layer_widths(model),
        "preprocessing": PREPROCESSING,
        **meta,
    }
    return write_weight_file(tensors, full, path)


def stored_shapes(num_classes: int, widths: Dict[str, list], bits: int, granularity: str) -> Dict[str, Tuple[int, ...]]:
    """{tensor name: shape} that a float (bits 32) or quantized weight file of this architecture holds."""
    shapes = {}
    for key, shape in state_shapes(num_classes, widths["conv"], widths["fc"]).items():
        if bits == 32 or not key.endswith(".weight"):  # every Conv2d/Linear weight is quantized, biases are not
            shapes[key] = shape
            continue
        numel = int(np.prod(shape))  # not math.prod: Python 3.8+
        shapes[key + ".codes"] = ((numel + 1) // 2,) if bits == 4 else shape
        shapes[key + ".scale"] = (shape[0],) if granularity == "channel" else (1,)
    return shapes


def load_model(path, device: str = "cpu") -> Tuple[EmotionRecognitionModel, Dict[str, object]]:
    """Rebuild the model from a weight file's metadata and load its (dequantized) weights, in eval mode."""
    path = Path(path)
    meta = read_metadata(path)
    if meta.get("kernels") is not None:
        # A native int8 file (integer kernels, not dequantized weights): same format, its own loader.
        native = load_native_int8(path, device)
        return native, native.meta
    # read_metadata bounded the classes and widths; the file must hold exactly the tensors that
    # architecture has (checked from the header), before any tensor is read or the model is built.
    classes, widths, bits = list(meta["classes"]), meta["widths"], int(meta["bits"])
    stored = read_tensors(path, stored_shapes(len(classes), widths, bits, meta["granularity"]))
    model = EmotionRecognitionModel(len(classes), widths["conv"], widths["fc"])
    quantized = set(_quantizable(model)) if bits != 32 else set()
    expected = model.state_dict()
    state, used = {}, set()
    for key, ref in expected.items():
        if key in quantized:
            ck, sk = key + ".codes", key + ".scale"
            if ck not in stored or sk not in stored:
                raise WeightFileError(f"{path}: missing {ck} / {sk}")
            codes, scale = stored[ck], stored[sk]
            n_scales = ref.shape[0] if meta["granularity"] == "channel" else 1
            if scale.numel() != n_scales:
                raise WeightFileError(f"{path}: {sk} has {scale.numel()} scales, expected {n_scales}")
            if not (torch.isfinite(scale).all() and (scale > 0).all()):
                raise WeightFileError(f"{path}: {sk} holds non-finite or non-positive scales")
            if bits == 4:
                if codes.dtype != torch.uint8 or codes.numel() != math.ceil(ref.numel() / 2):
                    raise WeightFileError(f"{path}: {ck} is not {ref.numel()} packed int4 codes")
                codes = unpack_int4(codes, ref.numel()).reshape(ref.shape)
            elif codes.dtype != CODE_DTYPE[bits] or tuple(codes.shape) != tuple(ref.shape):
                raise WeightFileError(
                    f"{path}: {ck} is {codes.dtype} {tuple(codes.shape)}, "
                    f"expected {CODE_DTYPE[bits]} {tuple(ref.shape)}"
                )
            value = dequantize_tensor(codes, scale)
            used.update((ck, sk))
        else:
            if key not in stored:
                raise WeightFileError(f"{path}: missing tensor {key}")
            value = stored[key]
            if tuple(value.shape) != tuple(ref.shape):
                raise WeightFileError(f"{path}: {key} has shape {tuple(value.shape)}, expected {tuple(ref.shape)}")
            used.add(key)
        if not torch.isfinite(value).all():
            raise WeightFileError(f"{path}: {key} holds non-finite values")
        state[key] = value.float()
    extra = sorted(set(stored) - used)
    if extra:
        raise WeightFileError(f"{path}: unexpected tensors {extra[:5]}")
    model.load_state_dict(state)
    model.to(device).eval()
    return model, meta
