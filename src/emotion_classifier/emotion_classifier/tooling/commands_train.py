"""``train``: the baseline model, optionally distilled from teacher weight files."""

import argparse
from pathlib import Path

from ..labels import CLASSES
from ..model import count_params
from ..weights import load_model, save_model
from .commands_common import command_line
from .data import load_faces
from .train import TrainConfig, accuracy, train


def cmd_train(args: argparse.Namespace) -> int:
    """Train the baseline model on the train split, choosing the epoch on the validation split."""
    train_set = load_faces(args.data, "train")
    val_set = load_faces(args.data, "val")
    print(f"train {len(train_set)} faces, val {len(val_set)} faces, classes {list(CLASSES)}")
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
        "command": command_line(args),
        "train_config": cfg.__dict__,
        "teachers": [Path(t).name for t in args.teacher],
        "init": Path(args.init).name if args.init else "",
        "val_accuracy": round(accuracy(model, val_set), 4),
    }
    out = save_model(args.out, model, meta)
    print(f"wrote {out} ({count_params(model):,} parameters, val accuracy {meta['val_accuracy']:.4f})")
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``train``."""
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
    p.add_argument("--teacher", action="append", default=[], help="weight file to distil from (repeat for an ensemble)")
    p.add_argument("--distill-alpha", type=float, default=0.7, help="weight of the teachers' soft targets")
    p.add_argument("--distill-temperature", type=float, default=4.0)
    p.add_argument("--mixup-alpha", type=float, default=0.0, help="mixup Beta(a, a) (0: off)")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=cmd_train)
