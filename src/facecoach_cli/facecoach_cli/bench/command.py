"""`facecoach bench`: every measurement in one run, its JSON document and table (``python -m facecoach_cli.bench``)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import random
import sys
from pathlib import Path
from typing import Any, Dict, Sequence

from ..errors import CommandError, run_command
from ..logs import LOG_DIR_HELP, log_dir
from ..sample import bundled_sample
from .backends import backend_latencies
from .dds import graph_benchmark
from .detector import recall_vs_naive
from .frames import frame_rate, load_frames, summary
from .in_process import classify_ms, int8_native, run_pipelines, single_thread
from .live import live_graph_run
from .targets import check_targets, format_table

log = logging.getLogger(__name__)


def benchmark(args) -> Dict[str, Any]:
    """Every measurement, in one run; returns the JSON document."""
    import cv2
    import torch

    from emotion_classifier.config import default_models_dir
    from emotion_classifier.inference import EmotionClassifier, available_variants, variant_path
    from face_detector.detector import DetectorConfig

    from ..pipeline import settings_from_graph

    bag = Path(args.bag) if args.bag else bundled_sample()
    topic, frames = load_frames(bag, args.frames)
    if not frames:
        raise CommandError(f"{bag}: no frames on {topic}")
    models_dir = Path(args.models_dir or default_models_dir())
    variants = available_variants(models_dir)
    if args.variant not in variants:
        raise CommandError(f"variant {args.variant!r} not in {models_dir} (found: {variants or 'none'})")
    single_thread()
    doc: Dict[str, Any] = {
        "bag": str(bag),
        "topic": topic,
        "frames": len(frames),
        "bag_fps": round(frame_rate(frames), 3),
        "variant": args.variant,
        "threads": {"cv2": cv2.getNumThreads(), "torch": torch.get_num_threads()},
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "cores": os.cpu_count(),
            "load_avg_at_start": [round(v, 2) for v in os.getloadavg()],
        },
        "command": "facecoach bench " + " ".join(sys.argv[2:] if sys.argv[1:2] == ["bench"] else sys.argv[1:]),
    }
    flip_tta = settings_from_graph().flip_tta  # classify as the graph's classifier node does
    doc["flip_tta"] = flip_tta
    classifiers = {v: EmotionClassifier(variant_path(models_dir, v), flip_tta=flip_tta) for v in variants}

    log.info(f"optimized and naive (full-frame Haar every frame) pipelines on {len(frames)} frames ({args.variant})")
    fast, naive = run_pipelines(
        frames, [DetectorConfig(mode="fast"), DetectorConfig(mode="naive")], classifiers[args.variant]
    )
    stages = {k: summary(fast.stages[k]) for k in ("decode", "detect")}
    stages["detect_naive"] = summary(naive.stages["detect"])
    stages["classify"] = {v: summary(classify_ms(c, fast.crops)) for v, c in classifiers.items()}
    stages["publish"] = summary(fast.stages["publish"])
    recall = recall_vs_naive(fast.boxes, naive.boxes)
    doc.update(
        stages_ms=stages,
        pipeline_fps=round(fast.fps, 2),
        naive_fps=round(naive.fps, 2),
        speedup_vs_naive=round(fast.fps / naive.fps, 2) if naive.fps else None,
        face_recall_vs_naive=recall["recall"],
        recall_detail=recall,
    )
    log.info("native int8 vs fp32 latency")
    int8 = int8_native(models_dir, args.variant, fast.crops)
    doc["int8_native_speedup"] = int8["speedup"]
    doc["int8_native"] = int8
    del classifiers
    log.info("classify time per face on every backend")
    doc["backends"] = backend_latencies(models_dir, fast.crops, flip_tta)

    if args.no_graph:
        doc.update(
            realtime_factor=None,
            dropped_frames=None,
            e2e_latency_ms=None,
            rss_mb=None,
            switch_ms=None,
            single_process=None,
            live_graph=None,
        )
    else:
        log_dir = Path(args.log_dir)
        log.info(f"the default live graph on a {args.live_seconds:g} s video of the bag (camera on a file)")
        doc["live_graph"] = live_graph_run(frames, log_dir / "live", args.live_seconds, args.timeout)
        g = graph_benchmark(args, bag, topic, frames, variants, args.variant, log_dir)
        sep, one = g["separate"], g["single_process"]
        rss = dict(sep["rss_mb"])
        rss["separate_total"] = round(sum(rss.values()), 1)
        rss["single_process"] = one["rss_mb"]["single_process"]
        rss["single_process_saving"] = round(1 - rss["single_process"] / rss["separate_total"], 3)
        doc.update(
            realtime_factor={
                "1x": sep["1x"]["realtime_factor"],
                "max": sep["max"]["realtime_factor"],
                "max_rate": args.max_rate,
            },
            dropped_frames={"1x": sep["1x"]["dropped"], "max": sep["max"]["dropped"]},
            e2e_latency_ms=sep["1x"]["e2e_latency_ms"],
            rss_mb=rss,
            switch_ms=sep.get("switch_ms", {}),
            graph_runs={"separate": {k: sep[k] for k in ("cold_1x", "1x", "max") if k in sep}},
            single_process={k: one[k] for k in ("cold_1x", "1x", "max") if k in one},
            nodes_died={k: v for k, v in (("separate", sep["dead"]), ("single_process", one["dead"])) if v},
        )
    doc["targets"] = check_targets(doc)
    return doc


def cmd_bench(args) -> int:
    """Run the benchmark, print its table and write the JSON."""
    if args.domain_id is not None:
        os.environ["ROS_DOMAIN_ID"] = str(args.domain_id)
    elif not args.no_graph:
        # A private DDS domain: another graph on this machine must not feed or eat the bench's messages.
        os.environ["ROS_DOMAIN_ID"] = str(random.randint(150, 230))
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    _progress_to_stderr()
    doc = benchmark(args)
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(doc, indent=2, default=str))
    print(format_table(doc))
    print(f"wrote {args.json}")
    return 0


def _progress_to_stderr() -> None:
    """The bench's progress lines (``[bench] ...``) on stderr, once per process."""
    progress = logging.getLogger(__package__)
    if not progress.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("[bench] %(message)s"))
        progress.addHandler(handler)
        progress.setLevel(logging.INFO)
        progress.propagate = False


