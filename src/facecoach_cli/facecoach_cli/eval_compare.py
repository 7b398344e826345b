"""eval-bag's comparisons on the results: label stability and accuracy, and a run with and without calibration."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List, Sequence

from alert_player.mapping import DEFAULT_MAPPING

from .bag_eval import CalibratedRun


def stability(
    frames: Sequence[Dict[str, Any]],
    segments_file=None,
    t0_ns: int | None = None,
    mapping: Dict[str, str] | None = None,
) -> Dict[str, Any]:
    """Label flips a minute over consecutive face frames, and per-frame accuracy against a segments file.

    With segments also the coaching metrics (:func:`coaching`) under ``mapping`` (default: the paper's).

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
    truth: List[str] = []
    for x in faces:
        t = (x["stamp_ns"] - t0) / 1e9
        seg = next((s for s in segments if s["start_s"] + 0.3 <= t < s["end_s"] - 0.3 and s["emotion"]), None)
        if seg is not None:
            labelled += 1
            hits += x["label"] == seg["emotion"]
            truth.append(seg["emotion"])
        else:
            truth.append("")
    out.update(labelled=labelled, accuracy=hits / labelled if labelled else float("nan"))
    out["coaching"] = coaching(faces, truth, mapping or DEFAULT_MAPPING)
    return out


def _scores(predicted: Sequence[bool], actual: Sequence[bool]) -> Dict[str, float]:
    tp = sum(1 for p, a in zip(predicted, actual) if p and a)
    recall = tp / max(1, sum(actual))
    precision = tp / max(1, sum(predicted))
    return {"recall": recall, "precision": precision, "support": sum(actual)}


def coaching(faces: Sequence[Dict[str, Any]], truth: Sequence[str], mapping: Dict[str, str]) -> Dict[str, Any]:
    """What the coach made of the labelled face frames, against the segments' expressions.

    Recall and precision of each category shown, and of the frames bad by the alert node's rule (``bad_frame``).
    """
    rows = [(x, mapping[t]) for x, t in zip(faces, truth) if t]
    out: Dict[str, Any] = {}
    for cat in ("good", "acceptable", "bad"):
        out[cat] = _scores([x["category"] == cat for x, _ in rows], [c == cat for _, c in rows])
    out["bad_frames"] = _scores([bool(x.get("bad_frame")) for x, _ in rows], [c == "bad" for _, c in rows])
    return out


def coaching_line(st: Dict[str, Any]) -> str:
    """One printed line of the coaching metrics ('' without labelled frames)."""
    c = st.get("coaching")
    if not c or not st.get("labelled"):
        return ""
    cats = ", ".join(
        f"{cat} {c[cat]['recall']:.0%}/{c[cat]['precision']:.0%}"
        for cat in ("good", "acceptable", "bad")
        if c[cat]["support"]
    )
    bad = c["bad_frames"]
    return (
        f"coaching (recall/precision): {cats}; bad frames by the alert rule {bad['recall']:.0%}/{bad['precision']:.0%}"
    )


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
