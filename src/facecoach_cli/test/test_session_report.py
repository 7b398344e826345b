"""report: the session report's numbers, PNG and HTML, from eval-bag results or straight from a bag."""

import base64
import json
import re
from collections import Counter
from pathlib import Path

import pytest

from facecoach_cli.commands.session import main
from facecoach_cli.eval_results import read_jsonl, write_jsonl
from facecoach_cli.session_report import summarize

REPO = Path(__file__).resolve().parents[3]
SAMPLE = REPO / "sample" / "interview"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
STEP = 10**9 // 30


def _line(i, label, cue=False, reason="below_threshold"):
    category = {"happy": "good", "neutral": "acceptable", "sad": "bad", "fear": "bad", "": "none"}[label]
    return {
        "stamp_ns": 10**18 + i * STEP,
        "face": bool(label),
        "roi": [1, 2, 30, 30] if label else [0, 0, 0, 0],
        "label": label,
        "confidence": 0.9 if label else 0.0,
        "probabilities": [0.9, 0.1] if label else [],
        "category": category,
        "cue": cue,
        "reason": "played" if cue else reason,
        "bad_share": 0.7 if category == "bad" else 0.0,
    }


def _session():
    """60 happy, 30 sad (cue at 45), 15 none, 45 fear (cue at 130; 30 happy between), 30 neutral, 20 sad."""
    labels = ["happy"] * 60 + ["sad"] * 30 + [""] * 15 + ["fear"] * 45 + ["neutral"] * 30 + ["sad"] * 20
    return [_line(i, lab, cue=i in (75, 130)) for i, lab in enumerate(labels)]


def _expected(lines):
    """The numbers, computed the plain way (constant frame rate: share of time = share of frames)."""
    frames = [x for x in lines if "error" not in x]
    cats = Counter(x["category"] for x in frames)
    best, run = 0, 0
    for x in frames:
        run = run + 1 if x["category"] == "bad" else 0
        best = max(best, run)
    faces = Counter(x["label"] for x in frames if x["face"])
    return {
        "share": {c: cats[c] / len(frames) for c in ("good", "acceptable", "bad", "none")},
        "cue_frames": [i for i, x in enumerate(frames) if x["cue"]],
        "longest_bad_frames": best,
        "emotions": {k: n for k, n in faces.items()},
    }


def _check_report(out: Path, lines):
    png = (out / "report.png").read_bytes()
    assert png.startswith(PNG_MAGIC) and len(png) > 2000
    page = (out / "report.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    embedded = re.search(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert embedded and base64.b64decode(embedded.group(1)) == png
    assert "<script" not in page and "http" not in page  # self-contained
    got = json.loads((out / "report.json").read_text())
    want = _expected(lines)
    assert got["frames"] == len([x for x in lines if "error" not in x])
    for c, v in want["share"].items():
        assert got["share"][c] == pytest.approx(v, abs=1e-5)
        assert f"{v * 100:.1f}%" in page
    t0 = lines[0]["stamp_ns"]
    assert [c["t_s"] for c in got["cues"]] == [round((lines[i]["stamp_ns"] - t0) / 1e9, 3) for i in want["cue_frames"]]
    for c in got["cues"]:
        assert f"<td>{c['t_s']:.2f}</td>" in page
    if want["longest_bad_frames"]:
        assert got["longest_bad"]["frames"] == want["longest_bad_frames"]
        assert got["longest_bad"]["duration_s"] == pytest.approx(want["longest_bad_frames"] / 30, abs=2e-3)
        assert f"{got['longest_bad']['duration_s']:.2f} s" in page
    else:
        assert got["longest_bad"] is None
    assert {k: v["frames"] for k, v in got["emotions"].items()} == want["emotions"]
    faces = sum(want["emotions"].values())
    for k, n in want["emotions"].items():
        assert got["emotions"][k]["share"] == pytest.approx(n / faces, abs=1e-5)
        assert f"<td>{k}</td><td>{n}</td>" in page
    return got, page


def test_report_from_results(tmp_path, capsys):
    lines = _session()
    write_jsonl(tmp_path / "r.jsonl", lines)
    assert main(["report", str(tmp_path / "r.jsonl"), "--out", str(tmp_path / "rep")]) == 0
    got, page = _check_report(tmp_path / "rep", lines)
    assert [c["t_s"] for c in got["cues"]] == [2.5, 4.333]
    assert got["longest_bad"] == {"start_s": 3.5, "end_s": 5.0, "duration_s": 1.5, "frames": 45}
    assert got["duration_s"] == pytest.approx(200 / 30, abs=1e-3)
    assert "Partial" not in page
    assert "cues (2)" in capsys.readouterr().out


def test_report_marks_a_partial_result(tmp_path):
    lines = _session()[:50] + [{"stamp_ns": 10**18 + 50 * STEP, "error": "encoding: unsupported encoding 'yuv422'"}]
    lines += [{"stamp_ns": None, "error": "bag ended early: bag is truncated or corrupt"}]
    write_jsonl(tmp_path / "r.jsonl", lines)
    assert main(["report", str(tmp_path / "r.jsonl"), "--out", str(tmp_path / "rep")]) == 1
    got, page = _check_report(tmp_path / "rep", lines)
    assert got["partial"] and got["skipped_frames"] == 1
    assert "Partial result" in page and "yuv422" in page


def test_report_of_results_that_are_not_results_is_a_one_line_error(tmp_path, capsys):
    (tmp_path / "r.jsonl").write_text('{"stamp_ns": 1, "face": true}\nnot json\n')
    assert main(["report", str(tmp_path / "r.jsonl"), "--out", str(tmp_path / "rep")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("facecoach report: ") and len(err.splitlines()) == 1 and "lacks" in err


def test_summary_of_nothing():
    s = summarize([])
    assert s["frames"] == 0 and s["longest_bad"] is None and s["cues"] == []


HAVE_SAMPLE = (SAMPLE / "metadata.yaml").is_file() and (REPO / "models" / "baseline.safetensors").is_file()


@pytest.mark.skipif(not HAVE_SAMPLE, reason="sample/interview or models/baseline.safetensors missing")
def test_report_from_a_bag_evaluates_it_with_the_baseline_first(tmp_path):
    out = tmp_path / "rep"
    assert main(["report", str(SAMPLE), "--out", str(out), "--max-frames", "240", "--no-progress"]) == 0
    lines = read_jsonl(out / "results.jsonl")
    assert len(lines) == 240
    _check_report(out, lines)
