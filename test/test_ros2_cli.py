"""`ros2 param`, `ros2 topic`, respawn and Ctrl-C on the live graph started by the real `ros2 launch`.

One `ros2 launch facecoach jetson.launch.py` per launch flavour (test/ros2_cli.py: a ROS 2 install's,
else the rolling and Humble overlays `make setup-test` builds from ../shared/ros2-cli; without either these
tests skip and say what to install), on a video file of the sample interview. The tests use it in
order and the last one ends it with Ctrl-C. ros2cli is the same in every flavour, so its verbs are
checked under the first; launch's part (respawn, Ctrl-C) under each.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # pytest runs with --import-mode=importlib: test/ is not on the path
from ros2_cli import Launch, ctrl_c_and_check, environment, flavour_params, param, ros2, video  # noqa: E402

FLAVOURS = flavour_params()


PARAMS_FILE = """\
emotion_classifier:
  ros__parameters:
    num_threads: 2
alert_player:
  ros__parameters:
    cooldown_s: 5.0
"""


@pytest.fixture(scope="module", params=FLAVOURS)
def live(request, tmp_path_factory, ros_domain):
    """`ros2 launch facecoach jetson.launch.py` on a video file, up and delivering feedback."""
    flavour = request.param
    tmp = tmp_path_factory.mktemp(f"live-{flavour}")
    params = tmp / "params.yaml"
    params.write_text(PARAMS_FILE)
    args = [
        "facecoach",
        "jetson.launch.py",
        f"camera_source:={video(tmp / 'clip.avi')}",
        "loop:=true",
        "alsa_device:=null",
        f"params_file:={params}",
    ]
    with Launch(flavour, *args) as launch:
        assert launch.wait_for(r"\[emotion_classifier\]: loaded baseline", 90), launch.output[-3000:]
        assert launch.wait_for(r"\[alert_player\]: ready", 30), launch.output[-3000:]
        got = ros2(flavour, "param", "get", "--no-daemon", "/camera", "loop", "--timeout", "30")
        launch.loop_from_launch = "True" in got.stdout
        launch.flavour = flavour
        yield launch


def test_ros2_param_set_get_describe_dump_on_both_nodes(live):
    """A refused value keeps the old one; describe shows the choices and ranges; params_file applied."""
    import yaml

    if live.flavour != FLAVOURS[0]:
        pytest.skip("ros2cli is the same in every flavour: its verbs are checked under the first")
    f = live.flavour
    code, out = param(f, "describe", "/emotion_classifier", "model_variant", "num_threads")
    assert code == 0 and "int8_native" in out and "Min value: 1" in out and "Max value: 16" in out, out
    code, out = param(f, "describe", "/alert_player", "bad_threshold", "mapping.fear")
    assert code == 0 and "Min value: 0.01" in out and "one of: good, acceptable, bad" in out, out

    assert param(f, "set", "/emotion_classifier", "model_variant", "int8") == (0, "Set parameter successful")
    code, out = param(f, "set", "/emotion_classifier", "model_variant", "int3")
    assert "Setting parameter failed" in out and "int3" in out, out
    assert param(f, "get", "/emotion_classifier", "model_variant")[1] == "String value is: int8"
    assert param(f, "get", "/emotion_classifier", "num_threads")[1] == "Integer value is: 2"  # params_file

    code, out = param(f, "set", "/alert_player", "cooldown_s", "-1.0")
    assert "Setting parameter failed" in out, out
    assert param(f, "set", "/alert_player", "mapping.surprise", "bad") == (0, "Set parameter successful")
    code, out = param(f, "dump", "/alert_player")
    assert code == 0, out
    dumped = yaml.safe_load(out)["/alert_player"]["ros__parameters"]
    assert dumped["cooldown_s"] == 5.0, "params_file's value, kept after the refused -1.0"
    assert dumped["mapping"]["surprise"] == "bad"


def test_one_ros2_param_set_goes_from_a_torch_variant_to_an_onnx_one_and_back(live, ros_node):
    """Issue 22 A: backend auto: the variant's file decides, so model_variant alone switches the backend."""
    pytest.importorskip("onnxruntime")
    from facecoach_common.qos import OBSERVER_QOS
    from facecoach_common.stopping import wait_until
    from facecoach_msgs.msg import Emotion

    if live.flavour != FLAVOURS[0]:
        pytest.skip("ros2cli is the same in every flavour: its verbs are checked under the first")
    f = live.flavour
    variants = []
    on_emotion = lambda m: variants.append(m.model_variant)  # noqa: E731
    ros_node.create_subscription(Emotion, "/facecoach/emotion", on_emotion, OBSERVER_QOS)
    try:
        assert param(f, "set", "/emotion_classifier", "model_variant", "int8_qdq") == (0, "Set parameter successful")
        assert wait_until(ros_node, lambda: "int8_qdq" in variants[-5:], 30), variants[-5:]
        assert param(f, "get", "/emotion_classifier", "backend")[1] == "String value is: auto"
        assert param(f, "set", "/emotion_classifier", "model_variant", "baseline") == (0, "Set parameter successful")
        del variants[:]
        assert wait_until(ros_node, lambda: variants[-3:] == ["baseline"] * 3, 30), variants[-5:]
        assert param(f, "set", "/emotion_classifier", "backend", "torch") == (0, "Set parameter successful")
        code, out = param(f, "set", "/emotion_classifier", "model_variant", "int8_qdq")
        assert "Setting parameter failed" in out and "no int8_qdq.safetensors" in out, out
        assert "onnxruntime: int8_qdq" in out, out
        assert param(f, "get", "/emotion_classifier", "model_variant")[1] == "String value is: baseline"
    finally:
        param(f, "set", "/emotion_classifier", "backend", "auto")
    assert re.search(r"switched \w+ -> int8_qdq \(.*onnxruntime on cpu", live.output), live.output[-3000:]


