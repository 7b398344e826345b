"""The launch files under the real `ros2 launch`: their arguments, replay, a camera that cannot open.

Run under every launch flavour there is (test/ros2_cli.py: a ROS 2 install's, else the rolling and
Humble overlays `make setup-test` builds from ../shared/ros2-cli; without either these tests skip and say
what to install). Everything waits on events: output lines of launch, messages, the CLI's answers.
The live graph, `ros2 param`, `ros2 topic`, respawn and Ctrl-C are in test_ros2_cli.py.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

from facecoach.graph import load_graph

sys.path.insert(0, str(Path(__file__).parent))  # pytest runs with --import-mode=importlib: test/ is not on the path
from ros2_cli import REPO, Launch, ctrl_c_and_check, flavour_params, ros2, short_bag  # noqa: E402

FLAVOURS = flavour_params()


# ------------------------------------------------------------------------------------- arguments


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_launch_files_run_from_the_repository_root_with_every_argument_described(flavour):
    """A root file named like the package does not shadow it, and every variant (int8_native too) passes the choices."""
    graph = load_graph()
    live = ros2(flavour, "launch", "facecoach", "jetson.launch.py", "--show-args", cwd=REPO)
    assert live.returncode == 0, live.stdout + live.stderr
    replay = ros2(flavour, "launch", "facecoach", "replay.launch.py", "--show-args", cwd=REPO)
    assert replay.returncode == 0, replay.stdout + replay.stderr
    common = {"single_process", "params_file", "namespace", "log_level", "loop", "profile"}
    for out, names in (
        (live.stdout, common | set(graph.overrides)),
        (
            replay.stdout,
            common
            | {"bag", "rate", "use_ros2_bag", "start_paused", "model_variant", "backend", "providers", "cue_wav"}
            | {"alsa_device", "image_topic", "record_session", "record_images", "sessions_dir"},
        ),
    ):
        declared = dict(re.findall(r"^    '(\w+)':\n        (.+)$", out, re.M))
        assert set(declared) == names, out
        assert all(len(text) > 10 for text in declared.values()), declared
    assert "camera_source" not in replay.stdout  # no camera in replay
    choices = re.search(r"'model_variant':\n.*Valid choices are: (\[.*\])", live.stdout).group(1)
    assert "'int8_native'" in choices and "'int8'" in choices
    assert "Valid choices are: ['debug', 'info', 'warn', 'error', 'fatal']" in live.stdout
    assert re.search(r"'backend':\n.*Valid choices are: \['auto', 'torch', 'onnxruntime'\]", live.stdout), live.stdout
    assert re.search(r"'providers':\n.*Valid choices are: \['auto', 'tensorrt', 'cuda', 'cpu'\]", live.stdout)


# ------------------------------------------------------------------------------------- replay


def resume_once_heard(launch: Launch, ros_node, warm_ups: Callable[[], int], namespace: str = "") -> None:
    """With start_paused:=true: once the graph's output reaches this test, resume the player.

    ``warm_ups()`` counts the warm-up messages (frame_id WARM_UP_FRAME_ID) this test's subscription received.
    The graph is ready before the player plays, but a subscriber outside it may still be matching (once 2.3 s
    on a loaded machine), and matching is per direction: this test's reader could see the graph's writer while
    that writer had not yet matched the reader (frames 0 and 1 lost once). So the test sends warm-up frames of
    its own into the graph, as the player does, until one comes out to it.
    """
    from facecoach_bag.player import IMAGE_TOPICS, send_warm_ups, warm_up_publisher
    from facecoach_cli.ros_calls import NoAnswer, trigger
    from facecoach_common.stopping import wait_until

    paused = r"paused: play with `ros2 service call (\S+) std_srvs/srv/Trigger`"
    assert launch.wait_for(paused, 120), launch.output[-3000:]
    graph_reads = lambda: [t for t in IMAGE_TOPICS if ros_node.count_subscribers(t)]  # noqa: E731
    assert wait_until(ros_node, lambda: bool(graph_reads()), 30), "this test never saw the face detector"
    topic = graph_reads()[0]
    pub = warm_up_publisher(ros_node, topic)
    try:  # stamped after the player's warm-up frames (0 + n ns)
        sent = send_warm_ups(ros_node, pub, topic, warm_ups, 30, first=1_000_000)
        assert sent, "no warm-up frame of this test came out of the graph in 30 s"
    finally:
        ros_node.destroy_publisher(pub)
    service = re.search(paused, launch.output).group(1)
    assert service == namespace + "/facecoach_player/resume", service
    playing = r"facecoach_player\]: playing "
    assert not launch.wait_for(playing, 0), "it played before it was resumed"
    # A service reported ready may still lose the first request or its answer while the other direction of the
    # pair is matching (seen once: no answer in 10 s): the call is repeated until the player says it plays.
    for _ in range(5):
        try:
            assert trigger(ros_node, service, timeout=3) == (True, "playing")
            return
        except NoAnswer:
            if launch.wait_for(playing, 1):  # the request came through, its answer did not
                return
    raise AssertionError(f"{service} was called 5 times and the player did not play:\n" + launch.output[-3000:])


@pytest.mark.parametrize("single", ["false", "true"], ids=["separate", "single_process"])
@pytest.mark.parametrize("flavour", FLAVOURS)
def test_replay_launch_plays_every_frame_once_the_graph_is_ready(flavour, single, ros_node, tmp_path):
    """replay.launch.py without `ros2 bag play`: facecoach_player waits for the graph, then plays.

    Nothing is lost to discovery: the bag's first frame comes out, and (nearly) every other one. start_paused
    lets this test's own subscription connect first (on a loaded machine it once took 2.3 s longer than the graph).
    """
    from facecoach_bag.player import WARM_UP_FRAME_ID
    from facecoach_bag.reader import messages
    from facecoach_common.qos import OBSERVER_QOS
    from facecoach_common.stopping import wait_until
    from facecoach_msgs.msg import Feedback

    frames = 60
    bag = short_bag(tmp_path / "short", frames)
    sent = [t_ns for _, _, t_ns, _ in messages(bag)]  # the sample's log times are its frames' stamps
    got, warm = set(), []

    def on_feedback(msg) -> None:
        # Not the warm-up frames', nor the "classifier gone" / "stream ended" notice after the bag's end (about no
        # frame: stamp 0).
        about_no_frame = (Feedback.REASON_CLASSIFIER_GONE, Feedback.REASON_STREAM_ENDED)
        if msg.header.frame_id == WARM_UP_FRAME_ID:
            warm.append(msg)
        elif msg.reason not in about_no_frame:
            got.add(msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec)

    ros_node.create_subscription(Feedback, "/facecoach/feedback", on_feedback, OBSERVER_QOS)
    sessions = Path(os.environ["FACECOACH_HOME"]) / "sessions"  # the test run's own home (conftest)
    before = set(sessions.iterdir()) if sessions.is_dir() else set()
    args = ["facecoach", "replay.launch.py", f"bag:={bag}", "alsa_device:=null", f"single_process:={single}"]
    args += ["start_paused:=true"] + (["namespace:=coach"] if single == "false" else [])
    with Launch(flavour, *args) as launch:
        resume_once_heard(launch, ros_node, lambda: len(warm), "/coach" if single == "false" else "")
        assert launch.wait_for(rf"facecoach_player\]: played {frames} messages", 120), launch.output[-3000:]
        wait_until(ros_node, lambda: len(got) >= frames, 15)
        # Launch has handled the player's exit (Humble's launch hangs on a Ctrl-C while it still is).
        assert launch.wait_for(r"the bag is played; the graph keeps running", 30), launch.output[-3000:]
        if single == "false":  # the namespace reached every node: their loggers are named after them
            for name in ("face_detector", "emotion_classifier", "alert_player", "facecoach_player"):
                assert f"[coach.{name}]:" in launch.output, name
        ctrl_c_and_check(launch, processes=1 if single == "true" else 4)  # + the session recorder
    missing = [i for i, t in enumerate(sent) if t not in got]
    assert got <= set(sent), "feedback for a frame the bag does not have"
    # Discovery would lose the first frames: the very first one came through. A busy stage may drop a
    # stale frame later on (sensor-data QoS, by design), so a few may be missing on a loaded machine.
    assert 0 not in missing, f"the bag's first frame was lost: frames without feedback {missing}"
    assert len(missing) <= frames // 10, f"frames without feedback: {missing}"
    # The launch kept the session (issue 21): the feedback this test heard, recorded beside the settings in force.
    from facecoach_cli.session_store import load_session

    (session,) = set(sessions.iterdir()) - before
    kept = load_session(session)
    recorded = {line["stamp_ns"] for line in kept.lines}
    assert recorded <= set(sent) and len(got - recorded) <= 1, (sorted(got - recorded), kept.missing)
    assert kept.info["ended"] and kept.info["settings"]["alert_player"]["alsa_device"] == "null", kept.info


def _without_rosbags(flavour: str, folder: Path) -> dict:
    """Environment in which ``import rosbags`` fails in every process, as on the Jetson's Python 3.6."""
    import os

    from ros2_cli import environment

    folder.mkdir()
    (folder / "sitecustomize.py").write_text('import sys\nsys.modules["rosbags"] = None  # as if not installed\n')
    return {"PYTHONPATH": os.pathsep.join(filter(None, [str(folder), environment(flavour).get("PYTHONPATH")]))}


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_replay_launch_plays_a_sqlite3_bag_without_rosbags(flavour, ros_node, tmp_path):
    """Issue 22: on the Nano (Python 3.6) rosbags does not install: facecoach_player reads the sqlite3 bag with
    the standard library and publishes its CDR bytes over DDS; every frame comes out of the graph."""
    from facecoach_bag.player import WARM_UP_FRAME_ID
    from facecoach_bag.reader import messages
    from facecoach_common.qos import OBSERVER_QOS
    from facecoach_common.stopping import wait_until
    from facecoach_msgs.msg import Feedback

    frames = 30
    bag = short_bag(tmp_path / "short", frames)
    sent = [t_ns for _, _, t_ns, _ in messages(bag)]
    got, warm = set(), []

    def on_feedback(msg) -> None:
        about_no_frame = (Feedback.REASON_CLASSIFIER_GONE, Feedback.REASON_STREAM_ENDED)  # stamp 0
        if msg.header.frame_id == WARM_UP_FRAME_ID:
            warm.append(msg)
        elif msg.reason not in about_no_frame:
            got.add(msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec)

    ros_node.create_subscription(Feedback, "/facecoach/feedback", on_feedback, OBSERVER_QOS)
    args = ["facecoach", "replay.launch.py", f"bag:={bag}", "alsa_device:=null", "use_ros2_bag:=false"]
    with Launch(flavour, *args, "start_paused:=true", env=_without_rosbags(flavour, tmp_path / "no_rosbags")) as launch:
        resume_once_heard(launch, ros_node, lambda: len(warm))
        assert launch.wait_for(rf"facecoach_player\]: played {frames} messages", 120), launch.output[-3000:]
        assert "with the standard library's sqlite3 (rosbags is not installed)" in launch.output, launch.output[-3000:]
        wait_until(ros_node, lambda: len(got) >= frames, 15)
        assert launch.wait_for(r"the bag is played; the graph keeps running", 30), launch.output[-3000:]
        ctrl_c_and_check(launch, processes=4)  # three nodes and the session recorder (its bag without rosbags too)
    missing = [i for i, t in enumerate(sent) if t not in got]
    assert got <= set(sent) and 0 not in missing and len(missing) <= frames // 10, f"without feedback: {missing}"


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_a_bag_the_player_cannot_read_without_rosbags_ends_the_launch_with_the_reason(flavour, tmp_path):
    """Issue 22: an MCAP bag on the Nano's Python 3.6 (no rosbags): one line saying why, exit 2, the launch ends."""
    from facecoach_bag.writer import BagWriter

    bag = BagWriter(tmp_path / "mcap", storage="mcap")
    bag.write("/camera/image_raw/compressed", "sensor_msgs/msg/CompressedImage", 1, bytes(68))
    bag.close()
    args = ["facecoach", "replay.launch.py", f"bag:={tmp_path / 'mcap'}", "alsa_device:=null", "use_ros2_bag:=false"]
    with Launch(flavour, *args, env=_without_rosbags(flavour, tmp_path / "no_rosbags")) as launch:
        out = _ended(launch, 90)
    said = [line for line in out.splitlines() if "[facecoach_player]: cannot play:" in line]
    assert len(said) == 1 and "an MCAP bag: reading it needs rosbags, which is not installed here" in said[0], out
    assert "facecoach_player exited with code 2: the bag cannot be played; stopping the launch" in out, out[-3000:]
    assert "Traceback" not in out, out[-3000:]


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_a_camera_that_cannot_open_ends_the_launch_with_the_reason(flavour):
    """The camera process exits 2 ("cannot start"): launch stops instead of respawning it."""
    with Launch(flavour, "facecoach", "jetson.launch.py", "camera_source:=videotestsrc ! appsink") as launch:
        launch.wait(90)
    out = launch.output
    assert "cannot start node camera" in out and "GStreamer" in out, out[-3000:]
    assert "camera_detector exited with code 2: it cannot start" in out, out[-3000:]
    assert len(re.findall(r"\[facecoach_single_process-\d+\]: process started", out)) == 1, "respawned"


