"""A variant that really computes in int8: PyTorch quantized kernels (fbgemm/x86 here, qnnpack on ARM).

The int8 variants of ``weights.py`` only *store* int8; they are dequantized for float compute. This
variant is calibrated static quantization (eager mode): conv+ReLU and linear+ReLU fused, weights int8
symmetric per output channel, activations uint8 with scales/zero points measured on real faces.
It is stored in the same safetensors format (no pickles): the integer weight codes, their scales, the
float biases and every activation's scale/zero point; ``load_native_int8`` rebuilds the quantized
modules from them. This is the runtime half (Python 3.6 syntax, PyTorch >= 1.10 calls); calibrating
and saving such a file is tooling (``tooling/calibrate.py``).
"""

import platform
import warnings
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np
import torch
from torch import nn

from .model import INPUT_SIZE, state_shapes
from .weight_file import WeightFileError, read_metadata, read_tensors

try:  # PyTorch >= 1.13 moved the quantized modules to torch.ao.nn
    import torch.ao.nn.intrinsic.quantized as nniq
    import torch.ao.nn.quantized as nnq
except ImportError:  # pragma: no cover - older PyTorch (the Jetson's 1.10)
    import torch.nn.intrinsic.quantized as nniq
    import torch.nn.quantized as nnq

KERNELS = "int8_static"  # metadata "kernels" value that marks a native int8 file
# The quantized layers in forward order; "relu" ones have the ReLU fused in.
CONV_NAMES = ("features.0", "features.3", "features.6", "features.9")
FC_NAMES = ("classifier.1", "classifier.4", "classifier.7")


class NoInt8Engine(RuntimeError):
    """No quantized CPU kernels for this machine in this PyTorch build (e.g. NVIDIA's Jetson wheels)."""


def select_engine() -> str:
    """Use the platform's int8 engine (qnnpack on ARM, fbgemm/x86 on x86); it must be set before packing.

    Raises NoInt8Engine when there is none: NVIDIA's torch wheels for the Jetson are built without QNNPACK.
    """
    engines = list(torch.backends.quantized.supported_engines)
    arm = platform.machine().lower() in ("aarch64", "arm64") or platform.machine().lower().startswith("arm")
    prefer = ("qnnpack",) if arm else ("x86", "fbgemm", "qnnpack")
    for name in prefer:
        if name in engines:
            if torch.backends.quantized.engine != name:
                torch.backends.quantized.engine = name
            return name
    raise NoInt8Engine(
        f"int8_native needs PyTorch's quantized CPU kernels ({' or '.join(prefer)} on {platform.machine()}), "
        f"but this PyTorch {torch.__version__} has none (supported engines: {engines}); NVIDIA's Jetson "
        "wheels are built without QNNPACK. Use the int8 variant (int8 codes, float compute) instead, or a "
        "PyTorch built with QNNPACK"
    )


