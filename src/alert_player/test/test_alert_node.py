"""The alert_player node as a separate process over DDS: feedback per frame, a cue, runtime parameters."""

import contextlib
import itertools
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
from facecoach_common.services import call_idempotent
from facecoach_msgs.msg import Emotion, Feedback

PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLASSES = ["fear", "happy", "neutral", "sad", "surprise"]
T0 = 1000.0  # stamps of the synthetic interview, seconds
TIMEOUT = 20.0
_COUNT = itertools.count()


def emotion(t, label="", confidence=0.9, has_face=True, probabilities=True):
    """An Emotion stamped ``t`` from the camera: ``label`` at ``confidence``, 0.025 for the rest (or the given list)."""
    msg = Emotion(has_face=has_face, label=label if has_face else "", confidence=confidence)
    msg.header.stamp.sec, msg.header.stamp.nanosec = int(t), round((t - int(t)) * 1e9)
    msg.header.frame_id = "camera"
    msg.model_variant = "baseline"
    if has_face:
        msg.class_names = CLASSES
        msg.probabilities = [0.025] * 5 if probabilities else []
        if isinstance(probabilities, list):
            msg.probabilities = probabilities
        elif probabilities:
            msg.probabilities[CLASSES.index(label) if label in CLASSES else 0] = confidence
    return msg


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
        msg = emotion(t, label, confidence, has_face, probabilities)
        self.pub.publish(msg)
        stamp = (msg.header.stamp.sec, msg.header.stamp.nanosec)
        found = []

        def arrived():
            found[:] = [f for f in self.feedback if (f.header.stamp.sec, f.header.stamp.nanosec) == stamp]
            return bool(found)

        self.wait_for(arrived, f"feedback for stamp {t}")
        return found[0]

    def warm_up(self):
        """Neutral frames stamped long before the tests' own, until Feedback comes back; then forget that feedback.

        Matching is per direction: the node can hear our emotion publisher before its feedback publisher has
        matched our subscription, and the feedback of a test's first frame was then lost (CI: timed out waiting
        for the feedback of stamp 1000.0, while the node had logged the frame's arrival).
        """
        deadline, t = time.monotonic() + TIMEOUT, 1.0
        while True:
            with self.cond:
                if self.feedback:
                    break
                assert time.monotonic() < deadline, "no feedback came back for the warm-up frames"
            self.pub.publish(emotion(t, "neutral"))
            t += 0.1
            with self.cond:
                self.cond.wait(0.1)
        time.sleep(0.5)  # the feedback of warm-up frames still on their way
        with self.cond:
            self.feedback.clear()

    def send_live(self, t, label, period=0.05):
        """Publish one Emotion stamped ``t`` (stamps may repeat) and wait for one more Feedback; pace the stream."""
        t_next = time.monotonic() + period
        with self.cond:
            count = len(self.feedback)
        self.pub.publish(emotion(t, label))
        self.wait_for(lambda: len(self.feedback) > count, f"feedback for a frame stamped {t}")
        with self.cond:
            out = self.feedback[count]
        time.sleep(max(0.0, t_next - time.monotonic()))  # a camera's pace: the node's receive clock must advance
        return out

    def set_param(self, name, value):
        """Set one parameter through the standard service; return (successful, reason)."""
        if isinstance(value, str):
            pv = ParameterValue(type=ParameterType.PARAMETER_STRING, string_value=value)
        else:
            pv = ParameterValue(type=ParameterType.PARAMETER_DOUBLE, double_value=float(value))
        request = SetParameters.Request(parameters=[Parameter(name=name, value=pv)])
        answer = call_idempotent(self.set_params, request, TIMEOUT, time.sleep)  # the executor spins elsewhere
        assert answer is not None, f"no answer from set_parameters for {name}"
        return answer.results[0].successful, answer.results[0].reason

    def close(self):
        self.executor.shutdown()
        self.node.destroy_node()
        rclpy.shutdown(context=self.context)


@contextlib.contextmanager
def alert_node(folder, *params):
    """An alert_player process in its own namespace (other test runs may share the DDS domain) and a harness."""
    ns = f"/alert_player_test_{os.getpid()}_{next(_COUNT)}"
    log = open(folder / f"alert_player{ns.replace('/', '_')}.log", "w+")
    env = dict(os.environ, PYTHONPATH=PACKAGE_ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    args = ["-r", f"__ns:={ns}", "-p", "alsa_device:=null", "-p", "cooldown_s:=2.0"]
    args += [a for p in params for a in ("-p", p)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "alert_player.node", "--ros-args", *args], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    h = Harness(ns)
    try:
        assert h.set_params.wait_for_service(timeout_sec=TIMEOUT), "alert_player's parameter service never appeared"
        h.wait_for(lambda: h.pub.get_subscription_count() > 0, "the node's emotion subscription")
        h.warm_up()
        yield h, proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=TIMEOUT)
        h.close()
        log.seek(0)
        print(log.read())  # shown by pytest when a test failed
        log.close()


@pytest.fixture(scope="module")
def graph(tmp_path_factory):
    with alert_node(tmp_path_factory.mktemp("node")) as running:
        yield running


def bad_run(h, t0):
    """Two seconds of sad at 10 Hz: one cue is due 1.2 s in."""
    return [h.send(t0 + i / 10, "sad") for i in range(20)]


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


