"""Model tooling commands (train, quantize, ...), reachable as ``./facecoach <command>``."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from .data import CLASSES, DatasetError, load_faces


def _command_line() -> str:
    return "./facecoach " + " ".join(shlex.quote(a) for a in sys.argv[1:])


def cmd_train(args: argparse.Namespace) -> int:
    """Train the baseline model on the train split, choosing the epoch on the validation split."""
    from .model import count_params
    from .train import TrainConfig, accuracy, train
    from .weights import save_model

    train_set = load_faces(args.data, "train")
    val_set = load_faces(args.data, "val")
    print(f"train {len(train_set)} faces, val {len(val_set)} faces, classes {list(CLASSES)}")
    cfg = TrainConfig(epochs=args.epochs, seed=args.seed, patience=args.patience, threads=args.threads)
    model = train(train_set, val_set, cfg, Path(args.workdir), progress=not args.no_progress)
    meta = {
        "variant": args.variant,
        "classes": list(CLASSES),
        "data_sha256": train_set.sha256,
        "command": _command_line(),
        "train_config": cfg.__dict__,
        "val_accuracy": round(accuracy(model, val_set), 4),
    }
    out = save_model(args.out, model, meta)
    print(f"wrote {out} ({count_params(model):,} parameters, val accuracy {meta['val_accuracy']:.4f})")
    return 0


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
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=cmd_train)


def main(argv=None) -> int:
    """Stand-alone entry point (the ``facecoach`` command forwards here)."""
    parser = argparse.ArgumentParser(prog="emotion-tools")
    add_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except DatasetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
