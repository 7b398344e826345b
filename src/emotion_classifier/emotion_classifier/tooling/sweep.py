"""The pruning-ratio sweep (the paper's figures): one row per ratio, a table and PNG plots."""

import tempfile
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from ..model import EmotionRecognitionModel, count_macs, count_params
from ..weights import save_model
from .data import FaceSet
from .prune import prune_model
from .train import accuracy, finetune


def prune_sweep(
    model: EmotionRecognitionModel,
    meta: Dict[str, object],
    ratios: Sequence[float],
    val_set: FaceSet,
    train_set: Optional[FaceSet] = None,
    finetune_epochs: int = 0,
    lr: float = 3e-4,
    threads: int = 0,
) -> List[Dict[str, object]]:
    """Prune ``model`` at ratio 0 (itself) and each ratio (conv = fc); fine-tune too when ``train_set`` is given.

    Each row: ratio, params, macs, file_bytes (as saved with ``meta``), val_accuracy, val_accuracy_finetuned.
    """
    rows = []
    with tempfile.TemporaryDirectory(prefix="facecoach-sweep-") as tmp:
        for ratio in [0.0] + [r for r in ratios if r != 0.0]:
            pruned = prune_model(model, ratio, ratio) if ratio else model
            size_path = save_model(Path(tmp) / "m.safetensors", pruned, {**meta, "command": "sweep"})
            row = {
                "ratio": ratio,
                "params": count_params(pruned),
                "macs": count_macs(pruned),
                "file_bytes": size_path.stat().st_size,
                "val_accuracy": accuracy(pruned, val_set),
                "val_accuracy_finetuned": None,
            }
            if train_set is not None and ratio:
                tuned = finetune(
                    pruned, train_set, val_set, finetune_epochs, lr, threads, recipe=meta.get("train_config")
                )
                row["val_accuracy_finetuned"] = accuracy(tuned, val_set)
            elif train_set is not None:
                row["val_accuracy_finetuned"] = row["val_accuracy"]  # ratio 0: the source itself
            rows.append(row)
            tuned_txt = (
                "" if row["val_accuracy_finetuned"] is None else f" fine-tuned {row['val_accuracy_finetuned']:.4f}"
            )
            print(
                f"ratio {ratio:.2f}: {row['params']:>9,} params {row['macs'] / 1e6:6.2f} MMAC "
                f"{row['file_bytes'] / 1e6:6.2f} MB  val {row['val_accuracy']:.4f}{tuned_txt}",
                flush=True,
            )
    return rows


def format_sweep(rows) -> str:
    """The sweep as a table."""
    lines = [f"{'ratio':>6}{'params':>11}{'MMAC':>8}{'MB':>8}{'val %':>8}{'tuned %':>9}"]
    for r in rows:
        tuned = "-" if r["val_accuracy_finetuned"] is None else f"{100 * r['val_accuracy_finetuned']:.2f}"
        lines.append(
            f"{r['ratio']:>6.2f}{r['params']:>11,}{r['macs'] / 1e6:>8.2f}{r['file_bytes'] / 1e6:>8.2f}"
            f"{100 * r['val_accuracy']:>8.2f}{tuned:>9}"
        )
    return "\n".join(lines)


def plot_sweep(rows, out_dir: Path) -> list:
    """PNG plots of accuracy, MACs, params and file size against the pruning ratio (the paper's figures)."""
    import matplotlib

    matplotlib.use("Agg")  # no display on the device or in CI
    import matplotlib.pyplot as plt

    x = [r["ratio"] for r in rows]
    panels = [
        ("accuracy", "val accuracy (%)", None),
        ("macs", "MMAC", lambda r: r["macs"] / 1e6),
        ("params", "parameters (M)", lambda r: r["params"] / 1e6),
        ("size", "file size (MB)", lambda r: r["file_bytes"] / 1e6),
    ]
    files = []
    fig_all, axes = plt.subplots(2, 2, figsize=(10, 8))
    for (name, label, get), ax_all in zip(panels, axes.flat):
        fig, ax = plt.subplots(figsize=(5, 4))
        for axis in (ax, ax_all):
            if get is None:
                axis.plot(x, [100 * r["val_accuracy"] for r in rows], "o-", label="no fine-tuning")
                tuned = [
                    (r["ratio"], 100 * r["val_accuracy_finetuned"])
                    for r in rows
                    if r["val_accuracy_finetuned"] is not None
                ]
                if tuned:
                    axis.plot(*zip(*tuned), "s-", label="fine-tuned")
                axis.legend()
            else:
                axis.plot(x, [get(r) for r in rows], "o-")
            axis.set_xlabel("pruning ratio (conv = fc)")
            axis.set_ylabel(label)
            axis.grid(True, alpha=0.3)
        fig.tight_layout()
        files.append(out_dir / f"prune_{name}.png")
        fig.savefig(files[-1], dpi=100)
        plt.close(fig)
    fig_all.tight_layout()
    files.append(out_dir / "prune_sweep.png")
    fig_all.savefig(files[-1], dpi=100)
    plt.close(fig_all)
    return files
