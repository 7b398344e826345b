"""The classifier's ~/calibrate service and calibration_file, and `facecoach calibrate`, over DDS."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from facecoach_cli.children import executable_path
from facecoach_cli.ros_calls import get_parameter, set_parameter, trigger
from facecoach_common.stopping import wait_until

REPO = Path(__file__).resolve().parents[1]
# The module's classifier gets its own name: single-process mode's classifier (below) is /emotion_classifier.
NODE = "/calib_classifier"


def _crop():
    """A generated face-sized crop (a lit gradient with a darker band: not a face, a stable input)."""
    y, x = np.mgrid[0:48, 0:48]
    img = (90 + 2 * x + y).astype(np.uint8)
    img[30:36, 12:36] = 40
    return np.dstack([img] * 3)


def _face(stamp_ns: int, crop=None):
    from facecoach_common.image_conversions import numpy_to_image
    from facecoach_msgs.msg import Face

    msg = Face(has_face=True)
    msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(stamp_ns, 10**9)
    msg.roi.x_offset, msg.roi.y_offset, msg.roi.width, msg.roi.height = 100, 100, 80, 80
    msg.crop = numpy_to_image(_crop() if crop is None else crop)
    return msg


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """The classifier's HOME: where its default calibration file lands."""
    return tmp_path_factory.mktemp("home")


@pytest.fixture(scope="module")
def classifier(home, ros_domain):
    """One classifier process for this module's tests (each starts from calibration_file '')."""
    env = dict(os.environ, HOME=str(home))
    env.pop("FACECOACH_HOME", None)  # the default calibration file: ~/.facecoach/calibration.json
    cmd = [
        executable_path("emotion_classifier", "emotion_classifier"),
        "--ros-args",
        "-p",
        f"models_dir:={REPO / 'models'}",
        "-p",
        "calibrate_seconds:=1.0",
        "-p",
        "diagnostics_period_s:=0.2",
        "-p",
        "calibrate_check:=false",  # the generated crop is not a face; the check has its own test on real faces
        "-r",
        f"__node:={NODE[1:]}",
        "-r",
        "face:=/c/face",
        "-r",
        "emotion:=/c/emotion",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    yield proc
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=20)
    print(out.decode()[-3000:])


class Faces:
    """Publishes face frames every ``period`` s (~50 Hz) from a thread while the test's node spins (a neutral hold)."""

    def __init__(self, node, prefix="/c", crop=None, period=0.02) -> None:
        from facecoach_common.qos import STREAM_QOS
        from facecoach_msgs.msg import Emotion, Face

        self.node, self.got, self.n, self.crop, self.period = node, [], 0, crop, period
        node.create_subscription(Emotion, f"{prefix}/emotion", self.got.append, STREAM_QOS)
        self.pub = node.create_publisher(Face, f"{prefix}/face", STREAM_QOS)
        self._stop = threading.Event()
        self._thread = None

    def one(self, timeout=10.0):
        """Send one frame and return the Emotion that answers it."""
        self.n += 1
        stamp = self.n * 20_000_000
        self.pub.publish(_face(stamp, self.crop))
        ok = wait_until(self.node, lambda: any(_ns(m) == stamp for m in self.got), timeout)
        assert ok, "no answer from the classifier"
        return next(m for m in self.got if _ns(m) == stamp)

    def connect(self, timeout=60.0):
        assert wait_until(self.node, lambda: self.pub.get_subscription_count() > 0, timeout), "no classifier"
        for _ in range(20):
            try:
                return self.one(timeout=3.0)
            except AssertionError:
                continue
        raise AssertionError("no answer from the classifier")

    def __enter__(self):
        def run():
            while not self._stop.wait(self.period):
                self.n += 1
                self.pub.publish(_face(self.n * 20_000_000, self.crop))

        self._stop.clear()
        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def _ns(msg) -> int:
    return msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec


def _neutral(msg) -> float:
    return msg.probabilities[list(msg.class_names).index("neutral")]