def _ended(launch: Launch, timeout: float) -> str:
    """Wait for a launch to end by itself; its output (AssertionError with the output's tail if it does not)."""
    import subprocess

    try:
        launch.wait(timeout)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"ros2 launch still runs after {timeout:.0f} s:\n" + launch.output[-4000:]) from None
    return launch.output


def _started_once(out: str) -> None:
    """No process of the launch was started twice (a respawn)."""
    started = re.findall(r"\[(\w+)-\d+\]: process started", out)
    assert started and len(started) == len(set(started)), f"respawned: {started}\n{out[-3000:]}"


@pytest.mark.parametrize("single", ["false", "true"], ids=["separate", "single_process"])
@pytest.mark.parametrize("flavour", FLAVOURS)
def test_a_params_file_that_is_not_yaml_ends_the_launch_with_its_reason(flavour, single, tmp_path):
    """Issue 20 item 7: a bad params_file was an RCLError traceback and exit 1 in every node: a respawn loop."""
    bad = tmp_path / "params.yaml"
    bad.write_text("emotion_classifier:\n  ros__parameters: {model_variant: [int8,\n")
    args = ["facecoach", "jetson.launch.py", f"params_file:={bad}", f"single_process:={single}"]
    with Launch(flavour, *args) as launch:
        out = _ended(launch, 60)
    assert f"cannot start: parameters file {bad} is not valid YAML" in out, out[-3000:]
    assert "exited with code 2: it cannot start (its error is above); stopping the launch" in out, out[-3000:]
    assert "Traceback" not in out and "RCLError" not in out, out[-3000:]
    _started_once(out)


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_a_classifier_configuration_error_ends_the_launch_without_a_traceback(flavour, tmp_path):
    """Issue 20 item 7: the classifier said its one line, then an AttributeError traceback (exit 1): respawned."""
    params = tmp_path / "params.yaml"
    params.write_text("emotion_classifier:\n  ros__parameters:\n    smoothing_frames: 0\n")
    with Launch(flavour, "facecoach", "jetson.launch.py", f"params_file:={params}") as launch:
        out = _ended(launch, 90)
    said = [line for line in out.splitlines() if "[emotion_classifier]: cannot start" in line]
    assert len(said) == 1 and "smoothing_frames" in said[0], out[-3000:]
    assert "emotion_classifier exited with code 2: it cannot start" in out, out[-3000:]
    assert "Traceback" not in out and "AttributeError" not in out, out[-3000:]
    _started_once(out)


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_replay_launch_classifies_with_onnxruntime_int8_qdq(flavour, ros_node, tmp_path):
    """Issue 22 A: `backend:=onnxruntime model_variant:=int8_qdq` is a launch argument, and its frames get labels."""
    pytest.importorskip("onnxruntime")
    from facecoach_bag.player import WARM_UP_FRAME_ID
    from facecoach_common.qos import OBSERVER_QOS
    from facecoach_common.stopping import wait_until
    from facecoach_msgs.msg import Emotion

    bag = short_bag(tmp_path / "short", 30)
    got, warm = [], []

    def on_emotion(msg) -> None:
        if msg.header.frame_id == WARM_UP_FRAME_ID:
            warm.append(msg)
        elif msg.label:
            got.append(msg)

    ros_node.create_subscription(Emotion, "/facecoach/emotion", on_emotion, OBSERVER_QOS)
    args = ["facecoach", "replay.launch.py", f"bag:={bag}", "alsa_device:=null", "use_ros2_bag:=false"]
    args += ["backend:=onnxruntime", "model_variant:=int8_qdq", "providers:=auto", "start_paused:=true"]
    with Launch(flavour, *args) as launch:
        # The 30 frames play in a second: the graph's output reaches this test first.
        resume_once_heard(launch, ros_node, lambda: len(warm))
        assert launch.wait_for(r"played 30 messages", 120), launch.output[-3000:]
        assert wait_until(ros_node, lambda: len(got) >= 10, 15), launch.output[-3000:]
        assert "loaded int8_qdq" in launch.output and "onnxruntime on cpu" in launch.output, launch.output[-3000:]
        assert launch.wait_for(r"the bag is played; the graph keeps running", 30), launch.output[-3000:]
        ctrl_c_and_check(launch, processes=4)  # three nodes and the session recorder
    assert {m.model_variant for m in got} == {"int8_qdq"}
    assert all(abs(sum(m.probabilities) - 1) < 1e-3 for m in got)


