"""The ONNX Runtime backend: a variant's ``.onnx`` file (from ``facecoach export``) on CPU, CUDA or TensorRT.

The same contract as the PyTorch path: N x 3 x 48 x 48 float32 in (``preprocess``), N x classes logits
out, the class order and preprocessing in the file's metadata. On the Jetson, NVIDIA's onnxruntime-gpu
wheels (1.10 / 1.11) bring the CUDA and TensorRT providers; TensorRT runs FP16 there (no fast INT8 on the
Nano's Maxwell GPU) and caches its engines, whose first build takes minutes. ``int8_qdq`` (static int8,
QDQ) runs on integer CPU kernels, on x86 and ARM alike.
"""

import json
from pathlib import Path
from typing import Any, Dict, List

import numpy as np

from .preprocess import PREPROCESSING
from .weight_file import WeightFileError, check_classes

ONNX_SUFFIX = ".onnx"
PROVIDERS = ("auto", "cpu", "cuda", "tensorrt")
_ORT_NAMES = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider", "tensorrt": "TensorrtExecutionProvider"}


def resolve_providers(providers: str, available: List[str]) -> str:
    """'auto' as the first of tensorrt, cuda, cpu that this onnxruntime has (``available``); others as they are."""
    if providers != "auto":
        return providers
    return next((p for p in ("tensorrt", "cuda") if _ORT_NAMES[p] in available), "cpu")


def provider_list(providers: str, engine_cache_dir: str = "") -> List[Any]:
    """ONNX Runtime's provider list for 'cpu', 'cuda' or 'tensorrt' (each falls back to the ones after it)."""
    if providers not in PROVIDERS or providers == "auto":
        raise WeightFileError(f"providers {providers!r}: must be one of {list(PROVIDERS)}")
    chain: List[Any] = []
    if providers == "tensorrt":
        options = {"trt_fp16_enable": True}  # the Nano's GPU: FP16, no fast INT8
        if engine_cache_dir:
            options.update(trt_engine_cache_enable=True, trt_engine_cache_path=engine_cache_dir)
        chain.append((_ORT_NAMES["tensorrt"], options))
    if providers in ("tensorrt", "cuda"):
        chain.append(_ORT_NAMES["cuda"])
    chain.append(_ORT_NAMES["cpu"])
    return chain


_QDQ_PROPAGATION = "QDQPropagationTransformer"


