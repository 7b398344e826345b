"""eval-bag: the pipeline over every frame of a bag, in process and deterministic, and the summary of a run.

Each variant's run is a ``RunResult`` of JSON lines (``eval_results`` says what a line holds); the summary
compares every variant with the baseline (``agreement_table``). ``eval_compare`` compares a run with and
without calibration.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterator, List, Sequence, Tuple

import numpy as np

from facecoach_bag.errors import BagError
from facecoach_bag.reader import image_topic, messages, topics
from facecoach_bag.schema import IMAGE_TYPES, typestore
from facecoach_common.stamps import stamp_to_ns

from .eval_results import RunResult
from .pipeline import FrameError, Pipeline, PipelineSettings

BASELINE = "baseline"


@dataclass
class BagFrame:
    """One image message of a bag: its header stamp and frame_id, and the BGR frame or why it is unusable."""

    stamp_ns: int
    frame_id: str
    image: np.ndarray | None
    error: str = ""


def pick_topic(bag, topic: str | None = None) -> Tuple[str, str, int]:
    """(name, type, message count) of the image topic to evaluate, with a clear BagError when there is none."""
    found = [t for t in topics(bag) if t.msgtype in IMAGE_TYPES]
    if not found and not topic:
        names = [t.name for t in topics(bag)]
        raise BagError(
            f"{bag}: no sensor_msgs/Image or CompressedImage topic"
            + (f" (topics: {names})" if names else " (empty bag)")
        )
    t = image_topic(bag, topic)
    if t.count == 0:
        raise BagError(f"{bag}: image topic {t.name} has no messages")
    return t.name, t.msgtype, t.count


def bag_frames(bag, topic: str, limit: int = 0) -> Iterator[BagFrame]:
    """The frames of ``topic`` in bag order; a bag that ends early raises BagError after the good frames."""
    from face_detector.stage import DetectStage

    ts = typestore()
    for n, (_topic, msgtype, _t_ns, raw) in enumerate(messages(bag, [topic])):
        if limit and n >= limit:
            return
        try:
            msg = ts.deserialize_cdr(raw, msgtype)
        except Exception as exc:  # rosbags raises assorted errors on bad CDR: one frame is lost, not the run
            yield BagFrame(0, "", None, f"cdr: message {n} cannot be deserialized ({exc})")
            continue
        stamp_ns = stamp_to_ns(msg.header.stamp)
        try:
            yield BagFrame(stamp_ns, str(msg.header.frame_id), DetectStage.decode(msg))
        except FrameError as exc:
            yield BagFrame(stamp_ns, str(msg.header.frame_id), None, f"{exc.reason}: {exc}")


def run_pipelines(
    frames: Iterator[BagFrame],
    pipelines: Sequence[Pipeline],
    progress: Callable[[], None] | None = None,
    before_frame: Callable[[int], None] | None = None,
) -> List[RunResult]:
    """Run every pipeline over the frames (detection once, shared: it does not depend on the classifier).

    ``before_frame(stamp_ns)`` runs before each decodable frame is decided (the calibration's cut-off).
    """
    results = [RunResult(p.variant) for p in pipelines]
    stage = pipelines[0].detect_stage  # detection (and its duplicate memory) shared by every variant
    try:
        for frame in frames:
            if progress:
                progress()
            if frame.error == "" and stage.is_duplicate(frame.stamp_ns, frame.frame_id):
                for r in results:  # the node drops a frame it already saw (raw + compressed of one camera)
                    r.duplicates += 1
                continue
            if frame.error:
                for r in results:
                    r.lines.append({"stamp_ns": frame.stamp_ns, "error": frame.error})
                continue
            if before_frame is not None:
                before_frame(frame.stamp_ns)
            try:
                detection = pipelines[0].detect(frame.image)
                lines = [p.decide(detection, frame.stamp_ns) for p in pipelines]
            except FrameError as exc:
                for r in results:
                    r.lines.append({"stamp_ns": frame.stamp_ns, "error": f"{exc.reason}: {exc}"})
                continue
            for p, r, line in zip(pipelines, results, lines):
                r.lines.append(line)
                r.latency_ms.append(p.last_ms["total"])
    except BagError as exc:
        for r in results:
            r.truncated = str(exc)
            r.lines.append({"stamp_ns": None, "error": f"bag ended early: {exc}"})
    return results


def agreement(baseline: RunResult, other: RunResult) -> Dict[str, Any]:
    """Label agreement with the baseline over the frames both decided (no face = the empty label), cues, latency."""
    base = {x["stamp_ns"]: x["label"] for x in baseline.frames}
    common = [x for x in other.frames if x["stamp_ns"] in base]
    same = sum(1 for x in common if x["label"] == base[x["stamp_ns"]])
    face = [x for x in common if x["face"] or base[x["stamp_ns"]]]
    same_face = sum(1 for x in face if x["label"] == base[x["stamp_ns"]])
    return {
        "variant": other.variant,
        "frames": len(common),
        "label_agreement": same / len(common) if common else float("nan"),
        "face_label_agreement": same_face / len(face) if face else float("nan"),
        "cues": sum(1 for x in other.frames if x["cue"]),
        "median_latency_ms": statistics.median(other.latency_ms) if other.latency_ms else float("nan"),
    }


def agreement_table(results: Sequence[RunResult]) -> str:
    """The printed table: each variant against the baseline (the first result)."""
    rows = [agreement(results[0], r) for r in results]
    head = f"{'variant':<12} {'frames':>6} {'labels agree':>12} {'on faces':>9} {'cues':>5} {'median ms':>10}"
    out = [head, "-" * len(head)]
    for row in rows:
        out.append(
            f"{row['variant']:<12} {row['frames']:>6} {row['label_agreement']:>11.1%} "
            f"{row['face_label_agreement']:>8.1%} {row['cues']:>5} {row['median_latency_ms']:>10.2f}"
        )
    return "\n".join(out)


def evaluate_bag(
    bag,
    settings: PipelineSettings,
    variants: Sequence[str],
    topic: str | None = None,
    limit: int = 0,
    progress: bool = True,
) -> List[RunResult]:
    """Run the variants over a bag's image topic; BagError when nothing in it can be evaluated."""
    from tqdm import tqdm

    name, _msgtype, count = pick_topic(bag, topic)
    pipelines = [Pipeline.from_settings(settings, v) for v in variants]
    total = min(count, limit) if limit else count
    with tqdm(total=total, unit="frame", desc=f"eval {name}", disable=None if progress else True, leave=False) as bar:
        results = run_pipelines(bag_frames(bag, name, limit), pipelines, lambda: bar.update(1))
    first = results[0]
    if not first.frames:
        reason = first.errors[0]["error"] if first.errors else "no frames"
        raise BagError(f"{bag}: no frame of {name} could be evaluated ({reason})")
    return results


@dataclass
class CalibratedRun:
    """eval-bag --calibrate-seconds: the same variant without and with a calibration fitted on the bag's start."""

    uncalibrated: RunResult
    calibrated: RunResult
    calibration: Any  # emotion_classifier.calibration.Calibration
    start_ns: int  # the first frame's stamp
    cutoff_ns: int  # frames from here on are the evaluated rest


def evaluate_calibrated(
    bag,
    settings: PipelineSettings,
    variant: str,
    seconds: float,
    topic: str | None = None,
    limit: int = 0,
    progress: bool = True,
) -> CalibratedRun:
    """Calibrate on the face frames of the bag's first ``seconds`` (by stamp), then run on the rest.

    The calibrated pipeline records its uncorrected probabilities until the cut-off, fits the calibration
    there (``calibration.fit``, as the node's ~/calibrate does) and applies it to every later frame; the
    uncalibrated one runs beside it on the same detections. BagError when the start has too few faces.
    """
    from dataclasses import replace

    from tqdm import tqdm

    from emotion_classifier import calibration

    name, _msgtype, count = pick_topic(bag, topic)
    plain = replace(settings, calibration_file="")
    without, with_cal = (Pipeline.from_settings(plain, variant) for _ in range(2))
    with_cal.classify_stage.start_recording()
    state: Dict[str, Any] = {"start": None, "cutoff": None, "calibration": None, "error": None}

    def before_frame(stamp_ns: int) -> None:
        if state["start"] is None:
            state["start"], state["cutoff"] = stamp_ns, stamp_ns + int(seconds * 1e9)
        stage = with_cal.classify_stage
        if stage.recording is not None and stamp_ns >= state["cutoff"]:
            recorded = stage.stop_recording()
            c = stage.classifier
            try:
                state["calibration"] = calibration.fit(recorded, c.class_names, c.variant, seconds)
            except calibration.CalibrationError as exc:
                state["error"] = str(exc)
            stage.calibration = state["calibration"]

    total = min(count, limit) if limit else count
    with tqdm(total=total, unit="frame", desc=f"eval {name}", disable=None if progress else True, leave=False) as bar:
        results = run_pipelines(bag_frames(bag, name, limit), [without, with_cal], lambda: bar.update(1), before_frame)
    if state["calibration"] is None:
        why = state["error"] or "the bag ends before the calibration does"
        raise BagError(f"{bag}: --calibrate-seconds {seconds:g}: cannot calibrate on the first {seconds:g} s ({why})")
    results[0].variant, results[1].variant = f"{variant} uncalibrated", f"{variant} calibrated"
    return CalibratedRun(results[0], results[1], state["calibration"], state["start"], state["cutoff"])