@pytest.mark.parametrize(
    "launch_file, args, reason",
    [
        ("jetson.launch.py", ["backend:=torch", "model_variant:=int8_qdq"], "no int8_qdq.safetensors"),
        ("replay.launch.py", ["backend:=onnxruntime", "model_variant:=pruned"], "no pruned.onnx"),
    ],
    ids=["torch_int8_qdq", "onnxruntime_pruned"],
)
@pytest.mark.parametrize("flavour", FLAVOURS)
def test_a_variant_without_a_file_for_the_backend_ends_the_launch_with_its_reason(
    flavour, launch_file, args, reason, tmp_path
):
    """Issue 22 A: never a classifier without a model: one line naming the available variants, exit 2, launch ends."""
    extra = (
        [f"bag:={short_bag(tmp_path / 'short', 5)}", "use_ros2_bag:=false"] if launch_file == "replay.launch.py" else []
    )
    with Launch(flavour, "facecoach", launch_file, "alsa_device:=null", *extra, *args) as launch:
        out = _ended(launch, 90)
    said = [line for line in out.splitlines() if "[emotion_classifier]: cannot start" in line]
    assert len(said) == 1 and reason in said[0] and "available variants: torch: baseline" in said[0], out[-3000:]
    assert "onnxruntime: int8_qdq" in said[0], said
    assert "emotion_classifier exited with code 2: it cannot start" in out, out[-3000:]
    assert "Traceback" not in out, out[-3000:]


