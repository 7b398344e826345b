"""Practice sessions recorded by the graph: the report is the recorded feedback stream's, to the frame, and a
session stopped by Ctrl-C or `kill -9` still yields one (issue 21)."""

import json
import os
import re
import signal
import statistics
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "sample" / "interview"
FACECOACH = str(REPO / "bin" / "facecoach")


def _env(home: Path) -> dict:
    return dict(os.environ, FACECOACH_HOME=str(home))


def _recorded(session: Path) -> list:
    """The Feedback of the interview's frames as the bag holds them, read with rosbags (not the report's reader)."""
    from facecoach_bag.reader import messages
    from facecoach_bag.schema import typestore

    ts, out = typestore(), []
    for _, msgtype, _, raw in messages(session / "bag", ["/facecoach/feedback"]):
        m = ts.deserialize_cdr(raw, msgtype)
        if m.header.frame_id != "facecoach_warm_up" and (m.header.stamp.sec or m.header.stamp.nanosec):
            out.append(m)
    return out


def _gone(pids, timeout: float = 15.0) -> None:
    """Wait until the graph's processes are gone (killed with their parent by the kernel, or stopped by it)."""
    deadline = time.monotonic() + timeout
    for pid in pids:
        while Path(f"/proc/{pid}").exists() and "zombie" not in _state(pid):
            assert time.monotonic() < deadline, f"process {pid} still runs"
            time.sleep(0.05)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text().split("State:")[1].split("\n")[0].lower()
    except (OSError, IndexError):
        return "zombie"


def _expected(msgs: list) -> dict:
    """The report's figures computed here from the messages: each frame lasts until the next one's stamp."""
    ns = [m.header.stamp.sec * 10**9 + m.header.stamp.nanosec for m in msgs]
    t = [(x - ns[0]) / 1e9 for x in ns]
    gaps = [b - a for a, b in zip(t, t[1:])]
    dur = gaps + [statistics.median(gaps)]
    total = sum(dur)
    per_cat, bad = Counter(), Counter()
    for m, d in zip(msgs, dur):
        per_cat[m.category_name] += d
        if m.category_name == "bad":
            bad[m.emotion] += d
    runs, start = [], None
    for i, m in enumerate(msgs + [None]):
        if m is not None and m.category_name == "bad":
            start = i if start is None else start
        elif start is not None:
            runs.append(round(t[i - 1] + dur[i - 1] - t[start], 3))
            start = None
    return {
        "frames": len(msgs),
        "duration_s": round(total, 3),
        "share": {c: round(per_cat[c] / total, 6) for c in ("good", "acceptable", "bad", "none")},
        "cues": [round(ti, 3) for ti, m in zip(t, msgs) if m.cue_played],
        "bad_by_emotion": {k: round(v, 3) for k, v in bad.items()},
        "longest_bad_s": max(runs),
    }


def test_demo_keeps_the_session_and_its_report_is_the_recorded_stream_exactly(tmp_path):
    home = tmp_path / "home"
    got = subprocess.run(
        [FACECOACH, "demo", "--rate", "2", "--alsa-device", "null", "--report", "--json", str(tmp_path / "s.json")]
        + ["--log-dir", str(tmp_path / "logs")],
        capture_output=True,
        text=True,
        timeout=300,
        env=_env(home),
    )
    assert got.returncode == 0, got.stdout[-3000:] + got.stderr[-3000:]
    (session,) = list((home / "sessions").iterdir())
    assert f"session kept: {session}" in got.stdout and f"session report: {session}/report.html" in got.stdout
    info = yaml.safe_load((session / "session.yaml").read_text())
    assert info["version"] == 1 and info["ended"] and info["record_images"] is False
    assert {"face_detector", "emotion_classifier", "alert_player"} <= set(info["settings"])
    assert info["settings"]["alert_player"]["alsa_device"] == "null"  # the settings in force, not the defaults
    assert info["settings"]["emotion_classifier"]["model_variant"] == "baseline"
    from facecoach_bag.reader import topics

    recorded = {t.name for t in topics(session / "bag")}
    assert recorded == {"/facecoach/feedback", "/facecoach/emotion", "/parameter_events"}  # no image unless asked

    report = json.loads((session / "report.json").read_text())
    want = _expected(_recorded(session))
    assert report["frames"] == want["frames"] and report["duration_s"] == want["duration_s"]
    assert report["share"] == want["share"]
    assert [c["t_s"] for c in report["cues"]] == want["cues"]
    assert {k: v["seconds"] for k, v in report["bad_by_emotion"].items()} == want["bad_by_emotion"]
    assert report["longest_bad"]["duration_s"] == want["longest_bad_s"]
    assert set(report["bad_by_emotion"]) == {"sad", "fear"} and len(report["cues"]) == 2  # the sample's bad stretches
    # What the demo printed came from the same stream: every coached frame and cue is in the session.
    printed = json.loads((tmp_path / "s.json").read_text())
    assert printed["cues"] == len(report["cues"]) and printed["frames"] == report["frames"], (printed, report)


@pytest.mark.parametrize("stop", ["ctrl_c", "kill_9"])
def test_a_session_stopped_by_ctrl_c_or_kill_9_still_yields_a_report(tmp_path, stop):
    home = tmp_path / "home"
    cmd = [FACECOACH, "run", "--bag", str(SAMPLE), "--alsa-device", "null", "--log-dir", str(tmp_path / "logs")]
    proc = subprocess.Popen(
        cmd + (["--report"] if stop == "ctrl_c" else []),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=_env(home),
        start_new_session=True,  # a terminal's Ctrl-C reaches facecoach alone; here so does ours
    )
    lines, pids = [], {}
    try:
        for line in proc.stdout:  # waits on the events themselves: the processes, then 4 s of coaching
            lines.append(line)
            if line.startswith("[facecoach] processes:"):
                pids = eval(line.split(":", 1)[1], {})  # noqa: S307 - our own dict of names and pids
            if re.match(r"^ +4 s  ", line):
                break
        assert pids.get("session_recorder"), "".join(lines)
        proc.send_signal(signal.SIGINT if stop == "ctrl_c" else signal.SIGKILL)
        rest, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    out = "".join(lines) + rest
    _gone(pids.values())
    (session,) = list((home / "sessions").iterdir())
    if stop == "ctrl_c":
        assert proc.returncode == 0 and f"session report: {session}/report.html" in out, out[-3000:]
    else:
        assert proc.returncode == -signal.SIGKILL
    got = subprocess.run(
        [FACECOACH, "report", str(session)], capture_output=True, text=True, env=_env(home), timeout=120
    )
    report = json.loads((session / "report.json").read_text())
    assert report["frames"] >= 4 * 25 and (session / "report.html").is_file(), got.stdout + got.stderr
    if stop == "kill_9":  # partial: it says the session did not end cleanly
        assert got.returncode == 1 and "did not end cleanly" in got.stdout, got.stdout + got.stderr
    else:
        assert got.returncode == 0 and report["missing"] == [], got.stdout + got.stderr
