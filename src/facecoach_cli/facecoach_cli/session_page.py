"""A practice session's report, in the session folder (or another).

report.html (self-contained: pictures inline, no network), report.png (the timeline), trend.png (this session
beside the earlier ones) and report.json (every number).
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from facecoach_bag.session_files import SESSION_FILE, bag_parts

from .session_report import CATEGORIES, COLOURS, LABELS, timeline_png
from .session_store import Session, all_sessions, face_crops, load_session
from .session_summary import plain_text, session_summary, trend_row

STYLE = """body{font-family:sans-serif;max-width:62em;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}
td:first-child,th:first-child{text-align:left}.warn{color:#c62828}.lead{font-size:1.1em;line-height:1.5}
img{max-width:100%}img.face{width:96px;height:96px;image-rendering:pixelated}
.bar{display:inline-block;height:1em;vertical-align:middle}td.text{text-align:left}"""


def session_row(path: Path) -> Dict[str, Any]:
    """One session's row of the list and the trend; ``error`` when it cannot be read.

    From its report.json when that is newer than the recording (an hour's session takes seconds to read), else
    from the recording itself.
    """
    try:
        return trend_row(_report_json(path) or session_summary(load_session(path)))
    except Exception as exc:  # noqa: BLE001 - one unreadable session must not stop the list or a report
        return {"session": path.name, "error": str(exc).splitlines()[0]}


def _report_json(path: Path) -> Optional[Dict[str, Any]]:
    """The session's report.json, when it was written after everything it was made from (else None)."""
    report = path / "report.json"
    try:
        inputs = [path / SESSION_FILE] + [f for part in bag_parts(path) for f in part.iterdir()]
        newest = max((f.stat().st_mtime for f in inputs if f.exists()), default=0.0)
        if report.stat().st_mtime <= newest:
            return None
        data = json.loads(report.read_text(encoding="utf-8"))
        trend_row(data)  # it has what a row needs
        return data
    except (OSError, ValueError, KeyError, TypeError):
        return None


def trend(session: Path, profile: str, folder: Optional[Path] = None) -> List[Dict[str, Any]]:
    """The session and the earlier ones of its sessions directory with the same profile, oldest first."""
    folder = Path(folder) if folder else session.parent
    rows = [session_row(p) for p in all_sessions(folder) if p.name <= session.name]
    return [r for r in rows if r["session"] == session.name or r.get("profile", "") == profile]


def trend_png(rows: Sequence[Dict[str, Any]], current: str, path: Path) -> None:
    """Bad share and cues a minute, session by session (the current one marked)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    good = [r for r in rows if r.get("bad_share") is not None]
    fig, ax = plt.subplots(figsize=(10, 2.8))
    xs = list(range(len(good)))
    ax.plot(xs, [r["bad_share"] * 100 for r in good], "o-", color=COLOURS["bad"], label="bad share (%)")
    ax.set_ylabel("bad share (%)")
    ax.set_ylim(0, max([r["bad_share"] * 100 for r in good] + [10]) * 1.15)
    ax2 = ax.twinx()
    ax2.plot(xs, [r["cues_per_minute"] for r in good], "s--", color="#1565c0", label="cues a minute")
    ax2.set_ylabel("cues a minute")
    ax2.set_ylim(0, max([r["cues_per_minute"] for r in good] + [1]) * 1.15)
    for i, r in enumerate(good):
        if r["session"] == current:
            ax.axvline(i, color="#999", linewidth=6, alpha=0.3)
    ax.set_xticks(xs)
    ax.set_xticklabels([r["session"].replace("_", "\n", 1) for r in good], fontsize=7)
    ax.set_xlim(-0.5, max(len(good) - 0.5, 0.5))
    ax.set_title("Your sessions: bad share (line) and cues a minute (dashed); this one shaded")
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=100)
    plt.close(fig)


def _img(data: bytes, alt: str, cls: str = "") -> str:
    c = f' class="{cls}"' if cls else ""
    return f'<img{c} alt="{html.escape(alt)}" src="data:image/png;base64,{base64.b64encode(data).decode()}">'


def _setting_text(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k} {v}" for k, v in value.items())
    return "''" if value == "" else str(value)


def html_page(s: Dict[str, Any], timeline: bytes, trend_pic: bytes, rows, crops: Dict[int, bytes]) -> str:
    """The report page: plain words first, then the pictures and the tables."""
    e = html.escape
    missing = "".join(f"<p class='warn'>Missing: {e(m)}</p>" for m in s["missing"])
    lead = " ".join(e(t) for t in plain_text(s))
    share_rows = "".join(
        f"<tr><td><span class='bar' style='width:{s['share'][c] * 10:.2f}em;background:{COLOURS[c]}'></span> "
        f"{e(LABELS[c])}</td><td>{s['share'][c]:.1%}</td><td>{s.get('seconds', {}).get(c, 0.0):.1f}</td></tr>"
        for c in CATEGORIES
    )
    drivers = (
        "".join(
            f"<tr><td>{e(k)}</td><td>{v['seconds']:.1f}</td><td>{v['share']:.0%}</td></tr>"
            for k, v in s["bad_by_emotion"].items()
        )
        or "<tr><td colspan='3'>no bad time</td></tr>"
    )
    moment_rows = []
    for m in s["moments"]:
        crop = crops.get(m.get("stamp_ns"))
        face = _img(crop, f"your face at {m['t_s']:.1f} s", "face") if crop else "(no image recorded)"
        what = (
            f"cue heard: {e(m['emotion'] or '-')} had been bad ({(m['bad_share'] or 0):.0%} of the window)"
            if m["kind"] == "cue"
            else f"bad stretch of {m['duration_s']:.1f} s, mostly {e(m['emotion'] or '-')}, until {m['end_s']:.1f} s"
        )
        moment_rows.append(f"<tr><td>{m['t_s']:.1f} s</td><td class='text'>{what}</td><td>{face}</td></tr>")
    moments = "".join(moment_rows) or "<tr><td colspan='3'>nothing to rewatch: no cue, no bad stretch</td></tr>"
    past = "".join(
        f"<tr><td>{'<b>' if r['session'] == s['session'] else ''}{e(r['session'])}</td>"
        + (
            f"<td colspan='4'>{e(r['error'])}</td>"
            if "error" in r
            else f"<td>{r['duration_s']:.0f}</td><td>{'-' if r['bad_share'] is None else format(r['bad_share'], '.1%')}"
            f"</td><td>{r['cues']}</td><td>{r['cues_per_minute']:.1f}</td>"
        )
        + "</tr>"
        for r in rows
    )
    settings = "".join(
        f"<tr><td>{e(k)}</td><td class='text'>{e(_setting_text(v))}</td></tr>" for k, v in s["settings"].items()
    )
    paused = "".join(
        f"<li>the classifier stopped after {ev['after_s']:.1f} s: coaching paused</li>"
        for ev in s["events"]
        if ev["reason"] == "classifier_gone"
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>FaceCoach session {e(s["session"])}</title>
<style>{STYLE}</style></head>
<body><h1>Practice session {e(s["session"])}</h1>{missing}
<p class="lead">{lead}</p>
{_img(timeline, "the expression category over the session")}
<h2>Time per category</h2><table><tr><th>category</th><th>share</th><th>seconds</th></tr>{share_rows}</table>
<h2>What drove the bad time</h2>
<table><tr><th>emotion</th><th>seconds</th><th>share of bad time</th></tr>{drivers}</table>
<h2>Moments to rewatch</h2><table><tr><th>time</th><th>what happened</th><th>face</th></tr>{moments}</table>
<h2>Progress</h2>{_img(trend_pic, "bad share and cues a minute across your sessions")}
<table><tr><th>session</th><th>seconds</th><th>bad share</th><th>cues</th><th>cues a minute</th></tr>{past}</table>
<h2>Settings in force</h2>
<table><tr><th>setting</th><th>value</th></tr>{settings or "<tr><td>unknown</td><td></td></tr>"}</table>
{f"<h2>Interruptions</h2><ul>{paused}</ul>" if paused else ""}
</body></html>
"""


def write_session_report(session_path, out_dir=None, sessions_folder: Optional[Path] = None) -> Dict[str, Any]:
    """Write the report of a session (into the session folder unless ``out_dir``); return its numbers."""
    session: Session = load_session(session_path)
    out = Path(out_dir) if out_dir else session.path
    out.mkdir(parents=True, exist_ok=True)
    s = session_summary(session)
    earlier = trend(session.path, s["profile"], sessions_folder)
    rows = [r if r["session"] != session.name else trend_row(s) for r in earlier]
    s["trend"] = rows
    timeline_png(session.lines, out / "report.png")
    trend_png(rows, session.name, out / "trend.png")
    crops = face_crops(session, [m["stamp_ns"] for m in s["moments"]]) if session.has_faces else {}
    page = html_page(s, (out / "report.png").read_bytes(), (out / "trend.png").read_bytes(), rows, crops)
    (out / "report.html").write_text(page, encoding="utf-8")
    (out / "report.json").write_text(json.dumps(s, indent=2, sort_keys=True), encoding="utf-8")
    return s
