"""The session report: numbers from eval-bag result lines, a timeline PNG and a self-contained HTML page.

Each frame lasts until the next frame's stamp (the last one: the median frame period), so the shares
are shares of time even when frames were dropped. Error lines (skipped frames, a truncated bag) are
counted and flagged, never decided.
"""

from __future__ import annotations

import base64
import html
import json
import statistics
from collections import Counter
from pathlib import Path
from typing import Any, Dict, List, Sequence

CATEGORIES = ("good", "acceptable", "bad", "none")
COLOURS = {"good": "#2e7d32", "acceptable": "#f9a825", "bad": "#c62828", "none": "#9e9e9e"}
LABELS = {"good": "good", "acceptable": "acceptable", "bad": "bad", "none": "no face"}


def frame_durations(stamps_s: Sequence[float]) -> List[float]:
    """Seconds each frame lasts: until the next stamp; the last one the median period (0 for one frame)."""
    gaps = [b - a for a, b in zip(stamps_s, stamps_s[1:])]
    last = statistics.median(gaps) if gaps else 0.0
    return [max(0.0, g) for g in gaps] + ([last] if stamps_s else [])


def summarize(lines: Sequence[Dict[str, Any]]) -> Dict[str, Any]:
    """The report's numbers from eval-bag result lines."""
    frames = [x for x in lines if "error" not in x]
    errors = [x for x in lines if "error" in x]
    if not frames:
        return {
            "frames": 0,
            "skipped_frames": len(errors),
            "partial": bool(errors),
            "duration_s": 0.0,
            "share": {c: 0.0 for c in CATEGORIES},
            "cues": [],
            "longest_bad": None,
            "emotions": {},
        }
    t0 = frames[0]["stamp_ns"]
    times = [(x["stamp_ns"] - t0) / 1e9 for x in frames]
    durations = frame_durations(times)
    total = sum(durations)
    seconds = Counter()
    for x, d in zip(frames, durations):
        seconds[x["category"]] += d
    share = {c: (seconds[c] / total if total > 0 else 0.0) for c in CATEGORIES}
    cues = [
        {"t_s": round(t, 3), "reason": x.get("reason", ""), "label": x["label"], "bad_share": x.get("bad_share")}
        for x, t in zip(frames, times)
        if x["cue"]
    ]
    longest, start = None, None
    for i, x in enumerate(frames):
        if x["category"] == "bad" and start is None:
            start = i
        if start is not None and (x["category"] != "bad" or i == len(frames) - 1):
            end = i if x["category"] == "bad" else i - 1
            length = times[end] + durations[end] - times[start]
            if longest is None or length > longest["duration_s"] + 1e-9:
                longest = {
                    "start_s": round(times[start], 3),
                    "end_s": round(times[end] + durations[end], 3),
                    "duration_s": round(length, 3),
                    "frames": end - start + 1,
                }
            start = None
    labels = Counter(x["label"] for x in frames if x["face"])
    faces = sum(labels.values())
    return {
        "frames": len(frames),
        "skipped_frames": sum(1 for x in errors if x["stamp_ns"] is not None),
        "partial": bool(errors),
        "errors": sorted({x["error"] for x in errors})[:5],
        "start_stamp_ns": t0,
        "duration_s": round(total, 3),
        "share": {c: round(v, 6) for c, v in share.items()},
        "seconds": {c: round(seconds[c], 3) for c in CATEGORIES},
        "cues": cues,
        "longest_bad": longest,
        "emotions": {k: {"frames": n, "share": round(n / faces, 6)} for k, n in sorted(labels.items())},
    }


