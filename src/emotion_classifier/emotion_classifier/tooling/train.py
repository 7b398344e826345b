"""Training of the baseline model (the paper's recipe plus what helps on FER2013).

AdamW (lr 9e-4, weight decay 0.01), batch 100, as in the paper; plus flips, small shifts,
rotations and scaling, random erasing, class-balanced loss weights, label smoothing, a
warm-up + cosine learning-rate schedule and early stopping on the validation split; optionally
stochastic weight averaging (SWA) over the last epochs at a constant learning rate.
Every epoch is logged (JSON lines) and checkpointed, so an interrupted run resumes.
"""

from __future__ import annotations

import json
import math
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Dict, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..inference import flip_averaged_proba
from ..labels import CLASSES
from ..model import EmotionRecognitionModel
from ..preprocess import normalize_gray
from .augment import augment, jpeg_copies
from .checkpoint import load_checkpoint, save_checkpoint, weights_sha256
from .data import FaceSet
from .losses import soft_target_loss, teachers_loss


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters of one training run (all saved in the log and the weight file)."""

    epochs: int = 60
    batch_size: int = 100
    lr: float = 9e-4
    weight_decay: float = 0.01
    warmup_epochs: int = 2
    label_smoothing: float = 0.1
    class_balance: float = 0.5  # loss weight = (1 / class frequency) ** class_balance
    max_shift: float = 0.1  # fraction of the image
    max_rotate_deg: float = 10.0
    scale_range: float = 0.1
    erase_prob: float = 0.25
    dropout: float = 0.5  # of the classifier's two hidden layers (training only: the weights do not keep it)
    patience: int = 12  # early stopping on validation accuracy
    distill_alpha: float = 0.0  # weight of the teacher's soft targets in the loss (0: no teacher)
    distill_temperature: float = 4.0
    mixup_alpha: float = 0.0  # Beta(a, a) mixing of image pairs (0: off); the teacher labels the mix
    photometric: float = 0.0  # brightness/contrast jitter, as a fraction (real cameras; 0: off)
    blur_prob: float = 0.0  # share of faces blurred (a soft camera, a resized crop)
    jpeg_prob: float = 0.0  # share of faces shown with JPEG artifacts (quality 20..80)
    channels_last: bool = False  # the memory format; faster on some CPUs (measured by the train command)
    swa_epochs: int = 0  # the last N epochs run at swa_lr and their weights are averaged (0: off)
    swa_lr: float = 2e-4
    seed: int = 0
    threads: int = 0  # 0: torch's default

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1 or self.lr <= 0:
            raise ValueError("epochs, batch_size and lr must be positive")
        if not 0 <= self.distill_alpha <= 1 or self.distill_temperature <= 0 or self.mixup_alpha < 0:
            raise ValueError("distill_alpha must be in [0, 1], distill_temperature > 0, mixup_alpha >= 0")
        if not 0 <= self.dropout < 1 or not 0 <= self.erase_prob <= 1:
            raise ValueError("dropout must be in [0, 1) and erase_prob in [0, 1]")
        if not 0 <= self.swa_epochs <= self.epochs or self.swa_lr <= 0:
            raise ValueError("swa_epochs must be in [0, epochs] and swa_lr > 0")


@torch.inference_mode()
def predict_proba(model: nn.Module, images: np.ndarray, batch: int = 500, tta_flip: bool = False) -> np.ndarray:
    """Softmax probabilities for N x 48 x 48 uint8 gray faces (optionally averaged with the mirror image)."""
    model.eval()
    out = []
    for i in range(0, len(images), batch):
        out.append(
            flip_averaged_proba(model, torch.from_numpy(normalize_gray(images[i : i + batch])), tta_flip).numpy()
        )
    return np.concatenate(out) if out else np.zeros((0, len(CLASSES)), np.float32)


def accuracy(model: nn.Module, faces: FaceSet) -> float:
    """Top-1 accuracy on a face set."""
    return float((predict_proba(model, faces.images).argmax(1) == faces.labels).mean())


def _lr_at(step: int, total: int, warmup: int, base: float) -> float:
    if step < warmup:
        return base * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return base * 0.5 * (1 + math.cos(math.pi * progress))


def train(
    train_set: FaceSet,
    val_set: FaceSet,
    cfg: TrainConfig,
    workdir: Path,
    model: Optional[EmotionRecognitionModel] = None,
    progress: bool = True,
    teachers: Sequence[nn.Module] = (),
    soft_labels: Optional[np.ndarray] = None,
) -> EmotionRecognitionModel:
    """Train (or resume from ``workdir/checkpoint.pt``); return the model with the best validation accuracy.

    With ``cfg.swa_epochs`` the cosine schedule ends that many epochs early; those epochs run at ``cfg.swa_lr``
    and the mean of their weights (the model has no batch norm to re-estimate) is a candidate beside the best
    epoch: the one with the higher validation accuracy is returned.

    With ``cfg.distill_alpha`` > 0 the loss blends the labels with soft targets at
    ``cfg.distill_temperature`` (knowledge distillation): ``soft_labels`` (N x classes probabilities of
    the training faces, e.g. a cached ensemble's) or else the ``teachers``' flip-averaged predictions.
    """
    if soft_labels is not None and soft_labels.shape != (len(train_set), len(CLASSES)):
        raise ValueError(f"soft labels are {soft_labels.shape}, the training split {len(train_set)} faces")
    from tqdm import tqdm

    workdir.mkdir(parents=True, exist_ok=True)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    model = model or EmotionRecognitionModel(len(CLASSES))
    for m in model.modules():
        if isinstance(m, nn.Dropout):
            m.p = cfg.dropout
    model = model.to(memory_format=torch.channels_last if cfg.channels_last else torch.contiguous_format)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    counts = np.bincount(train_set.labels, minlength=len(CLASSES)).astype(np.float64)
    weights = (counts.sum() / np.maximum(counts, 1)) ** cfg.class_balance
    weights = torch.tensor(weights / weights.mean(), dtype=torch.float32)
    x_all = torch.from_numpy(normalize_gray(train_set.images))
    y_all = torch.from_numpy(train_set.labels)
    jpeg_all = torch.from_numpy(normalize_gray(jpeg_copies(train_set.images, cfg.seed))) if cfg.jpeg_prob else None
    soft_all = torch.from_numpy(soft_labels.astype(np.float32)) if soft_labels is not None else None
    layout = torch.channels_last if cfg.channels_last else torch.contiguous_format
    steps_per_epoch = math.ceil(len(train_set) / cfg.batch_size)
    swa_from = cfg.epochs - cfg.swa_epochs  # the first epoch (0-based) of the averaged ones
    total = swa_from * steps_per_epoch

    start_epoch, best_acc, best_epoch, best_state = 0, -1.0, -1, None
    init_sha = weights_sha256(model)  # the starting weights: a checkpoint of another start is another run
    swa_state, swa_count = None, 0
    ckpt = workdir / "checkpoint.pt"
    state = load_checkpoint(ckpt, asdict(cfg), asdict(TrainConfig()), init_sha)
    if state is not None:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        gen.set_state(state["generator"])
        start_epoch, best_acc, best_epoch, best_state = (
            state["epoch"],
            state["best_acc"],
            state["best_epoch"],
            state["best_model"],
        )
        swa_state, swa_count = state.get("swa_model"), state.get("swa_count", 0)
        print(f"resuming at epoch {start_epoch + 1} (best val {best_acc:.4f} at epoch {best_epoch})")

    for m in teachers:
        m.eval()
    log = open(workdir / "train_log.jsonl", "a")
    for epoch in range(start_epoch, cfg.epochs):
        model.train()
        order = torch.randperm(len(train_set), generator=gen)
        t0, loss_sum, correct = time.time(), 0.0, 0
        bar = tqdm(
            range(steps_per_epoch),
            desc=f"epoch {epoch + 1}/{cfg.epochs}",
            disable=not progress,
            leave=False,
            mininterval=1.0,
        )
        for i in bar:
            for g in opt.param_groups:
                step = epoch * steps_per_epoch + i
                warmup = cfg.warmup_epochs * steps_per_epoch
                g["lr"] = cfg.swa_lr if epoch >= swa_from else _lr_at(step, total, warmup, cfg.lr)
            idx = order[i * cfg.batch_size : (i + 1) * cfg.batch_size]
            jpeg = jpeg_all[idx] if jpeg_all is not None else None
            x, y = augment(x_all[idx], cfg, gen, jpeg).contiguous(memory_format=layout), y_all[idx]
            lam, perm = 1.0, None
            if cfg.mixup_alpha > 0:
                lam = float(torch.distributions.Beta(cfg.mixup_alpha, cfg.mixup_alpha).sample())
                perm = torch.randperm(len(idx), generator=gen)
                x = lam * x + (1 - lam) * x[perm]
            logits = model(x)
            loss = lam * F.cross_entropy(logits, y, weight=weights, label_smoothing=cfg.label_smoothing)
            if perm is not None:
                loss = loss + (1 - lam) * F.cross_entropy(
                    logits, y[perm], weight=weights, label_smoothing=cfg.label_smoothing
                )
            if soft_all is not None and cfg.distill_alpha > 0:
                soft = soft_all[idx] if perm is None else lam * soft_all[idx] + (1 - lam) * soft_all[idx][perm]
                loss = (1 - cfg.distill_alpha) * loss + cfg.distill_alpha * soft_target_loss(
                    logits, soft, cfg.distill_temperature
                )
            elif teachers and cfg.distill_alpha > 0:
                loss = (1 - cfg.distill_alpha) * loss + cfg.distill_alpha * teachers_loss(
                    logits, x, teachers, cfg.distill_temperature
                )
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            loss_sum += loss.item() * len(idx)
            correct += int((logits.argmax(1) == y).sum())
            bar.set_postfix(loss=f"{loss_sum / ((i * cfg.batch_size) + len(idx)):.3f}")
        val_acc = accuracy(model, val_set)
        if val_acc > best_acc:
            best_acc, best_epoch = val_acc, epoch + 1
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        if epoch >= swa_from:  # a running mean of the weights at the end of each averaged epoch
            swa_count += 1
            now = model.state_dict()
            swa_state = {k: v.detach().clone() for k, v in now.items()} if swa_state is None else swa_state
            for k, v in swa_state.items():
                v += (now[k] - v) / swa_count
        row = {
            "epoch": epoch + 1,
            "loss": loss_sum / len(train_set),
            "train_acc": correct / len(train_set),
            "val_acc": val_acc,
            "best_val_acc": best_acc,
            "lr": opt.param_groups[0]["lr"],
            "seconds": round(time.time() - t0, 1),
        }
        row.update({"swa_epochs_averaged": swa_count} if swa_count else {})
        log.write(json.dumps(row) + "\n")
        log.flush()
        print(" ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()), flush=True)
        save_checkpoint(
            ckpt,
            {
                "config": asdict(cfg),
                "init_sha256": init_sha,
                "model": model.state_dict(),
                "optimizer": opt.state_dict(),
                "generator": gen.get_state(),
                "epoch": epoch + 1,
                "best_acc": best_acc,
                "best_epoch": best_epoch,
                "best_model": best_state,
                "swa_model": swa_state,
                "swa_count": swa_count,
            },
        )
        if epoch + 1 - best_epoch >= cfg.patience:
            print(
                f"early stop: no validation gain for {cfg.patience} epochs (best {best_acc:.4f} at epoch {best_epoch})"
            )
            break
    model.load_state_dict(best_state)
    if swa_state is not None:
        model.load_state_dict(swa_state)
        swa_acc = accuracy(model, val_set)
        chosen = "the average" if swa_acc > best_acc else f"epoch {best_epoch}"
        print(f"SWA of {swa_count} epochs: val {swa_acc:.4f}, best epoch {best_acc:.4f}: keeping {chosen}")
        log.write(json.dumps({"swa_epochs_averaged": swa_count, "swa_val_acc": swa_acc, "kept": chosen}) + "\n")
        if swa_acc <= best_acc:
            model.load_state_dict(best_state)
    log.close()
    model = model.to(memory_format=torch.contiguous_format)
    model.eval()
    return model


# What fine-tuning takes over from the source model's train_config: how its faces were augmented and how
# strongly it was regularised (not the schedule, the seed or the teacher).
RECIPE_FIELDS = (
    "label_smoothing",
    "class_balance",
    "max_shift",
    "max_rotate_deg",
    "scale_range",
    "erase_prob",
    "dropout",
    "photometric",
    "blur_prob",
    "jpeg_prob",
    "channels_last",
)


def finetune(
    model: EmotionRecognitionModel,
    train_set: FaceSet,
    val_set: FaceSet,
    epochs: int,
    lr: float,
    threads: int = 0,
    workdir: Optional[Path] = None,
    progress: bool = False,
    soft_labels: Optional[np.ndarray] = None,
    distill_alpha: float = 0.7,
    distill_temperature: float = 2.0,
    recipe: Optional[Dict[str, Any]] = None,
) -> EmotionRecognitionModel:
    """A short run of :func:`train` from ``model``: cosine from ``lr``, no warm-up, no early stop.

    With ``soft_labels`` it distils from them (``distill_alpha``, ``distill_temperature``). ``recipe``, the
    source model's ``train_config``, gives its augmentation and regularisation (RECIPE_FIELDS): a model
    trained with light dropout and erasing underfits when fine-tuned with the heavier defaults. Checkpoints
    go to ``workdir``, or to a temporary folder that is removed afterwards.
    """
    inherited = {k: v for k, v in recipe.items() if k in RECIPE_FIELDS} if isinstance(recipe, dict) else {}
    cfg = TrainConfig(
        **inherited,
        epochs=epochs,
        lr=lr,
        warmup_epochs=0,
        patience=epochs,
        threads=threads,
        distill_alpha=distill_alpha if soft_labels is not None else 0.0,
        distill_temperature=distill_temperature,
    )
    with tempfile.TemporaryDirectory(prefix="facecoach-finetune-") as tmp:
        run_dir = Path(workdir) if workdir else Path(tmp)
        return train(train_set, val_set, cfg, run_dir, model=model, progress=progress, soft_labels=soft_labels)
