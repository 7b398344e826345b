"""A practice session's numbers, from its recorded feedback stream (plain Python over the lines).

Time per category, what drove the bad time, the moments to rewatch, and the session beside the earlier ones.

Times are the frames' own: a frame lasts until the next frame's stamp (``session_report.frame_durations``),
so every share is a share of time, exactly as the feedback stream says it.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Dict, List, Sequence

from .session_report import frame_durations, summarize

TOP_STRETCHES = 3  # the longest bad stretches the report points at


def bad_stretches(lines: Sequence[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """Every run of consecutive bad frames: start, end, duration (s since the first frame), frames, main emotion."""
    if not lines:
        return []
    t0 = lines[0]["stamp_ns"]
    times = [(x["stamp_ns"] - t0) / 1e9 for x in lines]
    durations = frame_durations(times)
    out, start = [], None
    for i, x in enumerate(list(lines) + [None]):
        bad = x is not None and x["category"] == "bad"
        if bad and start is None:
            start = i
        elif not bad and start is not None:
            end = i - 1
            labels = Counter()
            for j in range(start, end + 1):
                labels[lines[j]["label"]] += durations[j]
            mid = (start + end) // 2
            out.append(
                {
                    "start_s": round(times[start], 3),
                    "end_s": round(times[end] + durations[end], 3),
                    "duration_s": round(times[end] + durations[end] - times[start], 3),
                    "frames": end - start + 1,
                    "emotion": labels.most_common(1)[0][0] if labels else "",
                    "stamp_ns": lines[mid]["stamp_ns"],  # the frame whose face crop shows it
                }
            )
            start = None
    return out


def bad_by_emotion(lines: Sequence[Dict[str, Any]]) -> Dict[str, Dict[str, float]]:
    """Seconds of bad time per emotion, and each one's share of the bad time, most first."""
    if not lines:
        return {}
    t0 = lines[0]["stamp_ns"]
    durations = frame_durations([(x["stamp_ns"] - t0) / 1e9 for x in lines])
    seconds: Counter = Counter()
    for x, d in zip(lines, durations):
        if x["category"] == "bad":
            seconds[x["label"] or "(none)"] += d
    total = sum(seconds.values())
    return {
        k: {"seconds": round(v, 3), "share": round(v / total, 6) if total else 0.0} for k, v in seconds.most_common()
    }


def session_summary(session) -> Dict[str, Any]:
    """Every number of a session's report (``session``: a session_store.Session)."""
    s = summarize(session.lines)
    minutes = s["duration_s"] / 60.0
    stretches = bad_stretches(session.lines)
    longest = sorted(stretches, key=lambda r: (-r["duration_s"], r["start_s"]))[:TOP_STRETCHES]
    t0 = session.lines[0]["stamp_ns"] if session.lines else 0
    cue_stamps = [x["stamp_ns"] for x in session.lines if x["cue"]]
    moments = [
        {"kind": "cue", "t_s": c["t_s"], "emotion": c["label"], "bad_share": c["bad_share"], "stamp_ns": ns}
        for c, ns in zip(s["cues"], cue_stamps)
    ]
    moments += [dict(r, kind="bad stretch", t_s=r["start_s"]) for r in longest]
    moments.sort(key=lambda m: (m["t_s"], m["kind"]))
    s.update(
        {
            "session": session.name,
            "started": session.info.get("started", ""),
            "profile": str(session.info.get("profile") or ""),
            "cues_per_minute": round(len(s["cues"]) / minutes, 3) if minutes > 0 else 0.0,
            "bad_stretches": len(stretches),
            "longest_bad_stretches": longest,
            "bad_by_emotion": bad_by_emotion(session.lines),
            "moments": moments,
            "events": [
                dict(ev, after_s=round((ev["after_stamp_ns"] - t0) / 1e9, 3) if ev["after_stamp_ns"] else 0.0)
                for ev in session.events
            ],
            "missing": list(session.missing),
            "partial": bool(s["partial"] or session.missing),
            "settings": settings_in_force(session.info),
        }
    )
    return s


def settings_in_force(info: Dict[str, Any]) -> Dict[str, Any]:
    """The settings a reader asks about first: variant, mapping, bad rule and thresholds, calibration."""
    settings = info.get("settings") or {}
    classifier, alert = settings.get("emotion_classifier", {}), settings.get("alert_player", {})
    out: Dict[str, Any] = {}
    for key in ("model_variant", "backend", "flip_tta", "smoothing_frames"):
        if key in classifier:
            out[key] = classifier[key]
    mapping = {k.split(".", 1)[1]: v for k, v in sorted(alert.items()) if k.startswith("mapping.")}
    if mapping:
        out["mapping"] = mapping
    rule = ("mapping_preset", "bad_rule", "bad_probability", "min_confidence", "bad_threshold", "window_s")
    out.update({key: alert[key] for key in rule + ("cooldown_s",) if key in alert})
    cal = info.get("calibration")
    out["calibration"] = (cal.get("file") + (f" ({cal['error']})" if cal.get("error") else "")) if cal else "none"
    return out


def _duration_text(seconds: float) -> str:
    m, s = divmod(int(round(seconds)), 60)
    return f"{m} min {s} s" if m else f"{s} s"


def plain_text(s: Dict[str, Any]) -> List[str]:
    """The session in a few sentences a candidate reads."""
    if not s["frames"]:
        return ["Nothing was coached in this session: no feedback was recorded."]
    share = s["share"]
    parts = [
        f"You practised for {_duration_text(s['duration_s'])}.",
        "Your expression was good {:.0%} of the time, acceptable {:.0%}, bad {:.0%}".format(
            share["good"], share["acceptable"], share["bad"]
        )
        + (f", and no face was seen {share['none']:.0%}." if share["none"] >= 0.005 else "."),
    ]
    drivers = s["bad_by_emotion"]
    if drivers:
        named = [f"{k} ({v['share']:.0%})" for k, v in drivers.items()]
        parts.append("The bad time came from " + ", then ".join(named) + ".")
    cues = len(s["cues"])
    parts.append(
        f"You heard {cues} cue{'s' if cues != 1 else ''} ({s['cues_per_minute']:.1f} a minute)."
        if cues
        else "You heard no cue."
    )
    lb = s["longest_bad"]
    if lb:
        parts.append(f"The longest bad stretch lasted {lb['duration_s']:.1f} s, from {lb['start_s']:.1f} s.")
    return parts


def trend_row(s: Dict[str, Any]) -> Dict[str, Any]:
    """What the trend across sessions shows of one session (and `facecoach sessions` lists)."""
    lb = s.get("longest_bad")
    return {
        "session": s["session"],
        "started": s.get("started", ""),
        "profile": s.get("profile", ""),
        "duration_s": s["duration_s"],
        "bad_share": s["share"].get("bad", 0.0) if s["frames"] else None,
        "cues": len(s["cues"]),
        "cues_per_minute": s["cues_per_minute"],
        "longest_bad_s": lb["duration_s"] if lb else 0.0,
        "partial": s["partial"],
    }
