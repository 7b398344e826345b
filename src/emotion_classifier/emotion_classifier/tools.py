"""Model tooling commands (train, quantize, ...), reachable as ``./facecoach <command>``."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import Optional

from .data import CLASSES, DatasetError, load_faces
from .weights import WeightFileError


def _command_line(args: Optional[argparse.Namespace] = None) -> str:
    """The command that made a file, for its metadata (``argv`` is set by :func:`main`, else sys.argv)."""
    argv = getattr(args, "argv", None)
    return "./facecoach " + " ".join(shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv))


def cmd_train(args: argparse.Namespace) -> int:
    """Train the baseline model on the train split, choosing the epoch on the validation split."""
    from .model import count_params
    from .train import TrainConfig, accuracy, train
    from .weights import save_model

    train_set = load_faces(args.data, "train")
    val_set = load_faces(args.data, "val")
    print(f"train {len(train_set)} faces, val {len(val_set)} faces, classes {list(CLASSES)}")
    from .weights import load_model

    cfg = TrainConfig(
        epochs=args.epochs,
        seed=args.seed,
        patience=args.patience,
        threads=args.threads,
        lr=args.lr,
        warmup_epochs=args.warmup_epochs,
        distill_alpha=args.distill_alpha if args.teacher else 0.0,
        distill_temperature=args.distill_temperature,
        mixup_alpha=args.mixup_alpha,
    )
    teachers = [load_model(t)[0] for t in args.teacher]
    init = load_model(args.init)[0] if args.init else None
    model = train(
        train_set, val_set, cfg, Path(args.workdir), model=init, progress=not args.no_progress, teachers=teachers
    )
    meta = {
        "variant": args.variant,
        "classes": list(CLASSES),
        "data_sha256": train_set.sha256,
        "command": _command_line(args),
        "train_config": cfg.__dict__,
        "teachers": [Path(t).name for t in args.teacher],
        "init": Path(args.init).name if args.init else "",
        "val_accuracy": round(accuracy(model, val_set), 4),
    }
    out = save_model(args.out, model, meta)
    print(f"wrote {out} ({count_params(model):,} parameters, val accuracy {meta['val_accuracy']:.4f})")
    return 0


def _source_meta(path) -> tuple:
    """Load a float source model; refuse quantized ones (re-quantizing stacks the rounding errors)."""
    from .data import file_sha256
    from .weights import WeightFileError, load_model

    model, meta = load_model(path)
    if int(meta["bits"]) != 32 or meta.get("kernels"):
        raise WeightFileError(f"{path}: source must be a float (32-bit) model, this one is {meta['variant']!r}")
    return model, meta, file_sha256(Path(path))


def _subset(faces, limit: int, seed: int = 0):
    """A fixed random subset of a face set (all of it when limit is 0 or larger than the set)."""
    import numpy as np

    if not limit or limit >= len(faces):
        return faces
    idx = np.sort(np.random.default_rng(seed).choice(len(faces), limit, replace=False))
    return type(faces)(faces.images[idx], faces.labels[idx], faces.source, faces.sha256, limit)


def cmd_quantize(args: argparse.Namespace) -> int:
    """Symmetric (zero point 0) quantization of every Conv2d/Linear weight to int16, int8 or int4 codes."""
    from .weights import save_model

    model, src_meta, src_sha = _source_meta(args.src)
    variant = args.variant or Path(args.out).stem
    meta = {
        "variant": variant,
        "classes": src_meta["classes"],
        "data_sha256": src_meta["data_sha256"],
        "command": _command_line(args),
        "source": Path(args.src).name,
        "source_sha256": src_sha,
    }
    out = save_model(args.out, model, meta, bits=args.bits, per_channel=args.per_channel)
    src_bytes, out_bytes = Path(args.src).stat().st_size, out.stat().st_size
    print(
        f"wrote {out}: int{args.bits} {'per channel' if args.per_channel else 'per tensor'}, "
        f"{out_bytes / 1e6:.3f} MB ({src_bytes / out_bytes:.2f}x smaller than {args.src})"
    )
    return 0


def _finetune(model, train_set, val_set, epochs: int, lr: float, threads: int, workdir, progress: bool):
    """A short, low-lr run of train.train from ``model`` (in a temporary folder unless workdir is given)."""
    import tempfile

    from .train import TrainConfig, train

    cfg = TrainConfig(epochs=epochs, lr=lr, warmup_epochs=0, patience=epochs, threads=threads)
    if workdir:
        return train(train_set, val_set, cfg, Path(workdir), model=model, progress=progress)
    with tempfile.TemporaryDirectory(prefix="facecoach-finetune-") as tmp:
        return train(train_set, val_set, cfg, Path(tmp), model=model, progress=progress)


def cmd_prune(args: argparse.Namespace) -> int:
    """Structured (channel/neuron) pruning with torch-pruning, then fine-tuning; saves a plain narrower model."""
    from .model import count_macs, count_params
    from .prune import prune_model
    from .train import accuracy
    from .weights import save_model

    model, src_meta, src_sha = _source_meta(args.src)
    val_set = _subset(load_faces(args.data, "val"), args.val_limit)
    pruned = prune_model(model, args.conv_ratio, args.fc_ratio)
    base_macs, macs = count_macs(model), count_macs(pruned)
    acc0, acc1 = accuracy(model, val_set), accuracy(pruned, val_set)
    print(
        f"pruned conv {args.conv_ratio} / fc {args.fc_ratio}: {count_params(pruned):,} params, {macs / 1e6:.2f} MMAC "
        f"({base_macs / macs:.2f}x fewer); val accuracy {acc0:.4f} -> {acc1:.4f} before fine-tuning"
    )
    data_sha = src_meta["data_sha256"]
    if args.finetune_epochs > 0:
        train_set = _subset(load_faces(args.data, "train"), args.train_limit)
        pruned = _finetune(
            pruned, train_set, val_set, args.finetune_epochs, args.lr, args.threads, args.workdir, not args.no_progress
        )
        data_sha = train_set.sha256
    acc2 = accuracy(pruned, val_set)
    meta = {
        "variant": args.variant or Path(args.out).stem,
        "classes": src_meta["classes"],
        "data_sha256": data_sha,
        "command": _command_line(args),
        "source": Path(args.src).name,
        "source_sha256": src_sha,
        "conv_ratio": args.conv_ratio,
        "fc_ratio": args.fc_ratio,
        "finetune_epochs": args.finetune_epochs,
        "macs": macs,
        "macs_reduction": round(base_macs / macs, 3),
        "val_accuracy": round(acc2, 4),
        "val_accuracy_before_finetune": round(acc1, 4),
    }
    out = save_model(args.out, pruned, meta)
    print(
        f"wrote {out}: val accuracy {acc2:.4f} (source {acc0:.4f}, {100 * (acc2 - acc0):+.2f} pt), "
        f"{base_macs / macs:.2f}x fewer MACs, {out.stat().st_size / 1e6:.2f} MB"
    )
    return 0


def cmd_prune_sweep(args: argparse.Namespace) -> int:
    """Prune at several ratios (conv = fc): accuracy, MACs, params, size vs ratio, with and without fine-tuning."""
    import json
    import tempfile

    from .model import count_macs, count_params
    from .prune import prune_model
    from .train import accuracy
    from .weights import save_model

    model, src_meta, _ = _source_meta(args.src)
    ratios = [float(r) for r in args.ratios.split(",") if r.strip()]
    val_set = _subset(load_faces(args.data, "val"), args.val_limit)
    train_set = _subset(load_faces(args.data, "train"), args.train_limit) if args.finetune_epochs > 0 else None
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    with tempfile.TemporaryDirectory(prefix="facecoach-sweep-") as tmp:
        for ratio in [0.0] + [r for r in ratios if r != 0.0]:
            pruned = prune_model(model, ratio, ratio) if ratio else model
            size_path = save_model(Path(tmp) / "m.safetensors", pruned, {**src_meta, "command": "sweep"})
            row = {
                "ratio": ratio,
                "params": count_params(pruned),
                "macs": count_macs(pruned),
                "file_bytes": size_path.stat().st_size,
                "val_accuracy": accuracy(pruned, val_set),
                "val_accuracy_finetuned": None,
            }
            if train_set is not None and ratio:
                tuned = _finetune(pruned, train_set, val_set, args.finetune_epochs, args.lr, args.threads, None, False)
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
    result = {"source": str(args.src), "finetune_epochs": args.finetune_epochs, "val_faces": len(val_set), "rows": rows}
    (out_dir / "prune_sweep.json").write_text(json.dumps(result, indent=2))
    plots = plot_sweep(rows, out_dir)
    print(format_sweep(rows))
    print(f"wrote {out_dir / 'prune_sweep.json'} and {', '.join(p.name for p in plots)}")
    return 0


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


def cmd_eval(args: argparse.Namespace) -> int:
    """Evaluate one variant or all of them on an npz/csv/image folder; write JSON and print a table."""
    import json

    from .evaluate import detector_face_finder, evaluate_variants, format_table, variant_files

    files = variant_files(args.models_dir, args.variant)
    faces = _subset(load_faces(args.data, args.split, face_finder=detector_face_finder()), args.limit)
    if len(faces) == 0:
        raise DatasetError(f"{args.data}: no faces to evaluate ({faces.n_images} images read)")
    print(
        f"{args.data} ({'folder' if Path(args.data).is_dir() else args.split}): {faces.n_images} images, "
        f"{len(faces)} faces; variants {[p.stem for p in files]}"
    )
    results = evaluate_variants(files, faces, args.latency_runs, not args.no_progress, args.flip_tta)
    doc = {"data": str(args.data), "split": args.split, "command": _command_line(args), "variants": results}
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(doc, indent=2))
    print(format_table(results))
    if args.json:
        print(f"wrote {args.json}")
    return 0


def cmd_quantize_native(args: argparse.Namespace) -> int:
    """Calibrated static int8 (integer kernels: fbgemm/x86 here, qnnpack on ARM), per-channel symmetric weights."""
    import torch

    from .evaluate import latency_ms_per_face
    from .native_int8 import calibrate_int8, load_native_int8, save_native_int8
    from .preprocess import normalize_gray
    from .train import accuracy

    if args.threads:
        torch.set_num_threads(args.threads)
    model, src_meta, src_sha = _source_meta(args.src)
    calib_set = _subset(load_faces(args.data, "train"), args.calib_size, seed=args.seed)
    qmodel = calibrate_int8(model, torch.from_numpy(normalize_gray(calib_set.images)))
    check = _subset(load_faces(args.data, "val"), args.val_limit)
    acc_fp32, acc_int8 = accuracy(model, check), accuracy(qmodel, check)
    fp32_ms, int8_ms = latency_ms_per_face(model), latency_ms_per_face(qmodel)
    meta = {
        "variant": args.variant or Path(args.out).stem,
        "classes": src_meta["classes"],
        "data_sha256": src_meta["data_sha256"],
        "command": _command_line(args),
        "source": Path(args.src).name,
        "source_sha256": src_sha,
        "calibration": {"split": "train", "faces": len(calib_set), "seed": args.seed, "observer": "histogram"},
        "val_accuracy": round(acc_int8, 4),
        "val_accuracy_fp32": round(acc_fp32, 4),
        "int8_native_speedup": round(fp32_ms / int8_ms, 3),
    }
    out = save_native_int8(args.out, qmodel, meta)
    reloaded = load_native_int8(out)
    with torch.inference_mode():
        x = torch.from_numpy(normalize_gray(check.images[:64]))
        same = float((reloaded(x) - qmodel(x)).abs().max())
    print(
        f"val accuracy fp32 {acc_fp32:.4f}, int8 {acc_int8:.4f} ({100 * (acc_int8 - acc_fp32):+.2f} pt) "
        f"on {len(check)} faces"
    )
    print(
        f"latency (1 thread, batch 1): fp32 {fp32_ms:.3f} ms, int8 {int8_ms:.3f} ms -> {fp32_ms / int8_ms:.2f}x "
        f"({torch.backends.quantized.engine} engine)"
    )
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB; reload max diff {same:.2g})")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """Export variants to ONNX (float compute; int16/8/4 dequantized) and check them with ONNX Runtime."""
    import json

    from .evaluate import variant_files
    from .onnx_export import export_onnx, onnx_max_abs_diff
    from .weights import load_model

    out_dir = Path(args.out_dir)
    report = {}
    for path in variant_files(args.models_dir, args.variant):
        model, meta = load_model(path)
        if meta.get("kernels"):
            # PyTorch's eager int8 modules do not export; the Jetson GPU path is FP16 from the float ONNX anyway.
            print(f"{path.stem:<14} skipped: native int8 kernels ({meta['kernels']}) are a CPU-only PyTorch variant")
            continue
        onnx_path = export_onnx(model, out_dir / (path.stem + ".onnx"), meta, opset=args.opset)
        diff = onnx_max_abs_diff(model, onnx_path)
        report[path.stem] = {"onnx": str(onnx_path), "max_abs_diff": diff, "onnx_bytes": onnx_path.stat().st_size}
        status = "ok" if diff <= args.tolerance else "MISMATCH"
        print(f"{path.stem:<14} -> {onnx_path}  max |torch - onnxruntime| = {diff:.3g}  {status}")
    (out_dir / "export.json").parent.mkdir(parents=True, exist_ok=True)
    (out_dir / "export.json").write_text(json.dumps(report, indent=2))
    return 0 if all(r["max_abs_diff"] <= args.tolerance for r in report.values()) else 1


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register the model tooling sub-commands on a parent parser."""
    p = sub.add_parser("train", help="train the baseline emotion model", description=cmd_train.__doc__)
    p.add_argument("--data", required=True, help="FER2013 npz, Kaggle fer2013.csv, or class-named image folders")
    p.add_argument("--out", default="models/baseline.safetensors")
    p.add_argument("--workdir", default="runs/baseline", help="checkpoints and the epoch log (resumable)")
    p.add_argument("--variant", default="baseline")
    p.add_argument("--epochs", type=int, default=60)
    p.add_argument("--patience", type=int, default=12)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--lr", type=float, default=9e-4, help="peak learning rate (AdamW, cosine schedule)")
    p.add_argument("--warmup-epochs", type=int, default=2)
    p.add_argument("--init", help="start from this float weight file instead of random weights")
    p.add_argument(
        "--teacher", action="append", default=[], help="weight file to distil from (repeat for an ensemble)"
    )
    p.add_argument("--distill-alpha", type=float, default=0.7, help="weight of the teachers' soft targets")
    p.add_argument("--distill-temperature", type=float, default=4.0)
    p.add_argument("--mixup-alpha", type=float, default=0.0, help="mixup Beta(a, a) (0: off)")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser(
        "quantize", help="symmetric int16/int8/int4 weight quantization", description=cmd_quantize.__doc__
    )
    p.add_argument("--src", default="models/baseline.safetensors", help="float weight file")
    p.add_argument("--bits", type=int, choices=(16, 8, 4), required=True)
    p.add_argument("--per-channel", action="store_true", help="one scale per output channel (default: per tensor)")
    p.add_argument("--out", required=True)
    p.add_argument("--variant", help="variant name in the metadata (default: the output file's stem)")
    p.set_defaults(func=cmd_quantize)

    p = sub.add_parser("prune", help="structured pruning + fine-tuning", description=cmd_prune.__doc__)
    p.add_argument("--src", default="models/baseline.safetensors")
    p.add_argument("--data", required=True, help="FER2013 npz or Kaggle csv (train split fine-tunes, val reports)")
    p.add_argument("--conv-ratio", type=float, required=True, help="share of every conv's channels to remove")
    p.add_argument("--fc-ratio", type=float, required=True, help="share of every hidden FC layer's neurons to remove")
    p.add_argument("--finetune-epochs", type=int, default=10)
    p.add_argument("--lr", type=float, default=3e-4, help="fine-tuning learning rate (a third of training's)")
    p.add_argument("--train-limit", type=int, default=0, help="fine-tune on a random subset of this many faces")
    p.add_argument("--val-limit", type=int, default=0, help="report on a random subset of this many faces")
    p.add_argument("--workdir", help="fine-tuning checkpoints (default: a temporary folder)")
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--out", default="models/pruned.safetensors")
    p.add_argument("--variant", help="variant name in the metadata (default: the output file's stem)")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=cmd_prune)

    p = sub.add_parser(
        "prune-sweep", help="pruning ratio sweep: table, PNG plots, JSON", description=cmd_prune_sweep.__doc__
    )
    p.add_argument("--src", default="models/baseline.safetensors")
    p.add_argument("--data", required=True)
    p.add_argument("--ratios", default="0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9")
    p.add_argument("--finetune-epochs", type=int, default=0)
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--train-limit", type=int, default=0)
    p.add_argument("--val-limit", type=int, default=0)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--out-dir", default="runs/prune_sweep")
    p.set_defaults(func=cmd_prune_sweep)

    p = sub.add_parser("eval", help="evaluate weight variants (JSON + table)", description=cmd_eval.__doc__)
    p.add_argument("--data", required=True, help="FER2013 npz, Kaggle csv, or class-named image folders")
    p.add_argument(
        "--split", default="test", choices=("train", "val", "test"), help="npz/csv split (folders have none)"
    )
    p.add_argument("--variant", default="all", help="a file stem in --models-dir, or 'all'")
    p.add_argument("--models-dir", default="models")
    p.add_argument("--json", help="write the results here")
    p.add_argument("--limit", type=int, default=0, help="evaluate a random subset of this many faces")
    p.add_argument("--latency-runs", type=int, default=200)
    p.add_argument(
        "--flip-tta", action="store_true", help="average with the mirror image, as the node does with flip_tta:=true"
    )
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser(
        "quantize-native", help="calibrated static int8 (real integer kernels)", description=cmd_quantize_native.__doc__
    )
    p.add_argument("--src", default="models/baseline.safetensors")
    p.add_argument("--data", required=True, help="calibration faces come from its train split, the check from val")
    p.add_argument("--calib-size", type=int, default=500)
    p.add_argument("--val-limit", type=int, default=0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--out", default="models/int8_native.safetensors")
    p.add_argument("--variant", help="variant name in the metadata (default: the output file's stem)")
    p.set_defaults(func=cmd_quantize_native)

    p = sub.add_parser("export", help="ONNX export, checked with ONNX Runtime", description=cmd_export.__doc__)
    p.add_argument("--variant", default="all")
    p.add_argument("--models-dir", default="models")
    p.add_argument("--out-dir", default="models/onnx")
    p.add_argument("--opset", type=int, default=17)
    p.add_argument("--tolerance", type=float, default=1e-4, help="largest accepted logit difference")
    p.set_defaults(func=cmd_export)


def main(argv=None) -> int:
    """Stand-alone entry point (the ``facecoach`` command forwards here)."""
    parser = argparse.ArgumentParser(prog="emotion-tools")
    add_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    try:
        return args.func(args)
    except (DatasetError, WeightFileError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
