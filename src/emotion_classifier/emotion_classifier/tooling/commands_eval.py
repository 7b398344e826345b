"""The commands that measure variants: ``eval`` (accuracy, size, latency) and ``export`` (ONNX, checked)."""

import argparse
import json
from pathlib import Path

import numpy as np

from ..inference import BACKENDS
from ..labels import CLASSES
from ..weights import load_model
from .commands_common import command_line, positive_int
from .data import DatasetError, load_faces, subset
from .evaluate import detector_face_finder, evaluate_variants, format_table, variant_files
from .export import export_onnx, onnx_max_abs_diff


def _coach_defaults() -> dict:
    """The alert node's defaults: the paper's mapping, its bad-probability threshold and label-rule confidence."""
    from alert_player.mapping import DEFAULT_MAPPING
    from alert_player.policy import PolicyConfig

    policy = PolicyConfig()
    return {
        "mapping": dict(DEFAULT_MAPPING),
        "bad_threshold": policy.bad_probability,
        "min_confidence": policy.min_confidence,
    }


def cmd_eval(args: argparse.Namespace) -> int:
    """Evaluate one variant or all of them on an npz/csv/image folder; write JSON and print a table."""
    files = variant_files(args.models_dir, args.variant, args.backend)
    faces = subset(load_faces(args.data, args.split, face_finder=detector_face_finder()), args.limit)
    if len(faces) == 0:
        raise DatasetError(f"{args.data}: no faces to evaluate ({faces.n_images} images read)")
    print(
        f"{args.data} ({'folder' if Path(args.data).is_dir() else args.split}): {faces.n_images} images, "
        f"{len(faces)} faces; variants {[p.stem for p in files]}"
    )
    coaching = _coach_defaults()
    if args.bad_threshold is not None:
        coaching["bad_threshold"] = args.bad_threshold
    results = evaluate_variants(
        files, faces, args.latency_runs, not args.no_progress, args.flip_tta, args.backend, coaching
    )
    doc = {
        "data": str(args.data),
        "split": args.split,
        "backend": args.backend,
        "command": command_line(args),
        "variants": results,
    }
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(doc, indent=2))
    print(format_table(results))
    if args.json:
        print(f"wrote {args.json}")
    return 0