def test_a_neutral_top_label_with_a_high_bad_probability_cues_by_default(tmp_path):
    """The default rule sums P(fear) + P(sad); the label rule (kept for comparison) would stay silent."""
    p = [0.25, 0.05, 0.45, 0.2, 0.05]  # fear, happy, neutral, sad, surprise: neutral on top, P(bad) = 0.45
    with alert_node(tmp_path) as (h, proc):
        out = [h.send(T0 + i / 10, "neutral", confidence=0.45, probabilities=p) for i in range(20)]
        assert all(f.category_name == "acceptable" for f in out)
        assert abs(out[0].bad_probability - 0.45) < 1e-6
        assert [f.reason for f in out if f.cue_played] == [Feedback.REASON_PLAYED]
        assert h.set_param("bad_rule", "label") == (True, "")
        out = [h.send(T0 + 20 + i / 10, "neutral", confidence=0.45, probabilities=p) for i in range(20)]
        assert not any(f.cue_played for f in out) and out[-1].bad_share == 0.0
        ok, reason = h.set_param("bad_rule", "argmax")
        assert not ok and "bad_rule" in reason


@pytest.mark.parametrize("kind", ["backwards", "frozen", "jumps"])
def test_stamps_that_go_back_freeze_or_jump_fall_back_to_the_receive_clock(tmp_path, kind):
    """0 cues in 14 s of 0.9-confidence sad, and not a word, on these stamps; now a cue and one warning."""
    stamp = {
        "backwards": lambda i: T0 + 100 - i * 0.05,
        "frozen": lambda i: T0 + 7.0,
        "jumps": lambda i: T0 + i * 0.05 + 6.0 * (i // 15),
    }[kind]
    with alert_node(tmp_path) as (h, proc):
        out = [h.send_live(stamp(i), "sad") for i in range(80)]  # 4 s at 20 frames a second
        assert [f.reason for f in out if f.cue_played] == [Feedback.REASON_PLAYED]
    log = (tmp_path / next(p.name for p in tmp_path.iterdir() if p.suffix == ".log")).read_text()
    assert log.count("cues are timed by the receive clock from now on") == 1, log


def test_malformed_message_is_answered_and_the_node_keeps_running(graph):
    h, proc = graph
    bad = h.send(T0 + 4.0, "angry")
    assert bad.reason == Feedback.REASON_MALFORMED and bad.category == Feedback.CATEGORY_NONE
    assert h.send(T0 + 4.1, "sad", probabilities=False).category == Feedback.CATEGORY_NONE
    overconfident = h.send(T0 + 4.15, "sad", confidence=5.0)
    assert (overconfident.reason, overconfident.confidence, overconfident.emotion) == ("malformed", 0.0, "")
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


def test_sigint_stops_the_node_cleanly(tmp_path):
    with alert_node(tmp_path) as (h, proc):
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=TIMEOUT) == 0


def test_a_cue_on_a_broken_sound_output_is_not_reported_as_played(tmp_path):
    """aplay failing on the device: the feedback says audio_failed, never cue_played=true."""
    with alert_node(tmp_path, "alsa_device:=hw:97,0") as (h, proc):
        out = bad_run(h, T0)
        assert not any(f.cue_played for f in out)
        assert [f.reason for f in out].count(Feedback.REASON_AUDIO_FAILED) == 1
        h.set_param("alsa_device", "null")
        [h.send(T0 + 2 + i / 10, "happy") for i in range(20)]  # re-arms; the cooldown passes
        out = bad_run(h, T0 + 4)  # the next cue plays on the working device
        assert [f.reason for f in out if f.cue_played] == [Feedback.REASON_PLAYED]


def test_an_alsa_device_that_runs_a_command_is_refused_over_the_parameter_service(tmp_path):
    """ALSA's file plugin runs '|cmd' in a shell; ${IFS} passed the old "no spaces" check."""
    marker = tmp_path / "pwned"
    with alert_node(tmp_path) as (h, proc):
        ok, reason = h.set_param("alsa_device", f"file:'|touch${{IFS}}{marker}',raw")
        assert not ok and "not a plain ALSA device name" in reason
        out = bad_run(h, T0)  # a cue still plays, on the kept device
        assert [f.reason for f in out if f.cue_played] == [Feedback.REASON_PLAYED]
        assert h.set_param("alsa_device", "plughw:CARD=x,DEV=0") == (True, "")
    assert not marker.exists()


def test_a_fifo_or_a_huge_wav_as_the_cue_never_blocks_the_node(tmp_path):
    fifo = tmp_path / "cue.fifo"
    os.mkfifo(fifo)
    huge = tmp_path / "huge.wav"
    huge.write_bytes(_wav_header(claimed_bytes=2**31 - 64) + bytes(1000))
    with alert_node(tmp_path, f"cue_wav:={fifo}") as (h, proc):
        assert h.set_param("cue_wav", str(huge)) == (True, "")
        out = bad_run(h, T0)  # the cue falls back to the tone, and the node answers every frame
        assert [f.cue_played for f in out].count(True) == 1
        assert proc.poll() is None


def _wav_header(claimed_bytes):
    """A 16-bit mono 16 kHz WAV header whose data chunk claims ``claimed_bytes``."""
    import struct

    fmt = struct.pack("<4sIHHIIHH", b"fmt ", 16, 1, 1, 16000, 32000, 2, 16)
    return (
        b"RIFF"
        + struct.pack("<I", 4 + len(fmt) + 8 + claimed_bytes)
        + b"WAVE"
        + fmt
        + b"data"
        + struct.pack("<I", claimed_bytes)
    )


def test_invalid_start_parameters_exit_with_the_reason():
    env = dict(os.environ, PYTHONPATH=PACKAGE_ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    cmd = [sys.executable, "-m", "alert_player.node", "--ros-args", "-p", "release_threshold:=0.9"]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=TIMEOUT)
    assert done.returncode == 2 and "release_threshold must be < bad_threshold" in done.stderr