def test_calibrate_service_file_and_diagnostics(ros_node, classifier, home, tmp_path):
    from diagnostic_msgs.msg import DiagnosticArray

    faces = Faces(ros_node)
    diags = []
    ros_node.create_subscription(DiagnosticArray, "/diagnostics", diags.append, 10)
    faces.connect()
    assert set_parameter(ros_node, NODE, "calibration_file", "")[0]
    before = faces.one()
    assert before.label and _neutral(before) < 0.5  # the generated crop does not read as neutral

    ok, message = trigger(ros_node, f"{NODE}/calibrate", timeout=10.0)  # no frames during the hold
    assert not ok and "only 0 face frame" in message, message

    with faces:
        ok, message = trigger(ros_node, f"{NODE}/calibrate", timeout=15.0)
    assert ok, message
    default = home / ".facecoach" / "calibration.json"
    assert f"saved to {default}" in message and "neutral" in message, message
    saved = json.loads(default.read_text())
    assert saved["frames"] >= 10 and saved["model_variant"] == "baseline"
    assert get_parameter(ros_node, NODE, "calibration_file") == str(default)
    after = faces.one()
    assert after.label == "neutral" and _neutral(after) > _neutral(before) + 0.1

    def shown(value):
        def check():
            for d in diags[-3:]:
                for s in d.status:
                    kv = {v.key: v.value for v in s.values}
                    if s.name == "facecoach: emotion_classifier" and value(kv, s):
                        return True
            return False

        return check

    assert wait_until(
        ros_node, shown(lambda kv, s: kv.get("calibration_file") == str(default) and "neutral" in kv["calibration"]), 10
    )
    assert wait_until(
        ros_node, shown(lambda kv, s: "neutral +" in kv["calibration_bias"] and "calibrated" in s.message), 5
    )

    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    for path, reason in ((bad, "not JSON"), (tmp_path / "missing.json", "cannot read"), (tmp_path, "regular file")):
        ok, why = set_parameter(ros_node, NODE, "calibration_file", str(path))
        assert not ok and reason in why and "calibration_file" in why, why
    assert get_parameter(ros_node, NODE, "calibration_file") == str(default)
    assert faces.one().probabilities == pytest.approx(list(after.probabilities), abs=1e-4)  # the old one kept

    ok, why = set_parameter(ros_node, NODE, "calibration_file", "")
    assert ok, why
    assert faces.one().probabilities == pytest.approx(list(before.probabilities), abs=1e-4)  # off
    assert wait_until(ros_node, shown(lambda kv, s: kv.get("calibration") == "off"), 10)

    ok, why = set_parameter(ros_node, NODE, "calibration_file", str(default))
    assert ok, why
    assert faces.one().probabilities == pytest.approx(list(after.probabilities), abs=1e-4)

    ok, why = set_parameter(ros_node, NODE, "calibrate_seconds", 0.1)
    assert not ok and "calibrate_seconds" in why


def _facecoach(*args, timeout=60, **env):
    cmd = [sys.executable, "-m", "facecoach_cli.cli", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=dict(os.environ, **env))


def test_facecoach_calibrate_command(ros_node, classifier, tmp_path, capsys):
    faces = Faces(ros_node)
    faces.connect()
    assert set_parameter(ros_node, NODE, "calibration_file", "")[0]
    mine = tmp_path / "me" / "calibration.json"
    with faces:
        done = _facecoach("calibrate", "--node", NODE, "--seconds", "1.5", "--file", str(mine), "--no-countdown")
    assert done.returncode == 0, done.stderr + done.stdout
    assert "hold a neutral face" in done.stdout.lower() and "neutral" in done.stdout and str(mine) in done.stdout
    assert json.loads(mine.read_text())["seconds"] == 1.5
    assert get_parameter(ros_node, NODE, "calibration_file") == str(mine)
    assert get_parameter(ros_node, NODE, "calibrate_seconds") == 1.5
    assert faces.one().label == "neutral"

    from facecoach_cli.commands.calibrate import calibrate

    out = io.StringIO()  # the command's function in this process: no face in view now
    assert calibrate(ros_node, NODE, 1.0, None, 5.0, False, out) == 1
    assert "only 0 face frame" in capsys.readouterr().err and "Hold a neutral face" in out.getvalue()


