"""alert_player says on the feedback topic when the emotion stream stops: once per outage, and how.

A classifier gone (no end notice) is ``classifier_gone``; the end of a bag or video (the latched notice the
camera node and the bag replayer publish on ``stream_end``) is ``stream_ended``. The node runs as its own
process; the test plays the classifier and the stream's player over DDS.
"""

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time

import rclpy
from rclpy.executors import SingleThreadedExecutor
from std_msgs.msg import Header

from alert_player.watchdog import CLASSIFIER_GONE, STREAM_ENDED
from facecoach_common.qos import STATE_QOS, STREAM_QOS
from facecoach_msgs.msg import Emotion, Feedback

PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TIMEOUT = 20.0
CLASSES = ["fear", "happy", "neutral", "sad", "surprise"]
SILENT = (CLASSIFIER_GONE, STREAM_ENDED)


def _emotion(t: float) -> Emotion:
    msg = Emotion(has_face=True, label="happy", confidence=0.9, class_names=CLASSES, model_variant="int8")
    msg.probabilities = [0.025, 0.9, 0.025, 0.025, 0.025]
    msg.header.stamp.sec, msg.header.stamp.nanosec = int(t), round((t - int(t)) * 1e9)
    msg.header.frame_id = "camera"
    return msg


class AlertGraph:
    """An alert_player process in its own namespace, and the test's node: emotions out, feedback in."""

    def __init__(self, folder, name: str) -> None:
        ns = f"/{name}_{os.getpid()}"
        env = dict(os.environ, PYTHONPATH=PACKAGE_ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
        self.log = open(folder / "alert_player.log", "w+")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "alert_player.node", "--ros-args", "-r", f"__ns:={ns}", "-p", "alsa_device:=null"],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self.context = rclpy.Context()
        rclpy.init(context=self.context)
        self.node = rclpy.create_node(name, namespace=ns, context=self.context)
        self.got, self.cond = [], threading.Condition()  # (receive time, Feedback)
        self.pub = self.node.create_publisher(Emotion, "emotion", STREAM_QOS)
        self.node.create_subscription(Feedback, "feedback", self._on_feedback, STREAM_QOS)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        threading.Thread(target=self.executor.spin, daemon=True).start()

    def _on_feedback(self, msg) -> None:
        with self.cond:
            self.got.append((time.monotonic(), msg))
            self.cond.notify_all()

    def wait_for(self, predicate, what: str) -> None:
        assert self.within(predicate, TIMEOUT), f"timed out waiting for {what}"

    def within(self, predicate, seconds: float) -> bool:
        """Whether ``predicate()`` holds within ``seconds`` (False at once when the node's process ended)."""
        deadline = time.monotonic() + seconds
        with self.cond:
            while not predicate():
                if deadline <= time.monotonic() or self.proc.poll() is not None:
                    return False
                self.cond.wait(0.05)
        return True

    def connect(self) -> None:
        self.wait_for(lambda: self.pub.get_subscription_count() > 0, "the node's emotion subscription")
        self.wait_for(lambda: self.node.count_publishers("feedback") > 0, "the node's feedback publisher")

    def close(self) -> str:
        """Stop both sides; the node's log."""
        self.executor.shutdown()
        self.node.destroy_node()
        rclpy.shutdown(context=self.context)
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(timeout=TIMEOUT)
        self.log.seek(0)
        text = self.log.read()
        self.log.close()
        print(text)
        return text


@contextlib.contextmanager
def alert_graph(folder, name: str):
    graph = AlertGraph(folder, name)
    try:
        yield graph
    finally:
        graph.log_text = graph.close()