class NativeInt8Model(nn.Module):
    """The paper's network as quantized modules: float N x 3 x 48 x 48 in, float logits out."""

    def __init__(self, num_classes: int, conv_widths, fc_widths, in_channels: int = 3) -> None:
        super().__init__()
        c1, c2, c3, c4 = (int(c) for c in conv_widths)
        f1, f2 = (int(f) for f in fc_widths)
        self.quant = nnq.Quantize(1.0, 0, torch.quint8)
        # Same indices as EmotionRecognitionModel so layer names match; fused ReLUs become Identity.
        self.features = nn.Sequential(
            nniq.ConvReLU2d(in_channels, c1, 3, padding=1),
            nn.Identity(),
            nn.MaxPool2d(2),
            nniq.ConvReLU2d(c1, c2, 3, padding=1),
            nn.Identity(),
            nn.MaxPool2d(2),
            nniq.ConvReLU2d(c2, c3, 3, padding=1),
            nn.Identity(),
            nn.MaxPool2d(2),
            nniq.ConvReLU2d(c3, c4, 1),
            nn.Identity(),
        )
        spatial = INPUT_SIZE // 8
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nniq.LinearReLU(c4 * spatial * spatial, f1),
            nn.Identity(),
            nn.Identity(),
            nniq.LinearReLU(f1, f2),
            nn.Identity(),
            nn.Identity(),
            nnq.Linear(f2, num_classes),
        )
        self.dequant = nnq.DeQuantize()
        self.meta: Dict[str, object] = {}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return float class logits for a batch of N x 3 x 48 x 48 normalized faces."""
        return self.dequant(self.classifier(self.features(self.quant(x))))

    def quantized_layers(self) -> List[Tuple[str, nn.Module]]:
        """(name, module) of the quantized conv/linear layers in forward order."""
        modules = dict(self.named_modules())
        return [(n, modules[n]) for n in CONV_NAMES + FC_NAMES]


# --------------------------------------------------------------------------------------------------
# tensors -> quantized modules
def build_native_int8(tensors: Dict[str, torch.Tensor], num_classes: int, widths: Dict[str, list]) -> NativeInt8Model:
    """Rebuild the quantized model from its tensors; raises ValueError/KeyError on anything inconsistent."""
    select_engine()
    with warnings.catch_warnings():  # PyTorch 2.x warns that its eager quantized tensors will move to torchao
        warnings.simplefilter("ignore", UserWarning)
        model = NativeInt8Model(num_classes, widths["conv"], widths["fc"])
    model.quant = nnq.Quantize(float(tensors["quant.scale"][0]), int(tensors["quant.zero_point"][0]), torch.quint8)
    for name, m in model.quantized_layers():
        codes = tensors[name + ".weight_codes"]
        scale = tensors[name + ".weight_scale"].double()
        zp = tensors[name + ".weight_zero_point"].long()
        bias = tensors[name + ".bias"].float()
        ref = m.weight()
        if codes.dtype != torch.int8 or tuple(codes.shape) != tuple(ref.shape):
            raise ValueError(
                f"{name}.weight_codes is {codes.dtype} {tuple(codes.shape)}, expected int8 {tuple(ref.shape)}"
            )
        if scale.numel() != codes.shape[0] or zp.numel() != codes.shape[0] or bias.numel() != codes.shape[0]:
            raise ValueError(f"{name}: scale/zero point/bias sizes do not match {codes.shape[0]} output channels")
        if not (torch.isfinite(scale).all() and (scale > 0).all() and torch.isfinite(bias).all()):
            raise ValueError(f"{name}: non-finite or non-positive scales, or non-finite bias")
        # Rebuild the exact codes through the public API: (code * scale) / scale rounds back to code.
        shape = [-1] + [1] * (codes.dim() - 1)
        w_float = codes.double() * scale.reshape(shape)
        with warnings.catch_warnings():  # PyTorch 2.x warns that its eager quantized tensors will move to torchao
            warnings.simplefilter("ignore", UserWarning)
            qweight = torch.quantize_per_channel(w_float.float(), scale, zp, 0, torch.qint8)
        m.set_weight_bias(qweight, bias)
        out_scale = float(tensors[name + ".out_scale"][0])
        if not np.isfinite(out_scale) or out_scale <= 0:
            raise ValueError(f"{name}: bad activation scale {out_scale}")
        m.scale = out_scale
        m.zero_point = int(tensors[name + ".out_zero_point"][0])
    return model.eval()


def load_native_int8(path, device: str = "cpu") -> NativeInt8Model:
    """Load a native int8 weight file (``kernels: int8_static``); CPU only. ``.meta`` holds its metadata."""
    path = Path(path)
    if device != "cpu":
        raise WeightFileError(f"{path}: native int8 kernels run on the CPU only, not {device!r}")
    meta = read_metadata(path)
    if meta.get("kernels") != KERNELS:
        raise WeightFileError(f"{path}: not a native int8 file (metadata kernels={meta.get('kernels')!r})")
    try:
        select_engine()
    except NoInt8Engine as exc:
        raise WeightFileError(f"{path}: {exc}") from None
    # The widths were bounded by read_metadata; the tensors are checked against them before any is read.
    tensors = read_tensors(path, native_tensor_shapes(len(meta["classes"]), meta["widths"]))
    try:
        model = build_native_int8(tensors, len(meta["classes"]), meta["widths"])
    except (KeyError, ValueError, TypeError, RuntimeError) as exc:
        raise WeightFileError(f"{path}: inconsistent native int8 tensors ({exc})") from exc
    expected = set(native_tensor_names())
    extra = sorted(set(tensors) - expected)
    if extra:
        raise WeightFileError(f"{path}: unexpected tensors {extra[:5]}")
    model.meta = meta
    return model


def native_tensor_shapes(num_classes: int, widths: Dict[str, list]) -> Dict[str, Tuple[int, ...]]:
    """{tensor name: shape} of a native int8 file of this architecture (see :func:`native_tensor_names`)."""
    float_shapes = state_shapes(num_classes, widths["conv"], widths["fc"])
    shapes = {"quant.scale": (1,), "quant.zero_point": (1,)}
    for n in CONV_NAMES + FC_NAMES:
        weight = float_shapes[n + ".weight"]
        shapes[n + ".weight_codes"] = weight
        for s in (".weight_scale", ".weight_zero_point", ".bias"):
            shapes[n + s] = (weight[0],)
        shapes[n + ".out_scale"] = shapes[n + ".out_zero_point"] = (1,)
    return shapes


def native_tensor_names() -> List[str]:
    """Every tensor name a native int8 file holds."""
    names = ["quant.scale", "quant.zero_point"]
    for n in CONV_NAMES + FC_NAMES:
        names += [
            n + s
            for s in (".weight_codes", ".weight_scale", ".weight_zero_point", ".bias", ".out_scale", ".out_zero_point")
        ]
    return names