def test_facecoach_calibrate_into_a_profile(ros_node, classifier, tmp_path):
    """`calibrate --profile alice`: the calibration beside alice's profile, its calibration_file set, bob's kept."""
    import yaml

    faces = Faces(ros_node)
    faces.connect()
    home = tmp_path / "home"
    (home / "profiles").mkdir(parents=True)
    profile = home / "profiles" / "alice.yaml"
    profile.write_text("alert_player:\n  ros__parameters:\n    cue_wav: /voices/alice.wav\n")
    with faces:
        args = ["calibrate", "--node", NODE, "--seconds", "1.5", "--no-countdown", "--profile", "alice"]
        done = _facecoach(*args, FACECOACH_HOME=str(home))
    assert done.returncode == 0, done.stderr + done.stdout
    cal = home / "profiles" / "alice.calibration.json"
    assert json.loads(cal.read_text())["seconds"] == 1.5
    assert get_parameter(ros_node, NODE, "calibration_file") == str(cal)
    assert yaml.safe_load(profile.read_text()) == {
        "alert_player": {"ros__parameters": {"cue_wav": "/voices/alice.wav"}},
        "emotion_classifier": {"ros__parameters": {"calibration_file": str(cal)}},
    }
    assert f"profile {profile}: emotion_classifier calibration_file = {cal}" in done.stdout


def test_facecoach_calibrate_with_no_classifier_running():
    done = _facecoach("calibrate", "--seconds", "1", "--node", "/nobody", "--wait", "1", timeout=30)
    assert done.returncode == 2
    assert done.stderr.startswith("facecoach calibrate: ") and "/nobody/calibrate" in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("executor", ["single", "multi"])
def test_calibrate_in_single_process_mode(ros_node, tmp_path, executor):
    """The service awaits the hold without blocking the frames on either executor of single-process mode.

    It starts with a calibration_file that cannot be used: a WARN in /diagnostics, uncalibrated; the
    calibration then writes that file anew and applies it.
    """
    from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus

    bad = tmp_path / "broken.json"
    bad.write_text("{")
    cmd = [sys.executable, "-m", "facecoach.single_process", "--mode", "replay", "--nodes", "emotion_classifier"]
    cmd += ["--executor", executor, "--ros-args", "-p", f"calibration_file:={bad}", "-p", "calibrate_seconds:=4.0"]
    cmd += ["-p", "calibrate_check:=false"]  # the generated crop is not a face
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=dict(os.environ))
    diags = []
    ros_node.create_subscription(DiagnosticArray, "/diagnostics", diags.append, 10)

    def status():  # this process's status (the module's classifier may still be reporting beside it)
        found = [
            s
            for d in diags
            for s in d.status
            if s.name == "facecoach: emotion_classifier"
            and {v.key: v.value for v in s.values}.get("calibration_file") == str(bad)
        ]
        return found[-1] if found else None

    try:
        # 10 Hz: the multi-threaded executor falls far behind a 50 Hz flood on 2 cores (executors.py), and this
        # test is about the hold not blocking the frames, not about throughput.
        faces = Faces(ros_node, "/facecoach", period=0.1)
        faces.connect()
        assert wait_until(ros_node, lambda: status() is not None, 10)
        assert status().level == DiagnosticStatus.WARN and "calibration_file refused" in status().message
        sent, answered = faces.n, len(faces.got)
        with faces:
            ok, message = trigger(ros_node, "/emotion_classifier/calibrate", timeout=15.0)
        sent, answered = faces.n - sent, len(faces.got) - answered  # a failure says which side was slow
        assert ok and f"saved to {bad}" in message, f"{message} ({sent} frames sent in the hold, {answered} answered)"
        assert faces.one().label == "neutral"
        assert wait_until(ros_node, lambda: status().level == DiagnosticStatus.OK, 10), status().message
        assert "calibrated" in status().message
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=20)
        print(out.decode()[-3000:])