@pytest.mark.parametrize("single", ["false", "true"], ids=["separate", "single_process"])
@pytest.mark.parametrize("flavour", FLAVOURS)
def test_own_camera_topic_replaces_facecoachs_camera(flavour, single, ros_node):
    """Issue 22 B: image_topic:=/my_cam/image_raw leaves the camera out; the detector answers that topic's frames."""
    from sensor_msgs.msg import Image

    from facecoach_common.image_conversions import numpy_to_image
    from facecoach_common.qos import IMAGE_QOS, OBSERVER_QOS
    from facecoach_common.stopping import wait_until
    from facecoach_msgs.msg import Emotion

    got = {}
    ros_node.create_subscription(
        Emotion, "/facecoach/emotion", lambda m: got.setdefault(m.header.stamp.sec, m), OBSERVER_QOS
    )
    pub = ros_node.create_publisher(Image, "/my_cam/image_raw", IMAGE_QOS)
    frame = numpy_to_image(np.full((120, 160, 3), 90, np.uint8), "bgr8")
    frame.header.frame_id = "my_cam"
    args = ["facecoach", "jetson.launch.py", "image_topic:=/my_cam/image_raw", "alsa_device:=null"]
    with Launch(flavour, *args, f"single_process:={single}") as launch:
        answered = False
        for stamp in range(1, 120):  # re-sent until the graph is up and matched (no fixed wait)
            frame.header.stamp.sec = stamp
            pub.publish(frame)
            if wait_until(ros_node, lambda: bool(got), 1.0):
                answered = True
                break
        assert answered, launch.output[-3000:]
        assert "input raw from /my_cam/image_raw" in launch.output, launch.output[-3000:]
        assert "[camera]" not in launch.output and "running camera" not in launch.output, launch.output[-3000:]
        ctrl_c_and_check(launch, processes=1 if single == "true" else 4)  # + the session recorder
    assert next(iter(got.values())).header.frame_id == "my_cam"