def cmd_bad_threshold(args: argparse.Namespace) -> int:
    """The probability rule's recall/precision curve on one split (validation), and the threshold of best F1."""
    from ..inference import EmotionClassifier, variant_path
    from .coaching_metrics import average_precision, bad_probability, best_threshold, threshold_curve
    from .evaluate import predict_probs

    classifier = EmotionClassifier(variant_path(args.models_dir, args.variant), flip_tta=args.flip_tta)
    faces = load_faces(args.data, args.split)
    mapping = _coach_defaults()["mapping"]
    probs = predict_probs(classifier, faces.images, progress=not args.no_progress)
    curve = threshold_curve(probs, faces.labels, mapping)
    best = best_threshold(curve)
    truth = np.array([mapping[CLASSES[i]] == "bad" for i in faces.labels])
    ap = average_precision(bad_probability(probs, mapping), truth)
    print(f"{args.variant} on {args.split} ({len(faces)} faces, flip_tta {args.flip_tta}): bad AP {ap:.4f}")
    print(f"{'P(bad) >=':>10}{'recall':>8}{'prec.':>8}{'F1':>8}")
    for row in curve[4::5]:
        mark = "  <- best F1" if row["threshold"] == best else ""
        print(f"{row['threshold']:>10.2f}{row['recall']:>8.3f}{row['precision']:>8.3f}{row['f1']:>8.3f}{mark}")
    row = next(r for r in curve if r["threshold"] == best)
    print(
        f"best F1 {row['f1']:.3f} at P(bad) >= {best:g} (recall {row['recall']:.3f}, precision {row['precision']:.3f})"
    )
    if args.json:
        doc = {
            "command": command_line(args),
            "variant": args.variant,
            "split": args.split,
            "flip_tta": args.flip_tta,
            "mapping": mapping,
            "bad_average_precision": round(ap, 4),
            "best_threshold": best,
            "curve": curve,
        }
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(doc, indent=1))
        print(f"wrote {args.json}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """Export variants to ONNX beside their weights (float compute; int16/8/4 dequantized), checked with ORT."""
    out_dir = Path(args.out_dir or args.models_dir)
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
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report, indent=2))
    return 0 if all(r["max_abs_diff"] <= args.tolerance for r in report.values()) else 1


def cmd_quantize_onnx(args: argparse.Namespace) -> int:
    """Static int8 (QDQ) of an exported float ONNX model, calibrated on training faces: ONNX Runtime's CPU int8."""
    from .onnx_int8 import quantize_int8_qdq

    calib = subset(load_faces(args.data, "train"), args.calib_size, seed=args.seed)
    meta = {
        "variant": Path(args.out).stem,
        "bits": 8,
        "kernels": "onnxruntime-qdq",
        "command": command_line(args),
        "source": Path(args.src).name,
        "calibration": {"split": "train", "faces": len(calib), "seed": args.seed},
    }
    out = quantize_int8_qdq(args.src, args.out, calib, meta)
    print(f"wrote {out}: int8 QDQ, {out.stat().st_size / 1e6:.2f} MB, calibrated on {len(calib)} training faces")
    return 0


def cmd_eval_smoothing(args: argparse.Namespace) -> int:
    """Label flips a minute and per-frame accuracy with temporal smoothing, on perturbed clips of test faces."""
    from ..inference import EmotionClassifier, variant_path
    from .smoothing_eval import smoothing_effect

    classifier = EmotionClassifier(variant_path(args.models_dir, args.variant), flip_tta=args.flip_tta)
    faces = load_faces(args.data, args.split)
    settings = [int(v) for v in args.frames.split(",")]
    rows = smoothing_effect(classifier, faces, settings, args.clips, args.clip_frames, args.seed)
    print(f"{args.clips} clips of {args.clip_frames} perturbed frames ({args.split} faces), {args.variant}:")
    print(f"{'smoothing_frames':>17}{'flips/min':>11}{'accuracy %':>12}")
    for r in rows:
        print(f"{r['smoothing_frames']:>17}{r['flips_per_minute']:>11.1f}{100 * r['accuracy']:>12.2f}")
    if args.json:
        doc = {"command": command_line(args), "variant": args.variant, "split": args.split, "rows": rows}
        Path(args.json).write_text(json.dumps(doc, indent=2))
    return 0


def cmd_eval_calibration(args: argparse.Namespace) -> int:
    """Calibration to the user, with and without, on synthetic users built from test faces (see calibration_eval)."""
    from ..inference import EmotionClassifier, variant_path
    from .calibration_eval import evaluate_calibration, format_report, neutral_profile

    classifier = EmotionClassifier(variant_path(args.models_dir, args.variant), flip_tta=not args.no_flip_tta)
    faces = subset(load_faces(args.data, args.split), args.limit)
    print(
        f"{len(faces)} {args.split} faces, {args.users} users, {args.variant} (flip_tta {not args.no_flip_tta}); "
        f"holds: {args.hold} neutral faces, or one neutral face for 30 frames"
    )
    doc = evaluate_calibration(classifier, faces, args.users, args.hold, args.seed, progress=not args.no_progress)
    doc.update(command=command_line(args), variant=args.variant, split=args.split, flip_tta=not args.no_flip_tta)
    # The reference is the committed baseline's profile: how far this model's own one is from it.
    doc["method"]["model_profile"] = neutral_profile(classifier, load_faces(args.data, "train"))
    print(format_report(doc))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(doc, indent=1))
        print(f"wrote {args.json}")
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``eval``, ``bad-threshold``, ``export`` and the other measuring commands."""
    p = sub.add_parser("eval", help="evaluate weight variants (JSON + table)", description=cmd_eval.__doc__)
    p.add_argument("--data", required=True, help="FER2013 npz, Kaggle csv, or class-named image folders")
    p.add_argument(
        "--split", default="test", choices=("train", "val", "test"), help="npz/csv split (folders have none)"
    )
    p.add_argument("--variant", default="all", help="a file stem in --models-dir, or 'all'")
    p.add_argument("--models-dir", default="models")
    p.add_argument("--json", help="write the results here")
    p.add_argument("--limit", type=int, default=0, help="evaluate a random subset of this many faces")
    p.add_argument("--latency-runs", type=positive_int, default=200, help="timed single-face runs per variant")
    p.add_argument(
        "--flip-tta", action="store_true", help="average with the mirror image, as the node does with flip_tta:=true"
    )
    p.add_argument(
        "--backend", default="torch", choices=BACKENDS, help="torch: *.safetensors; onnxruntime: *.onnx (CPU)"
    )
    p.add_argument(
        "--bad-threshold", type=float, help="the probability rule's P(bad) threshold (default: the alert node's)"
    )
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser(
        "bad-threshold",
        help="choose the alert node's P(bad) threshold on the validation split",
        description=cmd_bad_threshold.__doc__,
    )
    p.add_argument("--data", required=True, help="FER2013 npz or Kaggle csv")
    p.add_argument("--split", default="val", choices=("train", "val", "test"))
    p.add_argument("--variant", default="baseline")
    p.add_argument("--models-dir", default="models")
    p.add_argument("--flip-tta", action="store_true", help="average with the mirror image (the node's default)")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--json", help="write the curve here (e.g. models/bad_threshold.json)")
    p.set_defaults(func=cmd_bad_threshold)

    p = sub.add_parser("export", help="ONNX export, checked with ONNX Runtime", description=cmd_export.__doc__)
    p.add_argument("--variant", default="all")
    p.add_argument("--models-dir", default="models")
    p.add_argument("--out-dir", help="where the .onnx files go (default: beside the weights, in --models-dir)")
    p.add_argument(
        "--opset", type=int, default=13, help="13: what TensorRT 8.2 and onnxruntime 1.10 (JetPack 4.6) take"
    )
    p.add_argument("--tolerance", type=float, default=1e-4, help="largest accepted logit difference")
    p.add_argument("--json", help="write the per-variant report (file, size, largest difference) here")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser(
        "quantize-onnx", help="static int8 (QDQ) ONNX model for ONNX Runtime", description=cmd_quantize_onnx.__doc__
    )
    p.add_argument("--src", default="models/baseline.onnx", help="float ONNX model (from `export`)")
    p.add_argument("--data", required=True, help="FER2013 npz or Kaggle csv (calibration faces from the train split)")
    p.add_argument("--out", default="models/int8_qdq.onnx")
    p.add_argument("--calib-size", type=int, default=500, help="calibration faces")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_quantize_onnx)

    p = sub.add_parser(
        "eval-smoothing",
        help="label flips and accuracy with temporal smoothing",
        description=cmd_eval_smoothing.__doc__,
    )
    p.add_argument("--data", required=True, help="FER2013 npz or Kaggle csv")
    p.add_argument("--split", default="test", choices=("train", "val", "test"))
    p.add_argument("--variant", default="baseline")
    p.add_argument("--models-dir", default="models")
    p.add_argument("--frames", default="1,3,5,9,15", help="smoothing_frames settings to compare")
    p.add_argument("--clips", type=int, default=300)
    p.add_argument("--clip-frames", type=int, default=60)
    p.add_argument("--flip-tta", action="store_true")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", help="write the rows here")
    p.set_defaults(func=cmd_eval_smoothing)

    p = sub.add_parser(
        "eval-calibration",
        help="calibration to the user, with and without, on synthetic users of test faces",
        description=cmd_eval_calibration.__doc__,
    )
    p.add_argument("--data", required=True, help="FER2013 npz or Kaggle csv")
    p.add_argument("--split", default="test", choices=("train", "val", "test"))
    p.add_argument("--variant", default="baseline")
    p.add_argument("--models-dir", default="models")
    p.add_argument("--users", type=int, default=12, help="simulated users (seeded conditions each)")
    p.add_argument("--hold", type=int, default=20, help="neutral faces in a user's calibration hold")
    p.add_argument("--limit", type=int, default=0, help="a random subset of this many faces (0: all)")
    p.add_argument("--no-flip-tta", action="store_true", help="no mirror averaging (the node's default is on)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--json", help="write the results here (e.g. models/eval_calibration.json)")
    p.set_defaults(func=cmd_eval_calibration)