# ------------------------------------------------------------------ crafted files (issue 20, item 5)


def _crafted(folder: Path) -> dict:
    """Calibration files made to kill a parser: huge numbers, deep nesting; each also a valid-looking file."""
    from emotion_classifier import calibration, calibration_file
    from emotion_classifier.labels import CLASSES

    rng = np.random.default_rng(3)
    hold = rng.dirichlet([1, 1, 4, 3, 1], 40)  # a neutral hold that reads partly sad
    good = folder / "good.json"
    calibration_file.save(calibration.fit(hold, CLASSES, "baseline", 2.0), str(good))
    text = good.read_text()
    huge = "1" + "0" * 4000  # 10**4000: OverflowError in math.isfinite
    files = {
        "frames 10**4000": (text.replace('"frames": 40', '"frames": ' + huge), "frames must be a finite number"),
        "30000-deep JSON": ("[" * 30000 + "]" * 30000, "nested too deeply"),
        "bias 10**4000": (text.replace('"bias": [', '"bias": [' + huge + ", ", 1), "bias must be a list"),
        "version 10**4000": (text.replace('"version": 1', '"version": ' + huge), "calibration version"),
    }
    paths = {"good": (good, "")}
    for i, (what, (content, reason)) in enumerate(files.items()):
        path = folder / f"crafted{i}.json"
        path.write_text(content)
        paths[what] = (path, reason)
    return paths


@pytest.mark.parametrize("what", ["frames 10**4000", "30000-deep JSON"])
def test_a_crafted_calibration_file_at_start_up_leaves_the_classifier_running_uncalibrated(ros_node, tmp_path, what):
    path, reason = _crafted(tmp_path)[what]
    cmd = [executable_path("emotion_classifier", "emotion_classifier"), "--ros-args"]
    cmd += ["-p", f"models_dir:={REPO / 'models'}", "-p", f"calibration_file:={path}"]
    cmd += ["-r", "__node:=crafted_classifier", "-r", "face:=/k/face", "-r", "emotion:=/k/emotion"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=dict(os.environ))
    try:
        faces = Faces(ros_node, "/k")
        answer = faces.connect()  # a dead classifier never answers
        assert answer.label in answer.class_names and proc.poll() is None
        assert get_parameter(ros_node, "/crafted_classifier", "calibration_file") == str(path)
    finally:
        proc.send_signal(signal.SIGINT)
        out = proc.communicate(timeout=20)[0].decode()
    warned = [line for line in out.splitlines() if "calibration_file refused, running uncalibrated" in line]
    assert len(warned) == 1 and "[WARN]" in warned[0] and reason in warned[0], out[-3000:]
    assert "Traceback" not in out and proc.returncode == 0, out[-3000:]


def test_crafted_calibration_files_at_run_time_are_refused_and_the_previous_one_kept(ros_node, classifier, tmp_path):
    files = _crafted(tmp_path)
    faces = Faces(ros_node)
    faces.connect()
    ok, why = set_parameter(ros_node, NODE, "calibration_file", str(files["good"][0]))
    assert ok, why
    calibrated = list(faces.one().probabilities)
    try:
        for what, (path, reason) in files.items():
            if what == "good":
                continue
            ok, why = set_parameter(ros_node, NODE, "calibration_file", str(path))
            assert not ok and reason in why and "\n" not in why and len(why) < 400, (what, why)
            assert classifier.poll() is None, f"the classifier died on {what}"
            assert get_parameter(ros_node, NODE, "calibration_file") == str(files["good"][0])
            assert faces.one().probabilities == pytest.approx(calibrated, abs=1e-4), f"{what}: calibration lost"
    finally:
        set_parameter(ros_node, NODE, "calibration_file", "")