# ------------------------------------------------------------------------------------- no ROS needed


def test_every_variant_the_launch_offers_has_a_file_for_a_backend():
    """Issue 22 A: each model_variant choice exists in models/; backend auto runs it from its file."""
    from emotion_classifier.inference import resolve_backend
    from emotion_classifier.weight_file import WeightFileError

    graph = load_graph()
    offered = graph.overrides["model_variant"].choices
    backends = {v: resolve_backend(REPO / "models", v) for v in offered}
    assert backends["int8_qdq"] == "onnxruntime" and backends["baseline"] == "torch", backends
    assert set(graph.overrides["backend"].choices) == {"auto", "torch", "onnxruntime"}
    with pytest.raises(WeightFileError, match="facecoach export --variant pruned"):
        resolve_backend(REPO / "models", "pruned", "onnxruntime")


def test_image_topic_leaves_the_camera_out_of_the_graph():
    """`facecoach run --image-topic T` and the launch files: no camera node, the detector subscribes T."""
    graph = load_graph()
    nodes = graph.nodes_for("live", {"image_topic": "/my_cam/image_raw/compressed"})
    assert [n.name for n in nodes] == ["face_detector", "emotion_classifier", "alert_player", "session_recorder"]
    detector = nodes[0]
    assert detector.parameters["image_topic"] == "/my_cam/image_raw/compressed"
    assert [name for name, _ in graph.processes(nodes)] == [n.name for n in nodes]
    assert "camera" in [n.name for n in graph.nodes_for("live", {"image_topic": ""})]


