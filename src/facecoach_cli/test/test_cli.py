"""The facecoach command's pure parts: the per-second printer and the parser."""

from __future__ import annotations

import io

from facecoach_cli.cli import build_parser
from facecoach_cli.coaching import CoachingPrinter, feedback_line
from facecoach_cli.session_report import summarize


def _fb(t: float, emotion: str, category: str, cue: bool = False):
    from facecoach_msgs.msg import Feedback

    m = Feedback(has_face=bool(emotion), emotion=emotion, category_name=category, cue_played=cue, confidence=0.9)
    ns = 1_700_000_000_000_000_000 + int(t * 1e9)
    m.header.stamp.sec, m.header.stamp.nanosec = ns // 10**9, ns % 10**9
    return m


def test_printer_prints_each_second_and_sums_up():
    out = io.StringIO()
    p = CoachingPrinter(out)
    msgs = [_fb(i / 10, "happy", "good") for i in range(10)] + [
        _fb(1 + i / 10, "sad", "bad", cue=i == 5) for i in range(10)
    ]
    msgs += [_fb(2.0, "", "none")]
    for m in msgs:
        p.add(m)
    s = p.summary()
    lines = out.getvalue().splitlines()
    assert lines[0].split()[:4] == ["0", "s", "happy", "0.90"]
    assert "CUE played" in lines[1] and "1.50 s" in lines[1]
    assert lines[2].split()[:3] == ["1", "s", "sad"]
    assert "(no face)" in lines[3]
    assert s["frames"] == 21 and s["cues"] == 1 and s["cue_times_s"] == [1.5]
    assert abs(s["share"]["good"] - 10 / 21) < 1e-9


def test_feedback_lines_feed_the_session_report():
    lines = [feedback_line(_fb(i / 10, "sad", "bad", cue=i == 3)) for i in range(20)]
    summary = summarize(lines)
    assert summary["frames"] == 20 and len(summary["cues"]) == 1 and summary["share"]["bad"] == 1.0


def test_every_command_is_registered():
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices
    for name in (
        "demo",
        "run",
        "replay",
        "record",
        "set-model",
        "calibrate",
        "eval-calibration",
        "get-model",
        "get-mapping",
        "bench",
        "train",
        "quantize",
        "prune",
        "eval",
        "export",
        "eval-bag",
        "report",
        "record-voice",
        "make-sample",
    ):
        assert name in commands
