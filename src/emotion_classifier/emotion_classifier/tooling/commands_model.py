"""Commands that make variants from a float source: ``quantize``, ``quantize-native``, ``prune``, ``prune-sweep``."""

import argparse
import json
from pathlib import Path

import torch

from ..model import count_macs, count_params
from ..native_int8 import load_native_int8
from ..preprocess import normalize_gray
from ..weights import save_model
from .calibrate import calibrate_int8, save_native_int8
from .commands_common import command_line, load_float_source, soft_labels_file
from .data import DatasetError, load_faces, subset
from .evaluate import latencies_in_turns
from .prune import prune_model
from .sweep import format_sweep, plot_sweep, prune_sweep
from .train import accuracy, finetune


def cmd_quantize(args: argparse.Namespace) -> int:
    """Symmetric (zero point 0) quantization of every Conv2d/Linear weight to int16, int8 or int4 codes."""
    model, src_meta, src_sha = load_float_source(args.src)
    variant = args.variant or Path(args.out).stem
    meta = {
        "variant": variant,
        "classes": src_meta["classes"],
        "data_sha256": src_meta["data_sha256"],
        "command": command_line(args),
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


def cmd_quantize_native(args: argparse.Namespace) -> int:
    """Calibrated static int8 (integer kernels: fbgemm/x86 here, qnnpack on ARM), per-channel symmetric weights."""
    if args.threads:
        torch.set_num_threads(args.threads)
    model, src_meta, src_sha = load_float_source(args.src)
    calib_set = subset(load_faces(args.data, "train"), args.calib_size, seed=args.seed)
    qmodel = calibrate_int8(model, torch.from_numpy(normalize_gray(calib_set.images)))
    check = subset(load_faces(args.data, "val"), args.val_limit)
    acc_fp32, acc_int8 = accuracy(model, check), accuracy(qmodel, check)
    fp32_ms, int8_ms = latencies_in_turns([model, qmodel])
    meta = {
        "variant": args.variant or Path(args.out).stem,
        "classes": src_meta["classes"],
        "data_sha256": src_meta["data_sha256"],
        "command": command_line(args),
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


def cmd_prune(args: argparse.Namespace) -> int:
    """Structured (channel/neuron) pruning with torch-pruning, then fine-tuning; saves a plain narrower model."""
    model, src_meta, src_sha = load_float_source(args.src)
    val_set = subset(load_faces(args.data, "val"), args.val_limit)
    pruned = prune_model(model, args.conv_ratio, args.fc_ratio)
    base_macs, macs = count_macs(model), count_macs(pruned)
    acc0, acc1 = accuracy(model, val_set), accuracy(pruned, val_set)
    print(
        f"pruned conv {args.conv_ratio} / fc {args.fc_ratio}: {count_params(pruned):,} params, {macs / 1e6:.2f} MMAC "
        f"({base_macs / macs:.2f}x fewer); val accuracy {acc0:.4f} -> {acc1:.4f} before fine-tuning"
    )
    data_sha = src_meta["data_sha256"]
    if args.finetune_epochs > 0:
        if args.soft_labels and args.train_limit:
            raise DatasetError("--soft-labels describe the whole training split: leave out --train-limit")
        train_set = subset(load_faces(args.data, "train"), args.train_limit)
        soft = soft_labels_file(args.soft_labels, train_set) if args.soft_labels else None
        pruned = finetune(
            pruned,
            train_set,
            val_set,
            args.finetune_epochs,
            args.lr,
            args.threads,
            args.workdir,
            not args.no_progress,
            soft_labels=soft,
            recipe=src_meta.get("train_config"),
        )
        data_sha = train_set.sha256
    acc2 = accuracy(pruned, val_set)
    meta = {
        "variant": args.variant or Path(args.out).stem,
        "classes": src_meta["classes"],
        "data_sha256": data_sha,
        "command": command_line(args),
        "source": Path(args.src).name,
        "source_sha256": src_sha,
        "conv_ratio": args.conv_ratio,
        "fc_ratio": args.fc_ratio,
        "finetune_epochs": args.finetune_epochs,
        "soft_labels": Path(args.soft_labels).name if args.soft_labels else "",
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
    model, src_meta, _ = load_float_source(args.src)
    ratios = [float(r) for r in args.ratios.split(",") if r.strip()]
    val_set = subset(load_faces(args.data, "val"), args.val_limit)
    train_set = subset(load_faces(args.data, "train"), args.train_limit) if args.finetune_epochs > 0 else None
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = prune_sweep(model, src_meta, ratios, val_set, train_set, args.finetune_epochs, args.lr, args.threads)
    result = {"source": str(args.src), "finetune_epochs": args.finetune_epochs, "val_faces": len(val_set), "rows": rows}
    (out_dir / "prune_sweep.json").write_text(json.dumps(result, indent=2))
    plots = plot_sweep(rows, out_dir)
    print(format_sweep(rows))
    print(f"wrote {out_dir / 'prune_sweep.json'} and {', '.join(p.name for p in plots)}")
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``quantize``, ``quantize-native``, ``prune`` and ``prune-sweep``."""
    p = sub.add_parser(
        "quantize", help="symmetric int16/int8/int4 weight quantization", description=cmd_quantize.__doc__
    )
    p.add_argument("--src", default="models/baseline.safetensors", help="float weight file")
    p.add_argument("--bits", type=int, choices=(16, 8, 4), required=True)
    p.add_argument("--per-channel", action="store_true", help="one scale per output channel (default: per tensor)")
    p.add_argument("--out", required=True)
    p.add_argument("--variant", help="variant name in the metadata (default: the output file's stem)")
    p.set_defaults(func=cmd_quantize)

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

    p = sub.add_parser("prune", help="structured pruning + fine-tuning", description=cmd_prune.__doc__)
    p.add_argument("--src", default="models/baseline.safetensors")
    p.add_argument("--data", required=True, help="FER2013 npz or Kaggle csv (train split fine-tunes, val reports)")
    p.add_argument("--conv-ratio", type=float, required=True, help="share of every conv's channels to remove")
    p.add_argument("--fc-ratio", type=float, required=True, help="share of every hidden FC layer's neurons to remove")
    p.add_argument("--finetune-epochs", type=int, default=10)
    p.add_argument("--lr", type=float, default=3e-4, help="fine-tuning learning rate (a third of training's)")
    p.add_argument("--train-limit", type=int, default=0, help="fine-tune on a random subset of this many faces")
    p.add_argument("--soft-labels", help="fine-tune distilling from a soft-labels npz (the whole training split)")
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
