"""The end of a bag or video is told as the end, not as a stopped classifier (issue 23), over DDS.

The alert node runs as its own process; this test plays the stream's player: emotions, then the latched
end-of-stream notice that the camera node and the bag replayer publish.
"""

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


def test_the_end_of_a_stream_is_told_as_its_end_and_a_later_silence_as_a_classifier_gone(tmp_path):
    assert Feedback.REASON_STREAM_ENDED == STREAM_ENDED
    ns = f"/alert_end_test_{os.getpid()}"
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
    node = rclpy.create_node("alert_end_test", namespace=ns, context=context)
    got, cond = [], threading.Condition()

    def on_feedback(msg):
        with cond:
            got.append(msg)
            cond.notify_all()

    def wait_for(predicate, what):
        deadline = time.monotonic() + TIMEOUT
        with cond:
            while not predicate():
                assert deadline > time.monotonic() and proc.poll() is None, f"timed out waiting for {what}"
                cond.wait(0.05)

    def stream(start: float) -> None:
        for i in range(15):  # half a second at 30 fps, each answered before the next is sent
            n = sum(m.reason not in SILENT for m in got)
            pub.publish(_emotion(start + i / 30))
            wait_for(lambda n=n: sum(m.reason not in SILENT for m in got) > n, f"feedback {i}")

    pub = node.create_publisher(Emotion, "emotion", STREAM_QOS)
    end_pub = node.create_publisher(Header, "stream_end", STATE_QOS)
    node.create_subscription(Feedback, "feedback", on_feedback, STREAM_QOS)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    threading.Thread(target=executor.spin, daemon=True).start()
    try:
        wait_for(lambda: pub.get_subscription_count() > 0, "the node's emotion subscription")
        wait_for(lambda: end_pub.get_subscription_count() > 0, "the node's stream_end subscription")
        wait_for(lambda: node.count_publishers("feedback") > 0, "the node's feedback publisher")
        stream(1000.0)
        end_pub.publish(Header(frame_id="sample/interview"))  # the bag (or video file) has ended
        wait_for(lambda: got[-1].reason in SILENT, "the feedback about the silence after the end")
        ended = got[-1]
        assert ended.reason == STREAM_ENDED, f"the end of the stream was told as {ended.reason!r}"
        assert (ended.header.stamp.sec, ended.header.stamp.nanosec, ended.category) == (0, 0, Feedback.CATEGORY_NONE)

        # A new stream (a second replay) that stops without a notice: the classifier is gone. The first
        # stream's latched notice came before this stream started and must not excuse this silence.
        stream(2000.0)
        wait_for(lambda: got[-1].reason in SILENT, "the feedback about the silence without an end notice")
        assert got[-1].reason == CLASSIFIER_GONE
        assert sum(m.reason in SILENT for m in got) == 2, [m.reason for m in got if m.reason in SILENT]
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
    assert "the stream ended" in text and "no emotion message for 1.0 s" in text
