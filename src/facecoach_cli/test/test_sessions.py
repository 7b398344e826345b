"""Practice sessions read back: the report's numbers from the recorded stream, bad folders, list and delete."""

import json
import os
import sys
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).parent))  # --import-mode=importlib: this folder is not on the path
from session_testutil import STREAM, feedback_msgs, write_session  # noqa: E402

from facecoach_cli.cli import main  # noqa: E402
from facecoach_cli.commands.sessions import session_rows  # noqa: E402
from facecoach_cli.errors import CommandError  # noqa: E402
from facecoach_cli.session_page import write_session_report  # noqa: E402
from facecoach_cli.session_store import delete_sessions, load_session  # noqa: E402


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A FaceCoach home of its own: sessions/ in tmp_path."""
    monkeypatch.setenv("FACECOACH_HOME", str(tmp_path / "home"))
    return tmp_path / "home" / "sessions"


def test_the_report_says_what_the_designed_stream_holds(home):
    """8 s at 10 fps: shares of time, the bad time by emotion, the cues and stretches, to the frame."""
    s = write_session_report(write_session(home / "2026-12-06_07-00-00"))
    assert s["frames"] == 80 and s["duration_s"] == 8.0  # the warm-up frame and the end notice are no frames
    assert s["share"] == {"good": 0.125, "acceptable": 0.3125, "bad": 0.5, "none": 0.0625}
    assert s["bad_by_emotion"] == {"fear": {"seconds": 2.5, "share": 0.625}, "sad": {"seconds": 1.5, "share": 0.375}}
    assert [c["t_s"] for c in s["cues"]] == [3.2, 6.2] and s["cues_per_minute"] == 15.0
    assert s["longest_bad"] == {"start_s": 5.0, "end_s": 7.5, "duration_s": 2.5, "frames": 25}
    assert [(m["kind"], m["t_s"]) for m in s["moments"]] == [
        ("bad stretch", 2.0),
        ("cue", 3.2),
        ("bad stretch", 5.0),
        ("cue", 6.2),
    ]
    assert s["missing"] == [] and not s["partial"]
    assert s["settings"]["bad_threshold"] == 0.6 and s["settings"]["calibration"] == "none"
    page = (home / "2026-12-06_07-00-00" / "report.html").read_text()
    assert "You practised for 8 s." in page and "fear (62%), then sad (38%)" in page
    assert json.loads((home / "2026-12-06_07-00-00" / "report.json").read_text())["frames"] == 80


def test_sessions_lists_each_session_and_the_trend_goes_across_them(home, capsys):
    write_session(home / "2026-12-06_07-00-00")
    second = write_session(home / "2026-12-06_08-00-00", ended=False)  # killed: it still lists
    (home / "notes.txt").write_text("mine")
    rows = session_rows(home)
    assert [r["session"] for r in rows] == ["2026-12-06_07-00-00", "2026-12-06_08-00-00"]
    assert rows[0]["bad_share"] == 0.5 and rows[0]["cues"] == 2 and rows[0]["longest_bad_s"] == 2.5
    assert rows[1]["partial"] and not rows[0]["partial"]
    assert main(["sessions"]) == 0
    out = capsys.readouterr().out
    assert "2026-12-06_07-00-00" in out and "50.0%" in out and "partial" in out
    s = write_session_report(second)
    assert [r["session"] for r in s["trend"]] == ["2026-12-06_07-00-00", "2026-12-06_08-00-00"]
    assert (second / "trend.png").read_bytes()[:4] == b"\x89PNG"


def test_delete_removes_only_the_named_sessions(home, tmp_path, capsys):
    keep, gone = write_session(home / "2026-12-06_07-00-00"), write_session(home / "2026-12-06_08-00-00")
    (home / "notes.txt").write_text("mine")
    (home / "photos").mkdir()
    outside = write_session(tmp_path / "elsewhere" / "2026-12-06_09-00-00")
    for bad in (["photos"], ["notes.txt"], ["no-such"], [str(outside)], [gone.name, "no-such"]):
        with pytest.raises(CommandError, match="nothing deleted"):
            delete_sessions(bad, home)
    assert main(["sessions", "delete"]) == 2 and "name the sessions" in capsys.readouterr().err
    assert main(["sessions", "delete", gone.name]) == 0
    assert not gone.exists() and keep.exists() and outside.exists()
    assert sorted(p.name for p in home.iterdir()) == ["2026-12-06_07-00-00", "notes.txt", "photos"]


def test_a_cut_short_or_incomplete_session_gives_a_partial_report_that_says_what_is_missing(home, capsys):
    cut = write_session(home / "cut", feedback_msgs(STREAM * 10))  # 80 s: a file of many pages
    db = next((cut / "bag").glob("*.db3"))
    os.truncate(db, db.stat().st_size // 2)  # a copy cut short
    assert main(["report", str(cut)]) == 1
    out = capsys.readouterr().out
    assert "missing:" in out and (cut / "report.html").is_file()
    s = json.loads((cut / "report.json").read_text())
    assert s["partial"] and any("cut short" in m for m in s["missing"]) and 80 < s["frames"] < 800

    no_settings = write_session(home / "no_settings")
    (no_settings / "session.yaml").unlink()
    s = write_session_report(no_settings)
    assert s["frames"] == 80 and any("session.yaml" in m for m in s["missing"])

    older = write_session(home / "older", info={"version": "one"})
    assert any("no version" in m for m in write_session_report(older)["missing"])

    killed = write_session(home / "killed", ended=False)
    assert any("did not end cleanly" in m for m in write_session_report(killed)["missing"])


def test_a_missing_or_foreign_folder_or_a_newer_session_is_one_line(home, tmp_path, capsys):
    newer = write_session(home / "newer", info={"version": 99})
    (tmp_path / "plain").mkdir()
    for source, words in (
        (str(tmp_path / "missing"), "no such session"),
        ("2031-01-01_00-00-00", "no such session"),
        (str(tmp_path / "plain"), "not a session folder"),
        (str(newer), "newer than this FaceCoach reads"),
    ):
        assert main(["report", source]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and words in err, err
    with pytest.raises(CommandError, match="no such session"):
        load_session(home / "gone")
    assert yaml.safe_load((newer / "session.yaml").read_text())["version"] == 99  # read, never rewritten


def test_a_recorder_restarted_during_the_session_goes_on_in_bag_2(home, tmp_path):
    """run and demo restart a recorder that died: its second bag is read after the first, as one session."""
    from rclpy.serialization import serialize_message

    from facecoach_bag.session_files import bag_parts, next_bag
    from facecoach_bag.writer import BagWriter

    msgs = feedback_msgs(end=False)
    session = write_session(home / "2026-12-06_07-00-00", msgs[:41])  # killed after 4 s
    assert next_bag(session).name == "bag_2"
    writer = BagWriter(session / "bag_2")
    for k, m in enumerate(msgs[41:] + feedback_msgs(warm_up=False, end=True)[-1:]):
        writer.write("/facecoach/feedback", "facecoach_msgs/msg/Feedback", k, serialize_message(m))
    writer.close()
    (session / "bag_10").mkdir()  # sorted as numbers, not as text
    assert [p.name for p in bag_parts(session)] == ["bag", "bag_2", "bag_10"]
    s = write_session_report(session)
    assert s["frames"] == 80 and s["share"]["bad"] == 0.5 and [c["t_s"] for c in s["cues"]] == [3.2, 6.2]
    assert "the recorder was restarted: the feedback between 3.9 s and 4.0 s was not recorded" in s["missing"][0]


def test_the_list_takes_a_report_newer_than_the_recording_and_reads_the_recording_otherwise(home):
    session = write_session(home / "2026-12-06_07-00-00")
    write_session_report(session)
    report = json.loads((session / "report.json").read_text())
    report["cues"] = []  # marks the report: a row made from it says 0 cues
    (session / "report.json").write_text(json.dumps(report))
    assert session_rows(home)[0]["cues"] == 0
    db = next((session / "bag").glob("*.db3"))
    os.utime(db, (db.stat().st_mtime + 10, db.stat().st_mtime + 10))  # the recording changed after the report
    assert session_rows(home)[0]["cues"] == 2


def test_sessions_and_the_trend_are_per_profile(home, capsys):
    """Two people on one device: `sessions --profile` lists one person's, a report's trend holds only theirs."""
    for name, profile in (
        ("2026-12-06_07-00-00", "alice"),
        ("2026-12-06_08-00-00", "bob"),
        ("2026-12-06_09-00-00", "alice"),
    ):
        write_session(home / name, info={"profile": profile})
    write_session(home / "2026-12-06_10-00-00")  # before profiles: none
    assert [r["profile"] for r in session_rows(home)] == ["alice", "bob", "alice", ""]
    assert [r["session"] for r in session_rows(home, "alice")] == ["2026-12-06_07-00-00", "2026-12-06_09-00-00"]
    assert [r["session"] for r in session_rows(home, "/some/where/bob.yaml")] == ["2026-12-06_08-00-00"]  # a file
    assert [r["session"] for r in session_rows(home, "")] == ["2026-12-06_10-00-00"]
    s = write_session_report(home / "2026-12-06_09-00-00")
    assert s["profile"] == "alice" and [r["session"] for r in s["trend"]] == ["2026-12-06_07-00-00", s["session"]]
    assert main(["sessions", "--profile", "alice"]) == 0
    out = capsys.readouterr().out
    assert "07-00-00" in out and "08-00-00" not in out and out.rstrip().endswith("alice"), out
    assert main(["sessions", "--profile", "carol"]) == 0
    assert "no sessions of profile 'carol'" in capsys.readouterr().out
