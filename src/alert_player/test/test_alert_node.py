"""The alert_player node as a separate process over DDS: feedback per frame, a cue, runtime parameters."""

import os
import signal
import subprocess
import sys
import threading
import time

import pytest
import rclpy
from rcl_interfaces.msg import Parameter, ParameterType, ParameterValue
from rcl_interfaces.srv import SetParameters
from rclpy.executors import SingleThreadedExecutor

from facecoach_common.qos import STREAM_QOS
from facecoach_msgs.msg import Emotion, Feedback

PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLASSES = ["fear", "happy", "neutral", "sad", "surprise"]
T0 = 1000.0  # stamps of the synthetic interview, seconds
TIMEOUT = 20.0


class Harness:
    """The test's own rclpy node: publishes Emotion, collects Feedback, calls the parameter service."""

    def __init__(self, ns: str):
        self.context = rclpy.Context()
        rclpy.init(context=self.context)
        self.node = rclpy.create_node("alert_player_test", namespace=ns, context=self.context)
        self.pub = self.node.create_publisher(Emotion, "emotion", STREAM_QOS)
        self.feedback = []
        self.cond = threading.Condition()
        self.node.create_subscription(Feedback, "feedback", self._on_feedback, STREAM_QOS)
        self.set_params = self.node.create_client(SetParameters, f"{ns}/alert_player/set_parameters")
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self.thread = threading.Thread(target=self.executor.spin, daemon=True)
        self.thread.start()

    def _on_feedback(self, msg):
        with self.cond:
            self.feedback.append(msg)
            self.cond.notify_all()

    def wait_for(self, predicate, what):
        deadline = time.monotonic() + TIMEOUT
        with self.cond:
            while not predicate():
                left = deadline - time.monotonic()
                assert left > 0, f"timed out waiting for {what}"
                self.cond.wait(min(left, 0.05))  # also re-checks graph state that is not signalled here

    def send(self, t, label="", confidence=0.9, has_face=True, probabilities=True):
        """Publish one Emotion and wait for the Feedback with its stamp."""
        msg = Emotion(has_face=has_face, label=label if has_face else "", confidence=confidence)
        msg.header.stamp.sec, msg.header.stamp.nanosec = int(t), round((t - int(t)) * 1e9)
        msg.header.frame_id = "camera"
        msg.model_variant = "baseline"
        if has_face:
            msg.class_names = CLASSES
            msg.probabilities = [0.025] * 5 if probabilities else []
            if probabilities:
                msg.probabilities[CLASSES.index(label) if label in CLASSES else 0] = confidence
        self.pub.publish(msg)
        stamp = (msg.header.stamp.sec, msg.header.stamp.nanosec)
        found = []

        def arrived():
            found[:] = [f for f in self.feedback if (f.header.stamp.sec, f.header.stamp.nanosec) == stamp]
            return bool(found)

        self.wait_for(arrived, f"feedback for stamp {t}")
        return found[0]

    def set_param(self, name, value):
        """Set one parameter through the standard service; return (successful, reason)."""
        if isinstance(value, str):
            pv = ParameterValue(type=ParameterType.PARAMETER_STRING, string_value=value)
        else:
            pv = ParameterValue(type=ParameterType.PARAMETER_DOUBLE, double_value=float(value))
        done = threading.Event()
        future = self.set_params.call_async(SetParameters.Request(parameters=[Parameter(name=name, value=pv)]))
        future.add_done_callback(lambda _: done.set())
        assert done.wait(TIMEOUT), f"no answer from set_parameters for {name}"
        result = future.result().results[0]
        return result.successful, result.reason

    def close(self):
        self.executor.shutdown()
        self.node.destroy_node()
        rclpy.shutdown(context=self.context)