def test_record_session_false_leaves_the_session_recorder_out_and_record_images_is_a_bool():
    """Issue 21: the recorder runs by default; record_session false (run's --record-session false) leaves it out."""
    from facecoach.graph import GraphError

    graph = load_graph()
    (rec,) = [n for n in graph.nodes_for("replay") if n.name == "session_recorder"]
    assert rec.parameters["record"] is True and rec.parameters["record_images"] is False
    assert "session_recorder" not in [n.name for n in graph.nodes_for("live", {"record_session": "false"})]
    assert "session_recorder" not in [n.name for n in graph.nodes_for("live", {"record_session": False})]
    (rec,) = [n for n in graph.nodes_for("live", {"record_images": "true"}) if n.name == "session_recorder"]
    assert rec.parameters["record_images"] is True  # typed as in the YAML, for the parameters file
    with pytest.raises(GraphError, match="must be one of"):
        graph.nodes_for("live", {"record_images": "yes"})


def test_run_command_lines_come_from_the_graph():
    graph = load_graph()
    nodes = graph.nodes_for("replay", {"model_variant": "int8", "alsa_device": "null"})
    assert "camera" not in [n.name for n in nodes]
    clf = next(n for n in nodes if n.name == "emotion_classifier")
    assert clf.parameters["model_variant"] == "int8"
    args = clf.ros_args("/tmp/p.yaml")
    assert args[:3] == ["--ros-args", "-r", "__node:=emotion_classifier"]
    assert "face:=/facecoach/face" in args and args[-2:] == ["--params-file", "/tmp/p.yaml"]
    content = graph.params_file_content(nodes)
    assert content["alert_player"]["ros__parameters"]["alsa_device"] == "null"


def test_graph_rejects_bad_descriptions(tmp_path):
    from facecoach.graph import GraphError

    bad = tmp_path / "g.yaml"
    bad.write_text("nodes:\n  - {name: a, package: p}\n")
    with pytest.raises(GraphError, match="lacks"):
        load_graph(bad)
    bad.write_text("nodes:\n  - {name: a, package: p, executable: e, modes: [space]}\n")
    with pytest.raises(GraphError, match="unknown modes"):
        load_graph(bad)
    with pytest.raises(GraphError, match="must be one of"):
        load_graph().nodes_for("live", {"model_variant": "int3"})


def test_readme_lists_every_node_parameter():
    """The README's parameter tables name every declared parameter of every node."""
    from alert_player.config import AlertConfig
    from emotion_classifier.config import ClassifierConfig
    from face_detector.capture import CameraConfig
    from face_detector.config import DetectorNodeConfig
    from facecoach_bag.session_config import SessionConfig
    from facecoach_common.settings import settings_of

    readme = (REPO / "README.md").read_text()
    configs = (CameraConfig, DetectorNodeConfig, ClassifierConfig, AlertConfig, SessionConfig)
    missing = [s.name for c in configs for s in settings_of(c) if f"| `{s.name}` |" not in readme]
    assert missing == [], f"README.md lacks parameters {missing}"