def _sample_face(seconds: float):
    """The face crop of the bundled sample interview at ``seconds`` (real FER2013 test faces)."""
    import cv2
    from rosbags.highlevel import AnyReader

    from face_detector.detector import DetectorConfig, FaceDetector, crop_face

    segments = json.loads((REPO / "sample" / "interview.segments.json").read_text())
    frame_no = round(seconds * segments["fps"])
    with AnyReader([REPO / "sample" / "interview"]) as reader:
        for i, (conn, _t, raw) in enumerate(reader.messages()):
            if i == frame_no:
                msg = reader.deserialize(raw, conn.msgtype)
                frame = cv2.imdecode(np.frombuffer(bytes(msg.data), np.uint8), cv2.IMREAD_COLOR)
                box = FaceDetector(DetectorConfig(mode="naive")).detect(frame)
                assert box is not None, f"no face in the sample at {seconds} s"
                return cv2.resize(crop_face(frame, box, 96, 0.1), (48, 48), interpolation=cv2.INTER_AREA)
    raise AssertionError(f"the sample has no frame at {seconds} s")


def test_a_hold_on_a_fearful_face_is_refused_and_a_neutral_one_accepted(ros_node, tmp_path):
    """A calibration taken on a fear stretch used to be saved (neutral +1.96) and silenced the coach."""
    cal_file = tmp_path / "cal.json"
    cmd = [
        executable_path("emotion_classifier", "emotion_classifier"),
        "--ros-args",
        "-p",
        f"models_dir:={REPO / 'models'}",
    ]
    cmd += ["-p", "calibrate_seconds:=1.0", "-p", f"calibration_file:={cal_file}", "-r", "__node:=check_classifier"]
    cmd += ["-r", "face:=/k/face", "-r", "emotion:=/k/emotion"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        for seconds, what in ((21.0, "fear"), (2.0, "neutral")):
            faces = Faces(ros_node, prefix="/k", crop=_sample_face(seconds))
            assert faces.connect().label == what
            with faces:
                ok, message = trigger(ros_node, "/check_classifier/calibrate", timeout=30.0, wait=10.0)
            if what == "fear":
                assert not ok and "not as a resting face" in message and "--force" in message, message
                assert not cal_file.exists()  # nothing saved
                assert set_parameter(ros_node, "/check_classifier", "calibrate_check", False) == (True, "")
                with faces:
                    forced, message = trigger(ros_node, "/check_classifier/calibrate", timeout=30.0, wait=10.0)
                assert forced and cal_file.exists(), message  # the user's explicit choice
                cal_file.unlink()
                assert set_parameter(ros_node, "/check_classifier", "calibrate_check", True) == (True, "")
                assert set_parameter(ros_node, "/check_classifier", "calibration_file", str(cal_file))[0]
            else:
                assert ok and cal_file.exists(), message
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=20)
        print(out.decode()[-3000:])


@pytest.mark.parametrize("executor", ["single", "multi"])
def test_ctrl_c_during_a_calibration_hold_ends_the_process_cleanly(ros_node, executor):
    """Issue 23: Ctrl-C while ~/calibrate awaits its hold: no "never retrieved", no "Exception ignored", exit 0.

    The hold's coroutine ends (or is closed) beside destroy_node; its timer then belongs to the node's teardown.
    """
    from std_srvs.srv import Trigger

    cmd = [sys.executable, "-m", "facecoach.single_process", "--mode", "replay", "--nodes", "emotion_classifier"]
    cmd += ["--executor", executor, "--ros-args", "-p", "calibrate_seconds:=30.0"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=dict(os.environ))
    lines = []
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, b"")), daemon=True)
    reader.start()
    try:
        client = ros_node.create_client(Trigger, "/emotion_classifier/calibrate")
        assert client.wait_for_service(timeout_sec=60), b"".join(lines).decode(errors="replace")
        client.call_async(Trigger.Request())
        assert wait_until(ros_node, lambda: any(b"calibrating: recording" in line for line in lines), 15)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
        reader.join(5)
    out = b"".join(lines).decode(errors="replace")
    for bad in ("Traceback", "Exception ignored", "never retrieved"):
        assert bad not in out, out[-3000:]
    assert proc.returncode == 0, out[-3000:]
