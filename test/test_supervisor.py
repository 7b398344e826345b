"""A node that dies is reported at once and restarted, coaching resumes; a signal to `facecoach run` stops every child.

These run the graph as a user does (separate processes over DDS, the sample interview) and wait on events
(an event of the supervisor, a message, a line of output, a process's end), never on fixed sleeps.
"""

import ast
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest

from facecoach.graph import load_graph
from facecoach_bag.replay import Replayer, start_pipeline
from facecoach_cli.launcher import GraphProcesses, SingleProcess

REPO = Path(__file__).resolve().parents[1]
SAMPLE_BAG = REPO / "sample" / "interview"
TIMEOUT = 90.0
REPORTED_WITHIN_S = 1.0
# From the restarted node's subscription to data reaching it. After kill -9 it reuses the dead process's DDS
# ports, and Fast DDS's shared-memory transport (always on with ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST) re-creates
# the dead "zombie" port while the processes that kept running go on writing into the old one until their port
# watchdog drops it (period 1 s, health check 1 s). `python tools/dds_restart_delay.py --runs 16` on 2026-12-07:
# first message 1.59-3.71 s (median 2.61) after a subscriber's node was created following a kill -9 of its
# predecessor; 0.08-2.50 s (median 0.27) following a clean exit. This was the test's one flaky bound (2.0 s).
DDS_REJOIN_S = 4.5
INPUT = {  # the topic each victim subscribes to last when it starts
    "face_detector": "/camera/image_raw/compressed",
    "emotion_classifier": "/facecoach/face",
    "alert_player": "/facecoach/emotion",
    "single_process": "/facecoach/emotion",
}


class Recorder:
    """Everything the test waits for, with its arrival time: supervisor events and feedback messages."""

    def __init__(self):
        self.cond = threading.Condition()
        self.events = []  # (monotonic time, ProcessEvent)
        self.feedback = []  # (monotonic time, Feedback)

    def on_event(self, event):
        with self.cond:
            self.events.append((time.monotonic(), event))
            self.cond.notify_all()

    def on_feedback(self, msg):
        with self.cond:
            self.feedback.append((time.monotonic(), msg))
            self.cond.notify_all()

    def first(self, items, predicate, what, node=None, each=None):
        """The first (time, item) of ``items()`` for which ``predicate`` holds, waiting up to TIMEOUT.

        ``each()`` is called on every turn of the wait (to watch the ROS graph meanwhile).
        """
        import rclpy

        deadline = time.monotonic() + TIMEOUT
        while True:
            if each is not None:
                each()
            with self.cond:
                found = next((x for x in items() if predicate(*x)), None)
                if found is not None:
                    return found
                if node is None:
                    self.cond.wait(0.05)
            if node is not None:
                rclpy.spin_once(node, timeout_sec=0.05)
            assert time.monotonic() < deadline, f"timed out waiting for {what}"