class OnnxModel:
    """One ``.onnx`` variant in an InferenceSession; ``logits(x)`` like the PyTorch model's forward."""

    def __init__(self, path, providers: str = "cpu", engine_cache_dir: str = "", threads: int = 1) -> None:
        """Open the file; WeightFileError when it is missing, invalid, or the provider is not available."""
        try:
            import onnxruntime as ort
        except ImportError:
            raise WeightFileError("backend onnxruntime: the onnxruntime package is not installed") from None
        self.path = Path(path)
        if not self.path.is_file():
            raise WeightFileError(
                f"{self.path}: no such ONNX file (make it with `facecoach export --variant {self.path.stem}`)"
            )
        available = ort.get_available_providers()
        providers = resolve_providers(providers, available)
        wanted = _ORT_NAMES[providers] if providers in _ORT_NAMES else providers
        if wanted not in available:
            raise WeightFileError(
                f"providers {providers!r}: this onnxruntime has no {wanted} (it has {', '.join(available)})"
            )
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        try:
            self.session = _session(ort, str(self.path), options, provider_list(providers, engine_cache_dir))
        except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own untyped errors on bad files
            raise WeightFileError(f"{self.path}: not a loadable ONNX model ({_one_line(exc)})") from exc
        self.kind = providers  # what 'auto' came to: tensorrt, cuda or cpu
        self.providers = self.session.get_providers()
        self.meta = self._metadata()
        inputs = self.session.get_inputs()
        if len(inputs) != 1 or list(inputs[0].shape[1:]) != [3, PREPROCESSING["size"], PREPROCESSING["size"]]:
            raise WeightFileError(f"{self.path}: expected one N x 3 x 48 x 48 input, found {inputs}")
        self._input = inputs[0].name
        self._check_output()

    def _check_output(self) -> None:
        """Refuse a model whose declared output is not N x classes: one logit per class name.

        A symbolic width ('N', 'classes') is checked when the model runs: ``logits`` refuses any other width,
        and EmotionClassifier runs it once at load, so a mismatch refuses the file instead of the first face.
        """
        n = len(self.meta["classes"])
        outputs = self.session.get_outputs()
        if len(outputs) != 1:
            raise WeightFileError(f"{self.path}: expected one N x {n} output (one per class), found {len(outputs)}")
        declared = list(outputs[0].shape)
        if len(declared) != 2 or (isinstance(declared[1], int) and declared[1] != n):
            raise WeightFileError(f"{self.path}: output shape {declared} does not match {_classes(self.meta)}")

    def _metadata(self) -> Dict[str, Any]:
        """The weight file's metadata that `facecoach export` copied into the model (JSON values)."""
        props = self.session.get_modelmeta().custom_metadata_map
        try:
            meta = {k: json.loads(v) for k, v in props.items()}
        except ValueError as exc:
            raise WeightFileError(f"{self.path}: metadata is not JSON ({exc})") from exc
        if not isinstance(meta.get("classes"), list) or not meta["classes"]:
            raise WeightFileError(f"{self.path}: no class list in its metadata (was it made by facecoach export?)")
        check_classes(self.path, meta["classes"])
        if meta.get("preprocessing", PREPROCESSING) != PREPROCESSING:
            raise WeightFileError(f"{self.path}: made for other preprocessing {meta.get('preprocessing')}")
        meta.setdefault("bits", 32)
        return meta

    def logits(self, x: np.ndarray) -> np.ndarray:
        """N x classes logits for N x 3 x 48 x 48 float32 inputs."""
        (out,) = self.session.run(None, {self._input: np.ascontiguousarray(x, dtype=np.float32)})
        if out.shape != (len(x), len(self.meta["classes"])):
            raise WeightFileError(
                f"{self.path}: output {out.shape} for {len(x)} faces does not match {_classes(self.meta)}"
            )
        return out


def _session(ort, path: str, options, providers):
    """An InferenceSession without ORT's QDQ propagation, where this onnxruntime has the option.

    ``int8_qdq`` keeps its first block float and quantizes after that block's max-pool; the propagation
    would move that QuantizeLinear above the pool, which then runs on uint8 in plain NCHW layout, far slower
    than the float pool in ORT's blocked layout. Float models have no QDQ nodes: nothing changes for them.
    """
    try:
        return ort.InferenceSession(path, options, providers=providers, disabled_optimizers=[_QDQ_PROPAGATION])
    except TypeError:  # an onnxruntime without disabled_optimizers
        return ort.InferenceSession(path, options, providers=providers)


def _classes(meta: Dict[str, Any]) -> str:
    """'its 6 class names [...]' for a refusal (cut: a class list can be long)."""
    return f"its {len(meta['classes'])} class names {str(meta['classes'])[:200]}"


def _one_line(exc: BaseException, limit: int = 300) -> str:
    """The message of an onnxruntime error on one line, cut to ``limit`` characters."""
    return " ".join(str(exc).split())[:limit]


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax in float32, as torch.softmax computes it."""
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


def flip_averaged(model: OnnxModel, x: np.ndarray, flip_tta: bool) -> np.ndarray:
    """Softmax of the model on x, averaged with the mirrored inputs' when ``flip_tta`` (one batch of 2N)."""
    if not flip_tta:
        return softmax(model.logits(x))
    p = softmax(model.logits(np.concatenate([x, x[:, :, :, ::-1]])))
    return (p[: len(x)] + p[len(x) :]) / 2