def timeline_png(lines: Sequence[Dict[str, Any]], path) -> None:
    """Draw the category over time (one lane per category), the bad share and the cues into a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    frames = [x for x in lines if "error" not in x]
    fig, (ax, ax2) = plt.subplots(2, 1, figsize=(10, 3.6), sharex=True, gridspec_kw={"height_ratios": [2, 1]})
    if frames:
        t0 = frames[0]["stamp_ns"]
        times = [(x["stamp_ns"] - t0) / 1e9 for x in frames]
        durations = frame_durations(times)
        for lane, cat in enumerate(reversed(CATEGORIES)):
            spans = [(t, d) for x, t, d in zip(frames, times, durations) if x["category"] == cat]
            ax.broken_barh(spans, (lane - 0.4, 0.8), facecolors=COLOURS[cat], linewidth=0)
        ax2.plot(times, [x.get("bad_share", 0.0) for x in frames], color=COLOURS["bad"], linewidth=1)
        for x, t in zip(frames, times):
            if x["cue"]:
                for a in (ax, ax2):
                    a.axvline(t, color="black", linewidth=1.2, linestyle="--")
                ax.annotate("cue", (t, len(CATEGORIES) - 0.5), ha="center", va="bottom", fontsize=8)
        ax2.set_xlim(0, times[-1] + durations[-1] if times[-1] + durations[-1] > 0 else 1)
    ax.set_yticks(range(len(CATEGORIES)))
    ax.set_yticklabels([LABELS[c] for c in reversed(CATEGORIES)])
    ax.set_ylim(-0.6, len(CATEGORIES) - 0.1)
    ax.set_title("Expression category over the session (dashed: cues)")
    ax2.set_ylim(0, 1)
    ax2.set_ylabel("bad share")
    ax2.set_xlabel("time (s)")
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=100)
    plt.close(fig)


def _pct(v: float) -> str:
    return f"{v * 100:.1f}%"


def html_page(summary: Dict[str, Any], png: bytes, title: str = "FaceCoach session report") -> str:
    """A self-contained HTML page: the timeline PNG embedded as base64 and the numbers in tables."""
    e = html.escape
    rows = "".join(
        f"<tr><td>{e(LABELS[c])}</td><td>{_pct(summary['share'][c])}</td>"
        f"<td>{summary.get('seconds', {}).get(c, 0.0):.2f}</td></tr>"
        for c in CATEGORIES
    )
    cues = (
        "".join(
            f"<tr><td>{c['t_s']:.2f}</td><td>{e(c['reason'])}</td><td>{e(c['label'] or '-')}</td></tr>"
            for c in summary["cues"]
        )
        or "<tr><td colspan='3'>no cue</td></tr>"
    )
    emotions = (
        "".join(
            f"<tr><td>{e(k)}</td><td>{v['frames']}</td><td>{_pct(v['share'])}</td></tr>"
            for k, v in summary["emotions"].items()
        )
        or "<tr><td colspan='3'>no face</td></tr>"
    )
    lb = summary["longest_bad"]
    longest = (
        f"{lb['duration_s']:.2f} s ({lb['start_s']:.2f}&ndash;{lb['end_s']:.2f} s, {lb['frames']} frames)"
        if lb
        else "none"
    )
    partial = ""
    if summary["partial"]:
        partial = (
            f"<p class='warn'>Partial result: {summary['skipped_frames']} frame(s) skipped; "
            + e("; ".join(summary.get("errors", [])))
            + "</p>"
        )
    img = base64.b64encode(png).decode("ascii")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{e(title)}</title>
<style>body{{font-family:sans-serif;max-width:60em;margin:2em auto}}table{{border-collapse:collapse;margin:1em 0}}
td,th{{border:1px solid #ccc;padding:.2em .6em;text-align:right}}td:first-child{{text-align:left}}
.warn{{color:#c62828;font-weight:bold}}img{{max-width:100%}}</style></head>
<body><h1>{e(title)}</h1>{partial}
<p>{summary["frames"]} frames, {summary["duration_s"]:.2f} s. Cues: {len(summary["cues"])}.
Longest bad stretch: {longest}.</p>
<img alt="timeline of the expression category" src="data:image/png;base64,{img}">
<h2>Time per category</h2><table><tr><th>category</th><th>share</th><th>seconds</th></tr>{rows}</table>
<h2>Cues</h2><table><tr><th>time (s)</th><th>reason</th><th>expression</th></tr>{cues}</table>
<h2>Expressions (face frames)</h2><table><tr><th>expression</th><th>frames</th><th>share</th></tr>{emotions}</table>
</body></html>
"""


def write_report(lines: Sequence[Dict[str, Any]], out_dir, title: str = "FaceCoach session report") -> Dict[str, Any]:
    """Write report.png, report.html and report.json into ``out_dir``; return the numbers."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    summary = summarize(lines)
    png_path = out / "report.png"
    timeline_png(lines, png_path)
    (out / "report.html").write_text(html_page(summary, png_path.read_bytes(), title))
    (out / "report.json").write_text(json.dumps(summary, indent=2, sort_keys=True))
    return summary


def format_summary(summary: Dict[str, Any]) -> str:
    """The report's numbers on a few lines for the terminal."""
    share = ", ".join(f"{LABELS[c]} {_pct(summary['share'][c])}" for c in CATEGORIES)
    lb = summary["longest_bad"]
    cues = ", ".join(f"{c['t_s']:.2f}" for c in summary["cues"]) or "-"
    emotions = ", ".join(f"{k} {_pct(v['share'])}" for k, v in summary["emotions"].items()) or "-"
    longest = f"{lb['duration_s']:.2f} s from {lb['start_s']:.2f} s" if lb else "none"
    text = (
        f"{summary['frames']} frames, {summary['duration_s']:.2f} s: {share}\n"
        f"cues ({len(summary['cues'])}) at s: {cues}\n"
        f"longest bad stretch: {longest}\n"
        f"expressions: {emotions}"
    )
    if summary["partial"]:
        text += f"\nPARTIAL: {summary['skipped_frames']} frame(s) skipped; " + "; ".join(summary.get("errors", []))
    return text
