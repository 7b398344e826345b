"""alert_player says on the feedback topic when the emotion stream stops (a classifier gone), once, and recovers."""

import os
import signal
import subprocess
import sys
import threading
import time

import rclpy
from rclpy.executors import SingleThreadedExecutor

from alert_player.watchdog import CLASSIFIER_GONE
from facecoach_common.qos import STREAM_QOS
from facecoach_msgs.msg import Emotion, Feedback

PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TIMEOUT = 20.0
CLASSES = ["fear", "happy", "neutral", "sad", "surprise"]


def _emotion(t: float) -> Emotion:
    msg = Emotion(has_face=True, label="happy", confidence=0.9, class_names=CLASSES, model_variant="int8")
    msg.probabilities = [0.025, 0.9, 0.025, 0.025, 0.025]
    msg.header.stamp.sec, msg.header.stamp.nanosec = int(t), round((t - int(t)) * 1e9)
    msg.header.frame_id = "camera"
    return msg


def test_the_feedback_topic_says_once_when_the_classifier_is_gone(tmp_path):
    assert Feedback.REASON_CLASSIFIER_GONE == CLASSIFIER_GONE
    ns = f"/alert_gone_test_{os.getpid()}"
    env = dict(os.environ, PYTHONPATH=PACKAGE_ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    log = open(tmp_path / "alert_player.log", "w+")
    proc = subprocess.Popen(
        [sys.executable, "-m", "alert_player.node", "--ros-args", "-r", f"__ns:={ns}", "-p", "alsa_device:=null"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    context = rclpy.Context()
    rclpy.init(context=context)
    node = rclpy.create_node("alert_gone_test", namespace=ns, context=context)
    got, cond = [], threading.Condition()

    def on_feedback(msg):
        with cond:
            got.append((time.monotonic(), msg))
            cond.notify_all()

    def wait_for(predicate, what):
        deadline = time.monotonic() + TIMEOUT
        with cond:
            while not predicate():
                assert deadline > time.monotonic() and proc.poll() is None, f"timed out waiting for {what}"
                cond.wait(0.05)

    def is_gone(entry):
        return entry[1].reason == CLASSIFIER_GONE

    pub = node.create_publisher(Emotion, "emotion", STREAM_QOS)
    node.create_subscription(Feedback, "feedback", on_feedback, STREAM_QOS)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    threading.Thread(target=executor.spin, daemon=True).start()
    try:
        wait_for(lambda: pub.get_subscription_count() > 0, "the node's emotion subscription")
        wait_for(lambda: node.count_publishers("feedback") > 0, "the node's feedback publisher")
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
        g = next(m for at, m in got if at > sent[-1] and m.reason == CLASSIFIER_GONE)
        assert (g.header.stamp.sec, g.header.stamp.nanosec, g.header.frame_id) == (0, 0, "camera"), "about no frame"
        assert (g.has_face, g.category, g.category_name, g.cue_played, g.model_variant) == (
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
    finally:
        executor.shutdown()
        node.destroy_node()
        rclpy.shutdown(context=context)
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=TIMEOUT)
        log.seek(0)
        text = log.read()
        log.close()
        print(text)
    assert "no emotion message for 1.0 s" in text and "emotion messages arrive again after" in text
