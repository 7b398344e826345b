"""The `eval-bag` and `report` commands: replay a recorded interview through the pipeline, report on it.

Exit codes: 0 done; 1 a partial result (frames skipped or the bag ended early; the lines say which);
2 nothing could be evaluated (missing/empty/corrupt bag, no image topic, no model), with a one-line error
(``facecoach eval-bag: <why>``).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path
from typing import List, Optional

from facecoach_bag.errors import BagError

from ..errors import CommandError, run_command

EXIT_PARTIAL = 1


def _variants(arg: str, models_dir: str) -> List[str]:
    """The variants to run: one name, or every weight file in the models folder (baseline first)."""
    from emotion_classifier.inference import available_variants

    from ..bag_eval import BASELINE

    if arg != "all":
        return [arg]
    found = available_variants(models_dir)
    if BASELINE not in found:
        raise BagError(f"--variant all: no {BASELINE}.safetensors in {models_dir} to compare against")
    return [BASELINE] + [v for v in found if v != BASELINE]


def eval_bag(
    bag,
    variant: str,
    out,
    models_dir: str | None = None,
    topic: str | None = None,
    limit: int = 0,
    progress: bool = True,
    stream=None,
    smoothing_frames: Optional[int] = None,
    calibrate_seconds: Optional[float] = None,
) -> int:
    """Run eval-bag and write the results; return the exit code (errors raise)."""
    stream = stream or sys.stdout
    from ..bag_eval import agreement_table, evaluate_bag
    from ..eval_compare import coaching_line, stability
    from ..eval_results import variant_out, write_jsonl
    from ..pipeline import settings_from_graph

    settings = settings_from_graph(variant=None if variant == "all" else variant, models_dir=models_dir)
    if smoothing_frames is not None:
        settings = replace(settings, smoothing_frames=smoothing_frames)
    if calibrate_seconds is not None:
        return _eval_calibrated(bag, settings, variant, out, calibrate_seconds, topic, limit, progress, stream)
    variants = _variants(variant, settings.models_dir)
    results = evaluate_bag(bag, settings, variants, topic=topic, limit=limit, progress=progress)
    for r in results:
        path = variant_out(out, r.variant) if variant == "all" else Path(out)
        write_jsonl(path, r.lines)
        cues = sum(1 for x in r.frames if x["cue"])
        print(f"[facecoach] {r.variant}: {len(r.frames)} frames, {cues} cue(s) -> {path}", file=stream)
        st = stability(r.frames, segments_beside(bag))
        acc = (
            f", per-frame accuracy {st['accuracy']:.1%} on {st['labelled']} labelled face frames"
            if st["labelled"]
            else ""
        )
        print(
            f"[facecoach] {r.variant}: smoothing {settings.smoothing_frames} frame(s): "
            f"{st['flips_per_minute']:.1f} label flips a minute{acc}",
            file=stream,
        )
        if coaching_line(st):
            print(f"[facecoach] {r.variant}: {coaching_line(st)}", file=stream)
    if variant == "all":
        print(agreement_table(results), file=stream)
    first = results[0]
    if first.duplicates:
        print(f"[facecoach] {first.duplicates} duplicate frame(s) dropped, as the face detector node does", file=stream)
    if first.partial:
        reasons = sorted({x["error"] for x in first.errors})
        print(
            f"[facecoach] PARTIAL result: {len(first.errors)} error line(s) in the results: {reasons[0]}"
            + (f" (+{len(reasons) - 1} more kinds)" if len(reasons) > 1 else ""),
            file=sys.stderr,
        )
        return EXIT_PARTIAL
    return 0


def _eval_calibrated(
    bag, settings, variant: str, out, seconds: float, topic, limit: int, progress: bool, stream
) -> int:
    """eval-bag --calibrate-seconds: calibrate on the bag's start, compare with and without on the rest."""
    from ..bag_eval import evaluate_calibrated
    from ..eval_compare import calibration_comparison, comparison_table
    from ..eval_results import variant_out, write_jsonl

    if variant == "all":
        raise CommandError("--calibrate-seconds compares one variant with and without calibration, not --variant all")
    if not 0 < seconds <= 600:
        raise CommandError(f"--calibrate-seconds {seconds:g}: must be > 0 and at most 600")
    run = evaluate_calibrated(bag, settings, variant, seconds, topic=topic, limit=limit, progress=progress)
    plain_out = variant_out(out, "uncalibrated")
    write_jsonl(out, run.calibrated.lines)
    write_jsonl(plain_out, run.uncalibrated.lines)
    cal = run.calibration
    print(f"[facecoach] calibrated on the first {seconds:g} s: {cal.summary()}; bias {cal.bias_text()}", file=stream)
    print(f"[facecoach] {variant}: calibrated -> {out}, uncalibrated -> {plain_out}", file=stream)
    print(comparison_table(calibration_comparison(run, segments_beside(bag)), cal.class_names), file=stream)
    if run.calibrated.partial:
        print(f"[facecoach] PARTIAL result: {len(run.calibrated.errors)} error line(s) in the results", file=sys.stderr)
        return EXIT_PARTIAL
    return 0