def test_ros2_topic_echo_and_hz(live):
    """`ros2 topic echo --once` gets a Feedback; `ros2 topic hz` measures the Emotion stream."""
    if live.flavour != FLAVOURS[0]:
        pytest.skip("ros2cli is the same in every flavour: its verbs are checked under the first")
    # With --no-daemon the topic may not be discovered yet when echo looks it up: name its type.
    feedback = ("/facecoach/feedback", "facecoach_msgs/msg/Feedback")
    got = ros2(live.flavour, "topic", "echo", "--once", "--no-daemon", *feedback, timeout=60)
    assert got.returncode == 0 and "category_name:" in got.stdout and "has_face:" in got.stdout, got.stderr
    hz = subprocess.Popen(
        ["ros2", "topic", "hz", "/facecoach/emotion"],
        env=environment(live.flavour),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        universal_newlines=True,
        start_new_session=True,
    )
    try:
        rate = None
        for line in hz.stdout:  # one line per second or so; the first "average rate" is enough
            m = re.search(r"average rate: ([\d.]+)", line)
            if m:
                rate = float(m.group(1))
                break
    finally:
        os.killpg(hz.pid, signal.SIGINT)
        hz.wait(30)
    assert rate is not None and 5.0 < rate < 60.0, rate


def test_a_killed_node_respawns(live, ros_node):
    """kill -9 of the classifier: launch says so, starts it again, emotions flow again."""
    from facecoach_common.qos import OBSERVER_QOS
    from facecoach_common.stopping import wait_until
    from facecoach_msgs.msg import Emotion

    started = re.findall(r"\[(emotion_classifier-\d+)\]: process started with pid \[(\d+)\]", live.output)
    label, pid = started[-1]
    os.kill(int(pid), signal.SIGKILL)
    assert live.wait_for(rf"process has died \[pid {pid}, exit code -9", 30), live.output[-3000:]
    assert live.wait_for(rf"\[{label}\]: process started with pid", 30, count=len(started) + 1), live.output[-3000:]
    assert live.wait_for(r"\[emotion_classifier\]: loaded baseline", 90, count=2), live.output[-3000:]
    emotions = []
    ros_node.create_subscription(Emotion, "/facecoach/emotion", emotions.append, OBSERVER_QOS)
    assert wait_until(ros_node, lambda: len(emotions) >= 10, 60), "no Emotion after the respawn"


def test_a_killed_session_recorder_goes_on_with_the_launchs_session(live):
    """kill -9 of the session recorder: the respawned one records into the same session folder (a second bag)."""
    from facecoach_bag.session_files import read_session_file

    recording = r"\[session_recorder\]: recording this session into (\S+) "
    started = re.findall(r"\[(session_recorder-\d+)\]: process started with pid \[(\d+)\]", live.output)
    assert live.wait_for(recording, 30), live.output[-3000:]
    label, pid = started[-1]
    os.kill(int(pid), signal.SIGKILL)
    assert live.wait_for(rf"\[{label}\]: process started with pid", 30, count=len(started) + 1), live.output[-3000:]
    assert live.wait_for(recording, 60, count=2), live.output[-3000:]
    first, again = re.findall(recording, live.output)[-2:]
    assert first == again, (first, again)
    info = read_session_file(Path(again))
    assert info["recorder_restarts"] == 1 and len(info["bags"]) == 2, info


def test_loop_argument_reaches_the_camera(live):
    """loop:=true sets the camera's loop, which runs in the camera_detector group process."""
    assert live.loop_from_launch, "the --ros-args launch gives facecoach_single_process must reach its nodes"


def test_ctrl_c_ends_the_live_graph_cleanly(live):
    """Ctrl-C (SIGINT to the group, then launch's own): no traceback, no 'process has died'."""
    ctrl_c_and_check(live, processes=4)  # camera_detector, classifier, alert, session recorder