def test_the_feedback_topic_says_once_when_the_classifier_is_gone(tmp_path):
    assert Feedback.REASON_CLASSIFIER_GONE == CLASSIFIER_GONE

    def is_gone(entry):
        return entry[1].reason == CLASSIFIER_GONE

    with alert_graph(tmp_path, "alert_gone_test") as g:
        got, pub, wait_for = g.got, g.pub, g.wait_for
        g.connect()
        sent = []
        for i in range(15):  # half a second at 30 fps, each answered before the next is sent
            sent.append(time.monotonic())
            pub.publish(_emotion(1000 + i / 30))
            wait_for(lambda n=len(sent): sum(not is_gone(e) for e in got) >= n, f"feedback {i}")
        wait_for(lambda: any(is_gone(e) and e[0] > sent[-1] for e in got), "the classifier_gone feedback")
        # A loaded machine can stall this test for over a second mid-stream: that is an outage too, and
        # the node may say so. Every report must come at least 1 s after the last message before it.
        for at, _ in filter(is_gone, got):
            silent = at - max(t for t in sent if t < at)
            assert 1.0 <= silent < 3.0, f"said after {silent:.2f} s of silence"
        gone = next(m for at, m in got if at > sent[-1] and m.reason == CLASSIFIER_GONE)
        header = gone.header
        assert (header.stamp.sec, header.stamp.nanosec, header.frame_id) == (0, 0, "camera"), "about no frame"
        assert (gone.has_face, gone.category, gone.category_name, gone.cue_played, gone.model_variant) == (
            False,
            Feedback.CATEGORY_NONE,
            "none",
            False,
            "int8",
        )
        pub.publish(_emotion(1010.0))  # the classifier is back
        wait_for(lambda: not is_gone(got[-1]), "feedback after the outage")
        assert sum(is_gone(e) for e in got if e[0] > sent[-1]) == 1, "said once per outage"
        assert got[-1][1].emotion == "happy"
    text = g.log_text
    assert "no emotion message for 1.0 s" in text and "emotion messages arrive again after" in text


def test_the_end_of_a_stream_is_told_as_its_end_and_a_later_silence_as_a_classifier_gone(tmp_path):
    assert Feedback.REASON_STREAM_ENDED == STREAM_ENDED
    with alert_graph(tmp_path, "alert_end_test") as g:
        end_pub = g.node.create_publisher(Header, "stream_end", STATE_QOS)

        def reasons():
            return [m.reason for _, m in g.got]

        def stream(start: float) -> None:
            for i in range(15):  # half a second at 30 fps, each answered before the next is sent
                n = sum(r not in SILENT for r in reasons())
                answered = lambda n=n: sum(r not in SILENT for r in reasons()) > n  # noqa: E731
                g.pub.publish(_emotion(start + i / 30))
                # Matching is per direction: the node's feedback publisher may not have matched our subscription
                # yet when it answers the first frame. That frame is sent again until its feedback comes back.
                if i == 0:
                    for _ in range(40):
                        if g.within(answered, 0.5):
                            break
                        g.pub.publish(_emotion(start))
                g.wait_for(answered, f"feedback {i}")

        g.connect()
        g.wait_for(lambda: end_pub.get_subscription_count() > 0, "the node's stream_end subscription")
        stream(1000.0)
        end_pub.publish(Header(frame_id="sample/interview"))  # the bag (or video file) has ended
        g.wait_for(lambda: reasons()[-1] in SILENT, "the feedback about the silence after the end")
        ended = g.got[-1][1]
        assert ended.reason == STREAM_ENDED, f"the end of the stream was told as {ended.reason!r}"
        assert (ended.header.stamp.sec, ended.header.stamp.nanosec, ended.category) == (0, 0, Feedback.CATEGORY_NONE)

        # A new stream (a second replay) that stops without a notice: the classifier is gone. The first
        # stream's latched notice came before this stream started and must not excuse this silence.
        stream(2000.0)
        g.wait_for(lambda: reasons()[-1] in SILENT, "the feedback about the silence without an end notice")
        assert reasons()[-1] == CLASSIFIER_GONE
        assert sum(r in SILENT for r in reasons()) == 2, [r for r in reasons() if r in SILENT]
    text = g.log_text
    assert "the stream ended" in text and "no emotion message for 1.0 s" in text