@pytest.mark.parametrize("victim", ["emotion_classifier", "face_detector", "alert_player", "single_process"])
def test_kill_9_of_a_node_is_reported_at_once_and_coaching_resumes(ros_node, tmp_path, victim):
    """A killed node: reported and restarted within a second, feedback again once it is up, only it restarted."""
    from facecoach_common.qos import OBSERVER_QOS
    from facecoach_msgs.msg import Feedback

    gone = Feedback.REASON_CLASSIFIER_GONE
    rec = Recorder()
    ros_node.create_subscription(Feedback, "/facecoach/feedback", rec.on_feedback, OBSERVER_QOS)
    graph = load_graph()
    nodes = graph.nodes_for("replay", {"alsa_device": "null"})
    factory = SingleProcess if victim == "single_process" else GraphProcesses  # a group sharing a process
    with factory(graph, nodes, log_dir=tmp_path, on_event=rec.on_event) as procs:
        before = procs.pids()
        replayer = Replayer(ros_node, SAMPLE_BAG, rate=1.0, loop=True)
        assert start_pipeline(ros_node, procs, replayer, lambda: len(rec.feedback), TIMEOUT), procs.dead()
        player = threading.Thread(target=replayer.play, daemon=True)
        player.start()
        try:
            warm = len(rec.feedback)
            rec.first(lambda: rec.feedback[warm + 60 :], lambda t, m: True, "two seconds of coaching", ros_node)
            subscribers = ros_node.count_subscribers(INPUT[victim])  # the dead one stays counted for a while
            os.kill(before[victim], signal.SIGKILL)
            killed = time.monotonic()
            up = []  # when the restarted node subscribed to its input

            def watch():
                if not up and ros_node.count_subscribers(INPUT[victim]) > subscribers:
                    up.append(time.monotonic())

            t_died, died = rec.first(lambda: rec.events, lambda t, e: e.kind == "died", "the report")
            t_restarted, restarted = rec.first(lambda: rec.events, lambda t, e: e.kind == "restarted", "the restart")
            t_gone = None
            if victim in ("emotion_classifier", "face_detector"):  # the alert node says no emotion arrives
                t_gone, _ = rec.first(
                    lambda: rec.feedback, lambda t, m: t > killed and m.reason == gone, "classifier_gone", ros_node
                )
            t_back, back = rec.first(
                lambda: rec.feedback,
                lambda t, m: t > max(t_restarted, t_gone or 0.0) and m.reason != gone,
                "feedback after the restart",
                ros_node,
                each=watch,
            )
            t_up = up[0] if up else t_back
        finally:
            replayer.stop_event.set()
            player.join(5.0)
        after = procs.pids()
        print(
            f"{victim}: reported {t_died - killed:.2f} s after kill -9; restarted {t_restarted - killed:.2f} s; "
            + (f"classifier_gone feedback {t_gone - killed:.2f} s; " if t_gone else "")
            + f"subscribed again {t_up - killed:.2f} s; coaching resumed {t_back - killed:.2f} s"
        )
    assert (died.name, died.returncode, died.pid) == (victim, -signal.SIGKILL, before[victim])
    assert "killed by SIGKILL" in died.line() and died.restart_in_s is not None
    assert died.log_tail and victim in died.log, "the report shows the last lines of its log"
    assert t_died - killed < REPORTED_WITHIN_S
    assert t_restarted - killed < REPORTED_WITHIN_S, "restarted after a short delay"
    # Not bounded: the node's own start (python, rclpy, torch), which depends on the machine's load.
    assert t_back - t_up < DDS_REJOIN_S, "the graph takes the restarted node back once Fast DDS lets data reach it"
    assert back.has_face or back.reason == Feedback.REASON_NO_FACE
    assert restarted.name == victim and restarted.pid == after[victim] != before[victim]
    del after[victim], before[victim]
    assert after == before, "only the dead node was restarted"
    assert procs.dead() == {victim: -signal.SIGKILL}


def test_kill_9_during_the_demo_is_shown_by_the_coaching_printer(tmp_path):
    """`facecoach demo` (what `make demo` runs): the printer shows the death, the gap, the resumption; exit 0."""
    cmd = [sys.executable, "-m", "facecoach_cli.cli", "demo", "--alsa-device", "null", "--log-dir", str(tmp_path)]
    demo = Lines(subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=_unbuffered()))
    try:
        demo.wait_for(r"^\s+3 s  ")  # three seconds of coaching
        pid = next(
            p.pid for p in psutil.Process(demo.proc.pid).children() if "emotion_classifier" in " ".join(p.cmdline())
        )
        os.kill(pid, signal.SIGKILL)
        killed = time.monotonic()
        t_died, _ = demo.wait_for(rf"emotion_classifier \(pid {pid}\) died: killed by SIGKILL")
        demo.wait_for(r"!!! no emotion for over a second: the classifier is gone", after=killed)
        t_back, _ = demo.wait_for(r"coaching resumes", after=killed)
        assert demo.proc.wait(timeout=TIMEOUT) == 0, demo.text()
    finally:
        demo.close()
    assert t_died - killed < REPORTED_WITHIN_S
    assert "restarted during the demo: emotion_classifier 1x" in demo.text()
    print(demo.text())
    print(f"demo: reported {t_died - killed:.2f} s after kill -9, 'coaching resumes' printed {t_back - killed:.2f} s")
    assert demo.text().count("the classifier is gone") == 1, "only the kill silenced the classifier"


def test_a_configuration_error_is_given_up_at_once_with_its_reason(tmp_path):
    rec = Recorder()
    graph = load_graph()
    nodes = [n for n in graph.nodes_for("replay", {"alsa_device": "null"}) if n.name == "alert_player"]
    nodes = [n.__class__(**{**n.__dict__, "parameters": {**n.parameters, "cooldown_s": -1.0}}) for n in nodes]
    with GraphProcesses(graph, nodes, log_dir=tmp_path, on_event=rec.on_event) as procs:
        _, event = rec.first(lambda: rec.events, lambda t, e: True, "the report")
        assert procs.given_up() == {"alert_player": event}
        assert [s[:2] for s in procs.status()] == [("alert_player", "error")]
    assert event.kind == "gave_up" and event.returncode == 2 and "configuration error" in event.reason
    assert any("cooldown_s" in line for line in event.log_tail), event.log_tail


