"""eval-bag: the pipeline over every frame of a bag, in process and deterministic; results as JSON lines.

One line per frame in bag order: ``stamp_ns`` (the image header's stamp), ``face``, ``roi`` [x, y, w, h],
``label``, ``confidence``, ``probabilities``, ``category``, ``cue``, ``reason``, ``bad_share``. A frame the
live graph would skip (it cannot be decoded, OpenCV fails on it) gets a line with only ``stamp_ns`` and
``error``; a bag that ends early (truncated or corrupt) gets a last line with ``stamp_ns`` null and ``error``.
Either makes the result partial. Timings are kept out of the lines so that two runs give identical files.
"""

from __future__ import annotations

import json
import os
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Sequence, Tuple

import numpy as np

from facecoach_bag.errors import BagError
from facecoach_bag.reader import image_topic, messages, topics
from facecoach_bag.schema import IMAGE_TYPES, typestore
from facecoach_common.stamps import stamp_to_ns

from .pipeline import FrameError, Pipeline, PipelineSettings

BASELINE = "baseline"


@dataclass
class BagFrame:
    """One image message of a bag: its header stamp and frame_id, and the BGR frame or why it is unusable."""

    stamp_ns: int
    frame_id: str
    image: np.ndarray | None
    error: str = ""


@dataclass
class RunResult:
    """What one variant produced over a bag."""

    variant: str
    lines: List[Dict[str, Any]] = field(default_factory=list)
    latency_ms: List[float] = field(default_factory=list)
    duplicates: int = 0
    truncated: str = ""

    @property
    def frames(self) -> List[Dict[str, Any]]:
        """The decided frames (lines without an error)."""
        return [x for x in self.lines if "error" not in x]

    @property
    def errors(self) -> List[Dict[str, Any]]:
        """The error lines (skipped frames, a truncated bag)."""
        return [x for x in self.lines if "error" in x]

    @property
    def partial(self) -> bool:
        """True when a frame was skipped or the bag ended early."""
        return bool(self.errors)


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


def write_jsonl(path, lines: Sequence[Dict[str, Any]]) -> None:
    """Write result lines (written to a temporary file first, so a crash leaves no half file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w") as f:
        for line in lines:
            f.write(json.dumps(line, sort_keys=True) + "\n")
    os.replace(tmp, path)


def read_jsonl(path) -> List[Dict[str, Any]]:
    """Read result lines; BagError naming the line when the file is not eval-bag output."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise BagError(f"{path}: cannot read results ({exc.strerror})") from exc
    lines = []
    for i, raw in enumerate(text.splitlines(), 1):
        if not raw.strip():
            continue
        try:
            line = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise BagError(f"{path}:{i}: not a JSON line ({exc.msg})") from exc
        if not isinstance(line, dict) or "stamp_ns" not in line:
            raise BagError(f"{path}:{i}: not an eval-bag result line (no stamp_ns)")
        if "error" not in line:
            missing = {"face", "label", "category", "cue"} - set(line)
            if missing:
                raise BagError(f"{path}:{i}: result line lacks {sorted(missing)}")
        lines.append(line)
    return lines


def variant_out(out, variant: str) -> Path:
    """RESULTS.jsonl -> RESULTS.<variant>.jsonl."""
    out = Path(out)
    suffix = out.suffix or ".jsonl"
    return out.with_name(f"{out.stem if out.suffix else out.name}.{variant}{suffix}")


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


def stability(frames: Sequence[Dict[str, Any]], segments_file=None, t0_ns: int | None = None) -> Dict[str, Any]:
    """Label flips a minute over consecutive face frames, and per-frame accuracy against a segments file.

    ``segments_file`` (what make-sample writes beside a bag) names the expression of each stretch, in
    seconds from ``t0_ns`` (default: the first frame's stamp); frames within 0.3 s of a segment's edges are
    left out (the drift between two faces).
    """
    faces = [x for x in frames if x.get("face")]
    flips = sum(1 for a, b in zip(faces, faces[1:]) if a["label"] != b["label"])
    span_s = (frames[-1]["stamp_ns"] - frames[0]["stamp_ns"]) / 1e9 if len(frames) > 1 else 0.0
    out = {"flips": flips, "flips_per_minute": 60.0 * flips / span_s if span_s > 0 else 0.0, "labelled": 0}
    if segments_file is None or not frames:
        return out
    segments = json.loads(Path(segments_file).read_text())["segments"]
    t0, hits, labelled = frames[0]["stamp_ns"] if t0_ns is None else t0_ns, 0, 0
    for x in faces:
        t = (x["stamp_ns"] - t0) / 1e9
        seg = next((s for s in segments if s["start_s"] + 0.3 <= t < s["end_s"] - 0.3 and s["emotion"]), None)
        if seg is not None:
            labelled += 1
            hits += x["label"] == seg["emotion"]
    out.update(labelled=labelled, accuracy=hits / labelled if labelled else float("nan"))
    return out


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


def calibration_comparison(run: CalibratedRun, segments_file=None) -> Dict[str, Any]:
    """Both runs on the frames after the cut-off: label shares, accuracy (with segments), flips, cues."""
    out: Dict[str, Any] = {"cutoff_s": (run.cutoff_ns - run.start_ns) / 1e9}
    for key, r in (("uncalibrated", run.uncalibrated), ("calibrated", run.calibrated)):
        rest = [x for x in r.frames if x["stamp_ns"] >= run.cutoff_ns]
        faces = [x for x in rest if x["face"]]
        shares: Dict[str, float] = {}
        for x in faces:
            shares[x["label"]] = shares.get(x["label"], 0) + 1.0 / len(faces)
        st = stability(rest, segments_file, run.start_ns) if rest else {"flips_per_minute": 0.0, "labelled": 0}
        out[key] = {
            "frames": len(rest),
            "face_frames": len(faces),
            "label_share": dict(sorted(shares.items())),
            "cues": sum(1 for x in rest if x["cue"]),
            "flips_per_minute": st["flips_per_minute"],
            "labelled": st["labelled"],
            "accuracy": st.get("accuracy"),
        }
    return out


def comparison_table(cmp: Dict[str, Any], class_names: Sequence[str]) -> str:
    """The printed with/without table of :func:`calibration_comparison`."""
    a, b = cmp["uncalibrated"], cmp["calibrated"]
    rows = [("face frames", str(a["face_frames"]), str(b["face_frames"]))]
    for c in class_names:
        rows.append((f"read as {c}", f"{a['label_share'].get(c, 0.0):.1%}", f"{b['label_share'].get(c, 0.0):.1%}"))
    if a["labelled"]:
        rows.append((f"accuracy ({a['labelled']} labelled)", f"{a['accuracy']:.1%}", f"{b['accuracy']:.1%}"))
    rows.append(("label flips a minute", f"{a['flips_per_minute']:.1f}", f"{b['flips_per_minute']:.1f}"))
    rows.append(("cues", str(a["cues"]), str(b["cues"])))
    head = f"{'after ' + format(cmp['cutoff_s'], '.1f') + ' s':<26} {'uncalibrated':>12} {'calibrated':>11}"
    return "\n".join([head, "-" * len(head)] + [f"{r[0]:<26} {r[1]:>12} {r[2]:>11}" for r in rows])
