"""The supervisor's pure parts: restart delays, giving up, how a death is told; the demo printer's lines for it."""

import io

from facecoach_cli.coaching import CoachingPrinter
from facecoach_cli.supervision import MAX_QUICK_FAILURES, ProcessEvent, RestartPolicy, describe_exit


def test_a_one_off_death_restarts_at_once_a_crash_loop_backs_off_then_gives_up():
    policy = RestartPolicy(delays_s=(0.2, 0.5, 1.0, 2.0), quick_s=30.0, max_quick=4)
    assert policy.died(ran_s=3600.0) == 0.2  # after a long run: a one-off, restart now
    assert [policy.died(ran_s=1.0) for _ in range(3)] == [0.5, 1.0, 2.0]
    assert policy.died(ran_s=1.0) is None  # the 4th quick death in a row
    fresh = RestartPolicy()
    delays = [fresh.died(ran_s=0.5) for _ in range(MAX_QUICK_FAILURES)]
    assert delays[-1] is None and all(d is not None and d <= 4.0 for d in delays[:-1])


def test_a_long_run_resets_the_count_of_quick_deaths():
    policy = RestartPolicy(delays_s=(0.2, 0.5, 1.0), quick_s=30.0, max_quick=3)
    policy.died(1.0)
    policy.died(1.0)
    assert policy.died(100.0) == 0.2
    assert policy.died(1.0) == 0.5


def test_how_a_process_ended_is_said_plainly():
    assert describe_exit(-9) == "killed by SIGKILL"
    assert describe_exit(-11) == "killed by SIGSEGV"
    assert describe_exit(1) == "exit code 1"


def test_the_report_is_one_line_then_the_log_tail():
    died = ProcessEvent(
        "died", "emotion_classifier", 123, -9, 12.34, 0.5, 0, log="log/demo/emotion_classifier.log", log_tail=("a", "b")
    )
    assert (
        died.line()
        == "[facecoach] emotion_classifier (pid 123) died: killed by SIGKILL after 12.3 s; restarting in 0.5 s"
    )
    assert died.text().splitlines()[1:] == ["    last lines of log/demo/emotion_classifier.log:", "    | a", "    | b"]
    gave_up = ProcessEvent("gave_up", "camera_detector", 7, 2, 0.8, reason="a configuration error")
    assert gave_up.line().endswith("died: exit code 2 after 0.8 s; not restarting it: a configuration error")
    assert ProcessEvent("restarted", "alert_player", 9, restarts=2).line() == (
        "[facecoach] alert_player restarted (pid 9, restart 2)"
    )


def _fb(t: float, reason: str = "below_threshold", emotion: str = "happy"):
    from facecoach_msgs.msg import Feedback

    m = Feedback(has_face=True, emotion=emotion, category_name="good", confidence=0.9, reason=reason)
    ns = 1_700_000_000_000_000_000 + int(t * 1e9)
    m.header.stamp.sec, m.header.stamp.nanosec = ns // 10**9, ns % 10**9
    return m


def test_the_printer_says_when_the_classifier_is_gone_and_when_coaching_resumes():
    out = io.StringIO()
    p = CoachingPrinter(out)
    for i in range(5):
        p.add(_fb(i / 10))
    p.note("[facecoach] emotion_classifier (pid 1) died: killed by SIGKILL after 9.0 s; restarting in 0.5 s")
    from facecoach_msgs.msg import Feedback

    gone = Feedback(reason="classifier_gone", category_name="none")  # about no frame: stamp 0
    p.add(gone)
    p.add(_fb(3.0))
    s = p.summary()
    lines = out.getvalue().splitlines()
    assert "died: killed by SIGKILL" in lines[0]
    assert lines[1].split()[:3] == ["0", "s", "happy"] and "frames 5" in lines[1]
    assert "0.40 s  !!! no emotion for over a second: the classifier is gone" in lines[2]
    assert "3.00 s  coaching resumes" in lines[3]
    assert s["frames"] == 6, "the classifier_gone message is not a frame"
    assert s["classifier_gone_at_s"] == [0.4]


def test_the_printer_tells_the_end_of_the_stream_as_its_end():
    from facecoach_msgs.msg import Feedback

    out = io.StringIO()
    p = CoachingPrinter(out)
    for i in range(5):
        p.add(_fb(i / 10))
    p.add(Feedback(reason=Feedback.REASON_STREAM_ENDED, category_name="none"))  # about no frame: stamp 0
    s = p.summary()
    text = out.getvalue()
    assert "0.40 s  the stream ended" in text and "classifier is gone" not in text
    assert s["frames"] == 5 and s["classifier_gone_at_s"] == []


def test_a_second_without_a_face_shows_no_bad_share_and_the_columns_align():
    from facecoach_cli.coaching import TABLE_HEADER
    from facecoach_msgs.msg import Feedback

    out = io.StringIO()
    p = CoachingPrinter(out)
    for i in range(5):
        m = _fb(i / 10)
        m.bad_share, m.category_name = 1.0, "bad"
        p.add(m)
    cue = _fb(0.5)
    cue.bad_share, cue.cue_played, cue.reason = 1.0, True, Feedback.REASON_PLAYED
    p.add(cue)
    for i in range(5):  # the face is gone; the window still holds the bad faces of the last second
        m = _fb(1.0 + i / 10)
        m.has_face, m.emotion, m.category_name, m.bad_share, m.reason = False, "", "none", 1.0, "no_face"
        p.add(m)
    p.summary()
    lines = out.getvalue().splitlines()
    assert "bad share 100%" in lines[1] and lines[2].endswith("bad share    -  frames 5"), lines
    time_width = len(TABLE_HEADER.split("emotion")[0])
    assert lines[1][time_width:].startswith("happy") and lines[0][time_width:].startswith(">>> CUE"), lines