def _alive(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _unbuffered():
    return dict(os.environ, PYTHONUNBUFFERED="1")


class Lines:
    """A subprocess whose output is read line by line in a thread, each line with its arrival time."""

    def __init__(self, proc: subprocess.Popen):
        self.proc, self.lines, self.cond = proc, [], threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for raw in self.proc.stdout:
            with self.cond:
                self.lines.append((time.monotonic(), raw.decode(errors="replace").rstrip()))
                self.cond.notify_all()

    def wait_for(self, pattern, after=0.0):
        """The (arrival time, match) of the first line after ``after`` that matches ``pattern``."""
        deadline = time.monotonic() + TIMEOUT
        with self.cond:
            while True:
                for t, line in self.lines:
                    m = re.search(pattern, line)
                    if m and t > after:
                        return t, m
                assert self.proc.poll() is None, f"exited {self.proc.returncode}:\n{self.text()}"
                assert time.monotonic() < deadline, f"no {pattern!r} in:\n{self.text()}"
                self.cond.wait(0.1)

    def text(self):
        return "\n".join(line for _, line in self.lines)

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


class RunCommand(Lines):
    """`facecoach run --bag …` as a subprocess."""

    def __init__(self, tmp_path, *extra, logs=True):
        cmd = [sys.executable, "-m", "facecoach_cli.cli", "run", "--bag", str(SAMPLE_BAG), "--alsa-device", "null"]
        cmd += (["--log-dir", str(tmp_path)] if logs else []) + list(extra)
        # Started as from a terminal: SIGINT heeded, whatever this test process does with it.
        default_sigint = lambda: signal.signal(signal.SIGINT, signal.SIG_DFL)  # noqa: E731
        super().__init__(
            subprocess.Popen(
                cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=_unbuffered(), preexec_fn=default_sigint
            )
        )

    def children(self):
        _, m = self.wait_for(r"processes: (\{.*\})")
        return {name: psutil.Process(pid) for name, pid in ast.literal_eval(m.group(1)).items()}


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGKILL], ids=["SIGTERM", "SIGINT", "SIGKILL"])
def test_a_signal_to_facecoach_run_leaves_no_node_running(tmp_path, sig):
    """SIGTERM/SIGINT stop every child in order (exit 0); SIGKILL of the parent takes them down with it.

    With SIGINT the nodes' output comes to this terminal (no --log-dir): none of them prints a traceback.
    """
    run = RunCommand(tmp_path, "--loop", logs=sig != signal.SIGINT)
    try:
        children = run.children()
        assert set(children) == {"face_detector", "emotion_classifier", "alert_player", "session_recorder"}
        run.wait_for(r"replaying .* at 1.0x")
        run.proc.send_signal(sig)
        try:
            code = run.proc.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            alive = {name: p.status() for name, p in children.items() if _alive(p)}
            why = f"still running {TIMEOUT} s after {sig.name} (children: {alive}):\n{run.text()}"
            raise AssertionError(why) from None
        deadline = time.monotonic() + TIMEOUT
        while any(_alive(p) for p in children.values()) and time.monotonic() < deadline:
            time.sleep(0.05)  # polling a process table: no event to wait on for a stranger's child
        left = {name: p.pid for name, p in children.items() if _alive(p)}
    finally:
        run.close()
    assert not left, f"orphans after {sig.name}: {left}"
    if sig != signal.SIGKILL:
        assert code == 0, run.text()
        text = run.text()
        assert "Traceback" not in text and "RCLError" not in text and "context is invalid" not in text, text
        assert "died" not in text, "a stop is not reported as a death"


def test_kill_9_of_the_alert_node_under_facecoach_run_is_reported_restarted_and_on_diagnostics(ros_node, tmp_path):
    from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus

    rec = Recorder()
    statuses = []

    def on_diagnostics(msg):
        with rec.cond:
            statuses.extend((time.monotonic(), s) for s in msg.status if s.name == "facecoach: alert_player")

    ros_node.create_subscription(DiagnosticArray, "/diagnostics", on_diagnostics, 10)
    run = RunCommand(tmp_path, "--loop")
    try:
        children = run.children()
        run.wait_for(r"replaying .* at 1.0x")
        rec.first(
            lambda: statuses, lambda t, s: s.level == DiagnosticStatus.OK, "alert_player OK on /diagnostics", ros_node
        )
        children["alert_player"].kill()
        killed = time.monotonic()
        t_died, _ = run.wait_for(r"alert_player \(pid \d+\) died: killed by SIGKILL after [\d.]+ s; restarting in")
        run.wait_for(r"last lines of .*alert_player\.log", after=killed)
        run.wait_for(r"alert_player restarted \(pid \d+, restart 1\)", after=killed)

        def running_again(t, s):
            return t > killed and s.level == DiagnosticStatus.OK and "restarted 1x" in s.message

        rec.first(lambda: statuses, running_again, "alert_player running again on /diagnostics", ros_node)
        run.proc.send_signal(signal.SIGTERM)
        assert run.proc.wait(timeout=TIMEOUT) == 0, run.text()
    finally:
        run.close()
    assert t_died - killed < REPORTED_WITHIN_S, f"reported after {t_died - killed:.2f} s"