def segments_beside(bag) -> Optional[Path]:
    """``<bag>.segments.json`` next to the bag folder (what make-sample writes), when there is one."""
    path = Path(str(Path(bag)).rstrip("/") + ".segments.json")
    return path if path.is_file() else None


def cmd_eval_bag(args: argparse.Namespace) -> int:
    """Run the pipeline in process over a bag's frames and write one JSON line per frame."""
    try:
        return eval_bag(
            args.bag,
            args.variant,
            args.out,
            args.models_dir,
            args.topic,
            args.max_frames,
            progress=not args.no_progress,
            smoothing_frames=args.smoothing_frames,
            calibrate_seconds=args.calibrate_seconds,
        )
    except (ValueError, OSError) as exc:  # a frame that cannot be decoded, a results file that cannot be written
        raise CommandError(str(exc)) from exc


def report(
    source,
    out_dir,
    models_dir: str | None = None,
    topic: str | None = None,
    limit: int = 0,
    progress: bool = True,
    stream=None,
) -> int:
    """Write the session report of a bag (evaluated with the baseline first) or of a results file."""
    stream = stream or sys.stdout
    from ..bag_eval import BASELINE
    from ..eval_results import read_jsonl
    from ..session_report import format_summary, write_report

    source, out = Path(source), Path(out_dir)
    code = 0
    if source.is_file() and source.suffix in (".jsonl", ".json"):
        lines = read_jsonl(source)
    else:
        results = out / "results.jsonl"
        code = eval_bag(source, BASELINE, results, models_dir, topic, limit, progress, stream)
        lines = read_jsonl(results)
    summary = write_report(lines, out, title=f"FaceCoach session report: {source.name}")
    print(format_summary(summary), file=stream)
    print(f"[facecoach] report: {out / 'report.html'} ({out / 'report.png'}, {out / 'report.json'})", file=stream)
    return EXIT_PARTIAL if summary["partial"] else code


def cmd_report(args: argparse.Namespace) -> int:
    """Write the report of a recorded session, or report.png, report.html and report.json for a bag or results."""
    from facecoach_bag.session_files import is_session

    from ..session_store import resolve
    from .sessions import report_session

    session = resolve(args.source)
    if is_session(session):
        return report_session(str(session), args.out)
    if not args.out:
        if not session.exists():
            raise CommandError(f"{args.source}: no such session (`facecoach sessions` lists them) or bag")
        raise CommandError(f"{args.source}: not a session folder (a bag or results file needs --out DIR)")
    try:
        return report(
            args.source, args.out, args.models_dir, args.topic, args.max_frames, progress=not args.no_progress
        )
    except (ValueError, OSError) as exc:  # a frame that cannot be decoded, a results file that cannot be written
        raise CommandError(str(exc)) from exc


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--models-dir", help="folder of <variant>.safetensors (default: the graph's, else models/)")
    p.add_argument("--topic", help="image topic (default: the bag's only Image/CompressedImage topic)")
    p.add_argument("--max-frames", type=int, default=0, help="stop after this many frames (0: all)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def add_commands(subparsers) -> None:
    """Register `eval-bag` and `report` on the facecoach command's sub-parsers."""
    p = subparsers.add_parser(
        "eval-bag",
        help="run the pipeline in process over a bag; one JSON line per frame",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("bag", help="rosbag2 folder (or its .mcap file)")
    p.add_argument("--variant", default="baseline", help="weights to run, or 'all' to compare every variant")
    p.add_argument("--out", required=True, help="RESULTS.jsonl (with --variant all: RESULTS.<variant>.jsonl each)")
    p.add_argument(
        "--smoothing-frames",
        type=int,
        choices=range(1, 31),
        metavar="N",
        help="the classifier's smoothing_frames (1..30; default: the graph's)",
    )
    p.add_argument(
        "--calibrate-seconds",
        type=float,
        metavar="S",
        help="calibrate to the person on the face frames of the bag's first S seconds (as `facecoach calibrate` "
        "does live), then compare with and without calibration on the rest; --out gets the calibrated run, "
        "RESULTS.uncalibrated.jsonl the other",
    )
    _common(p)
    p.set_defaults(func=cmd_eval_bag)

    p = subparsers.add_parser(
        "report",
        help="session report (PNG, HTML, JSON) of a bag or an eval-bag result",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "source",
        metavar="SESSION|BAG|RESULTS.jsonl",
        help="a recorded session (its name, as `facecoach sessions` lists it, or its folder): the report of what "
        "was coached; or a bag of camera images (evaluated with the baseline first) or eval-bag results",
    )
    p.add_argument(
        "--out", help="folder for report.html, report.png, report.json (a session's: its own folder by default)"
    )
    _common(p)
    p.set_defaults(func=cmd_report)


def main(argv: List[str] | None = None) -> int:
    """Run one of these commands on its own (``python -m facecoach_cli.commands.session eval-bag ...``)."""
    parser = argparse.ArgumentParser(prog="facecoach")
    add_commands(parser.add_subparsers(dest="command", required=True, metavar="COMMAND"))
    return run_command(parser, argv)


if __name__ == "__main__":
    sys.exit(main())