@pytest.fixture(scope="module")
def graph(tmp_path_factory):
    ns = f"/alert_player_test_{os.getpid()}"  # unique names: other test runs may share the DDS domain
    log = open(tmp_path_factory.mktemp("node") / "alert_player.log", "w+")
    env = dict(os.environ, PYTHONPATH=PACKAGE_ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    args = ["-r", f"__ns:={ns}", "-p", "alsa_device:=null", "-p", "cooldown_s:=2.0"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "alert_player.node", "--ros-args", *args], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    h = Harness(ns)
    try:
        assert h.set_params.wait_for_service(timeout_sec=TIMEOUT), "alert_player's parameter service never appeared"
        h.wait_for(lambda: h.pub.get_subscription_count() > 0, "the node's emotion subscription")
        yield h, proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=TIMEOUT)
        h.close()
        log.seek(0)
        print(log.read())  # shown by pytest when a test failed
        log.close()


def test_feedback_for_every_frame_and_one_cue_for_a_sustained_bad_run(graph):
    h, proc = graph
    out = [h.send(T0 + i / 10, "happy") for i in range(10)]
    out += [h.send(T0 + 1 + i / 10, "sad") for i in range(25)]
    assert all(f.header.frame_id == "camera" and f.model_variant == "baseline" for f in out)
    assert out[0].emotion == "happy" and out[0].category == Feedback.CATEGORY_GOOD and out[0].category_name == "good"
    played = [f for f in out if f.cue_played]
    assert len(played) == 1 and played[0].reason == Feedback.REASON_PLAYED
    assert played[0].category == Feedback.CATEGORY_BAD and played[0].bad_share >= 0.6
    stamp = played[0].header.stamp
    assert (stamp.sec, round(stamp.nanosec / 1e8)) == (T0 + 2, 2)  # 1.2 s of sad (13 of 21 frames) at 10 Hz
    no_face = h.send(T0 + 3.5, has_face=False)
    assert (no_face.has_face, no_face.category, no_face.reason) == (False, Feedback.CATEGORY_NONE, "no_face")


def test_malformed_message_is_answered_and_the_node_keeps_running(graph):
    h, proc = graph
    bad = h.send(T0 + 4.0, "angry")
    assert bad.reason == Feedback.REASON_NO_FACE and bad.category == Feedback.CATEGORY_NONE
    assert h.send(T0 + 4.1, "sad", probabilities=False).category == Feedback.CATEGORY_NONE
    assert h.send(T0 + 4.2, "neutral").category_name == "acceptable"
    assert proc.poll() is None


def test_runtime_parameters_are_validated_and_applied(graph):
    h, proc = graph
    ok, reason = h.set_param("mapping.fear", "terrible")
    assert not ok and "mapping.fear" in reason and "good" in reason
    ok, reason = h.set_param("cooldown_s", -1.0)
    assert not ok and "cooldown_s" in reason, reason
    print(f"cooldown_s=-1 refused: {reason}")
    ok, reason = h.set_param("release_threshold", 0.9)
    assert not ok and "release_threshold must be < bad_threshold" in reason
    assert h.set_param("mapping.happy", "bad") == (True, "")
    f = h.send(T0 + 5.0, "happy")
    assert f.category == Feedback.CATEGORY_BAD and f.category_name == "bad"  # on the very next frame
    assert h.set_param("mapping_preset", "paper") == (True, "")
    assert h.send(T0 + 5.1, "happy").category_name == "good"
    ok, reason = h.set_param("mapping.sad", "good")
    assert not ok and "mapping_preset" in reason


def test_sigint_stops_the_node_cleanly(graph):
    h, proc = graph
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=TIMEOUT) == 0


def test_invalid_start_parameters_exit_with_the_reason():
    env = dict(os.environ, PYTHONPATH=PACKAGE_ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    cmd = [sys.executable, "-m", "alert_player.node", "--ros-args", "-p", "release_threshold:=0.9"]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=TIMEOUT)
    assert done.returncode == 2 and "release_threshold must be < bad_threshold" in done.stderr