def add_commands(subparsers) -> None:
    """Register `bench` on the facecoach command's sub-parsers."""
    p = subparsers.add_parser(
        "bench",
        help="measure every stage, the pipeline and the DDS graph, against the targets",
        description=cmd_bench.__doc__,
    )
    p.add_argument("--json", required=True, help="write the results here")
    p.add_argument("--bag", help="another bag (default: the bundled sample interview)")
    p.add_argument("--frames", type=int, default=0, help="use only the first N frames (0: all)")
    p.add_argument("--variant", default="baseline", help="classifier variant of the pipeline and the graph")
    p.add_argument("--models-dir", help="weight files (default: the classifier node's)")
    p.add_argument(
        "--max-rate",
        type=float,
        default=10.0,
        help="replay factor of the as-fast-as-possible run (far above what the graph can process)",
    )
    p.add_argument(
        "--cold-frames",
        type=int,
        default=300,
        help="frames of the first 1x replay right after start, reported apart as cold_1x (0: none)",
    )
    p.add_argument("--no-graph", action="store_true", help="in-process measurements only (no DDS, no processes)")
    p.add_argument("--live-seconds", type=float, default=20.0, help="steady-state seconds of the live camera graph run")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for a graph to come up")
    p.add_argument(
        "--domain-id", type=int, help="ROS_DOMAIN_ID of the bench's graphs (default: a random one in 150..230)"
    )
    p.add_argument("--log-dir", default=str(log_dir("bench")), help=f"node output {LOG_DIR_HELP.format('bench')}")
    p.set_defaults(func=cmd_bench)


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m facecoach_cli.bench --json OUT ...` (the same as `facecoach bench`)."""
    parser = argparse.ArgumentParser(prog="facecoach")
    add_commands(parser.add_subparsers(dest="command", required=True))
    return run_command(parser, ["bench", *(sys.argv[1:] if argv is None else argv)])
