"""The camera and face_detector nodes as separate processes over DDS (as a user runs them)."""

import array
import os
import signal
import subprocess
import sys
import threading
import time

import cv2
import numpy as np
import pytest
import rclpy
from rcl_interfaces.msg import Parameter, ParameterType, ParameterValue
from rcl_interfaces.srv import ListParameters, SetParameters
from sensor_msgs.msg import CompressedImage, Image

from facecoach_common.image_conversions import numpy_to_compressed, numpy_to_image
from facecoach_common.qos import IMAGE_QOS, OBSERVER_QOS, STREAM_QOS
from facecoach_common.services import call_idempotent
from facecoach_msgs.msg import Face

NS = f"/fd_test_{os.getpid()}"  # a namespace of our own: other tests on this ROS domain cannot interfere
TIMEOUT = 20.0


class NodeProcess:
    """A node started as `python -m module --ros-args ...`, its output collected line by line."""

    def __init__(self, module, **params):
        args = [sys.executable, "-m", module, "--ros-args", "-r", f"__ns:={NS}"]
        for k, v in params.items():
            args += ["-p", f"{k}:={v}"]
        env = dict(os.environ, PYTHONUNBUFFERED="1", RCUTILS_LOGGING_BUFFERED_STREAM="0")
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        self.lines = []
        self._cond = threading.Condition()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self):
        for line in self.proc.stdout:
            with self._cond:
                self.lines.append(line)
                self._cond.notify_all()

    def wait_for_output(self, text, timeout=TIMEOUT):
        with self._cond:
            return self._cond.wait_for(lambda: any(text in line for line in self.lines), timeout)

    @property
    def output(self):
        with self._cond:
            return "".join(self.lines)

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        if self.alive():
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


@pytest.fixture(scope="module")
def ros():
    rclpy.init()
    node = rclpy.create_node("face_detector_test", namespace=NS)
    yield node
    node.destroy_node()
    rclpy.shutdown()


def spin_until(node, predicate, timeout=TIMEOUT):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        rclpy.spin_once(node, timeout_sec=0.05)
    return True


def call(node, client, request):
    assert client.wait_for_service(timeout_sec=TIMEOUT)
    result = call_idempotent(client, request, TIMEOUT, lambda s: rclpy.spin_once(node, timeout_sec=s))
    assert result is not None, f"no answer from {client.srv_name}"
    return result


@pytest.fixture(scope="module")
def detector(ros):
    proc = NodeProcess("face_detector.detector_node", input="both", mode="fast")
    faces = {}
    sub = ros.create_subscription(
        Face, "face", lambda m: faces.setdefault((m.header.stamp.sec, m.header.stamp.nanosec), m), STREAM_QOS
    )
    raw = ros.create_publisher(Image, "image_raw", IMAGE_QOS)
    comp = ros.create_publisher(CompressedImage, "image_raw/compressed", IMAGE_QOS)
    matched = spin_until(
        ros,
        lambda: raw.get_subscription_count() and comp.get_subscription_count() and sub.get_publisher_count(),
    )
    assert matched, proc.output
    yield proc, faces, raw, comp
    ros.destroy_subscription(sub)
    ros.destroy_publisher(raw)
    ros.destroy_publisher(comp)
    assert proc.stop() == 0, proc.output


_stamp = [1000]


def stamped(msg):
    _stamp[0] += 1
    msg.header.stamp.sec, msg.header.stamp.nanosec = _stamp[0], 5
    msg.header.frame_id = "test_cam"
    return msg


def answered(ros, faces, pub, msg, timeout=TIMEOUT):
    """Publish (again if no answer came) until the Face of one of the sent copies arrives.

    Each retry gets a new stamp: the detector answers a repeated (stamp, frame_id) once only, and a first
    answer can be lost while its publisher has not yet matched our subscription (discovery is asymmetric).
    """
    sent = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sent:
            stamped(msg)
        sent.append((msg.header.stamp.sec, msg.header.stamp.nanosec))
        pub.publish(msg)
        if spin_until(ros, lambda: any(k in faces for k in sent), 1.0):
            return next(faces[k] for k in sent if k in faces)
    return None


def noise(h=48, w=64):
    return np.random.default_rng(h * w).integers(0, 256, (h, w, 3), dtype=np.uint8)


def test_detector_answers_every_good_frame(ros, detector):
    proc, faces, raw, comp = detector
    face = answered(ros, faces, raw, stamped(numpy_to_image(noise())))
    assert face is not None, proc.output
    assert face.header.frame_id == "test_cam" and not face.has_face
    assert (face.frame_width, face.frame_height) == (64, 48) and face.detect_ms >= 0.0
    assert len(face.crop.data) == 0
    face = answered(ros, faces, comp, stamped(numpy_to_compressed(noise(60, 80))))
    assert face is not None and (face.frame_width, face.frame_height) == (80, 60)


def _padded_rgb():
    m = numpy_to_image(noise(), "rgb8")
    m.step += 4
    m.data = array.array("B", np.pad(noise()[:, :, ::-1].reshape(48, -1), ((0, 0), (0, 4))).tobytes())
    return m


def _with(msg, **fields):
    for k, v in fields.items():
        setattr(msg, k, v)
    return msg


BAD = [
    ("raw", lambda: _with(numpy_to_image(noise()), encoding="bayer_rggb8"), "unsupported encoding"),
    ("raw", lambda: _with(numpy_to_image(noise()), step=10), "step"),
    ("raw", lambda: _with(numpy_to_image(noise()), data=array.array("B", bytes(100))), "needs"),
    ("raw", lambda: _with(numpy_to_image(noise()), width=0, step=0), "zero size"),
    ("raw", lambda: _with(numpy_to_image(noise()), width=20000, height=20000, step=60000), "larger than"),
    (
        "compressed",
        lambda: _with(CompressedImage(format="jpeg"), data=array.array("B", b"\xff\xd8junk" * 50)),
        "no readable image size",
    ),
    (
        "compressed",
        lambda: _with(CompressedImage(format="tiff"), data=array.array("B", cv2.imencode(".tiff", noise())[1])),
        "not JPEG or PNG",
    ),
    ("compressed", lambda: CompressedImage(format="jpeg"), "no data"),
]


@pytest.mark.parametrize("topic,make_bad,problem", BAD, ids=[b[2] for b in BAD])
def test_detector_survives_malformed_frames(ros, detector, topic, make_bad, problem):
    proc, faces, raw, comp = detector
    pub = raw if topic == "raw" else comp
    bad = stamped(make_bad())
    pub.publish(bad)
    good = stamped(numpy_to_image(noise()) if topic == "raw" else numpy_to_compressed(noise()))
    assert answered(ros, faces, pub, good) is not None, proc.output
    assert (bad.header.stamp.sec, bad.header.stamp.nanosec) not in faces
    assert proc.alive()
    assert proc.wait_for_output(problem), proc.output


def test_detector_padded_rgb_frame(ros, detector):
    proc, faces, raw, _ = detector
    face = answered(ros, faces, raw, stamped(_padded_rgb()))
    assert face is not None and face.frame_width == 64


def test_detector_refuses_a_bad_cascade_and_keeps_working(ros, detector):
    proc, faces, raw, _ = detector
    client = ros.create_client(SetParameters, "face_detector/set_parameters")
    value = ParameterValue(type=ParameterType.PARAMETER_STRING, string_value="/nonexistent/cascade.xml")
    result = call(ros, client, SetParameters.Request(parameters=[Parameter(name="cascade_path", value=value)]))
    assert not result.results[0].successful and "not found" in result.results[0].reason
    value = ParameterValue(type=ParameterType.PARAMETER_INTEGER, integer_value=1)
    result = call(ros, client, SetParameters.Request(parameters=[Parameter(name="full_every_n", value=value)]))
    assert result.results[0].successful
    assert answered(ros, faces, raw, stamped(numpy_to_image(noise()))) is not None
    ros.destroy_client(client)


def test_debug_image_costs_nothing_when_off_and_shows_box_label_and_category_when_on(ros, detector):
    from facecoach_msgs.msg import Feedback

    proc, faces, raw, comp = detector
    pictures = []
    sub = ros.create_subscription(CompressedImage, "debug_image/compressed", pictures.append, IMAGE_QOS)
    feedback = ros.create_publisher(Feedback, "feedback", STREAM_QOS)
    client = ros.create_client(SetParameters, "face_detector/set_parameters")
    frame = np.full((240, 320, 3), 90, np.uint8)
    try:
        for _ in range(3):
            assert answered(ros, faces, comp, stamped(numpy_to_compressed(frame))) is not None
        assert pictures == [] and feedback.get_subscription_count() == 0, "off: no picture, no feedback subscription"
        on = ParameterValue(type=ParameterType.PARAMETER_BOOL, bool_value=True)
        result = call(ros, client, SetParameters.Request(parameters=[Parameter(name="debug_image", value=on)]))
        assert result.results[0].successful
        assert spin_until(ros, lambda: feedback.get_subscription_count() > 0), "the node listens to the feedback now"
        feedback.publish(Feedback(emotion="sad", category_name="bad", confidence=0.8))
        assert spin_until(ros, lambda: feedback.get_subscription_count() > 0)
        deadline = time.monotonic() + TIMEOUT
        while not pictures and time.monotonic() < deadline:
            answered(ros, faces, comp, stamped(numpy_to_compressed(frame)))
        assert pictures, proc.output
        shown = cv2.imdecode(np.frombuffer(bytes(pictures[-1].data), np.uint8), cv2.IMREAD_COLOR)
        assert shown.shape == frame.shape and pictures[-1].format == "bgr8; jpeg compressed bgr8"
        assert np.abs(shown.astype(int) - frame).max() > 100, "'no face' is written on the picture"
    finally:
        off = ParameterValue(type=ParameterType.PARAMETER_BOOL, bool_value=False)
        call(ros, client, SetParameters.Request(parameters=[Parameter(name="debug_image", value=off)]))
        ros.destroy_subscription(sub)
        ros.destroy_publisher(feedback)
        ros.destroy_client(client)


def test_annotate_draws_the_box_in_the_categorys_colour():
    from face_detector.annotate import COLOURS, annotate
    from face_detector.geometry import FaceBox

    frame = np.zeros((120, 160, 3), np.uint8)
    out = annotate(frame, FaceBox(40, 40, 50, 50), "sad", "bad", 0.8)
    assert tuple(out[40, 60]) == COLOURS["bad"] and frame.max() == 0, "drawn on a copy"
    assert tuple(annotate(frame, FaceBox(40, 40, 50, 50), "happy", "good", 0.9)[40, 60]) == COLOURS["good"]


def test_detector_finds_a_real_face(ros, detector):
    """A real photograph of a face (from the bundled sample interview) pasted at a known place."""
    from rosbags.highlevel import AnyReader

    from facecoach_common.paths import resource

    with AnyReader([resource("facecoach_cli", "sample", "interview")]) as reader:
        conn, _t, raw = next(iter(reader.messages()))
        sample = cv2.imdecode(
            np.frombuffer(bytes(reader.deserialize(raw, conn.msgtype).data), np.uint8), cv2.IMREAD_COLOR
        )
    proc, faces, _, comp = detector
    found = answered(ros, faces, comp, stamped(numpy_to_compressed(sample, quality=95)))
    assert found is not None and found.has_face, proc.output
    r = found.roi
    gray = cv2.cvtColor(
        sample[r.y_offset : r.y_offset + r.height, r.x_offset : r.x_offset + r.width], cv2.COLOR_BGR2GRAY
    )
    frame = np.full((480, 640, 3), 128, np.uint8)
    frame[140:340, 220:420] = cv2.resize(cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR), (200, 200))
    face = answered(ros, faces, comp, stamped(numpy_to_compressed(frame, quality=95)))
    assert face is not None and face.has_face, proc.output
    assert abs(face.roi.x_offset - 220) < 60 and abs(face.roi.width - 200) < 80
    assert (face.crop.width, face.crop.height, face.crop.encoding) == (48, 48, "bgr8")
    assert face.crop.header.stamp == face.header.stamp


def test_camera_publishes_a_video_file(ros, tmp_path):
    path = str(tmp_path / "clip.avi")
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (64, 48))
    for i in range(5):
        writer.write(np.full((48, 64, 3), i * 40, np.uint8))
    writer.release()
    images, compressed = [], []
    s1 = ros.create_subscription(Image, "image_raw", images.append, IMAGE_QOS)
    s2 = ros.create_subscription(CompressedImage, "image_raw/compressed", compressed.append, IMAGE_QOS)
    proc = NodeProcess(
        "face_detector.camera_node", source=path, loop="true", fps=30.0, publish_compressed="true", frame_id="cam0"
    )
    try:
        assert spin_until(ros, lambda: len(images) >= 8 and compressed), proc.output  # 8 > 5: it loops
        m = images[-1]
        assert (m.width, m.height, m.encoding, m.header.frame_id) == (64, 48, "bgr8", "cam0")
        assert compressed[-1].format == "bgr8; jpeg compressed bgr8"
    finally:
        ros.destroy_subscription(s1)
        ros.destroy_subscription(s2)
        assert proc.stop() == 0, proc.output


def test_camera_survives_a_missing_device(ros):
    proc = NodeProcess("face_detector.camera_node", source="/dev/video99", reconnect_s=0.2)
    try:
        assert proc.wait_for_output("cannot open device source '/dev/video99'"), proc.output
        client = ros.create_client(ListParameters, "camera/list_parameters")
        names = call(ros, client, ListParameters.Request()).result.names
        assert "source" in names and "reconnect_s" in names
        ros.destroy_client(client)
        assert proc.alive()
    finally:
        assert proc.stop() == 0, proc.output


def test_camera_refuses_gstreamer_without_gstreamer():
    if "GStreamer:                   YES" in cv2.getBuildInformation():
        pytest.skip("this OpenCV has GStreamer")
    proc = NodeProcess("face_detector.camera_node", source="'videotestsrc ! appsink'")
    assert proc.proc.wait(timeout=TIMEOUT) == 2
    assert "without GStreamer" in proc.output


def test_camera_hands_frames_to_a_detector_in_its_process_without_serializing(ros, tmp_path):
    """camera.connect(detector.on_frame): every frame becomes a Face; image_raw still reaches its listeners."""
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.parameter import Parameter as P

    from face_detector.camera_node import CameraNode
    from face_detector.detector_node import FaceDetectorNode

    path = str(tmp_path / "clip.avi")
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (64, 48))
    for i in range(12):
        writer.write(np.full((48, 64, 3), i * 20, np.uint8))
    writer.release()
    faces, images = [], []
    # A deep reader queue: the test's own spinning must not lose faces (what it checks is the node's).
    ns = NS + "/in_process"  # apart from the module's detector process, which would answer image_raw too
    s1 = ros.create_subscription(Face, f"{ns}/face", faces.append, OBSERVER_QOS)
    s2 = ros.create_subscription(Image, f"{ns}/image_raw", images.append, IMAGE_QOS)
    context = rclpy.Context()
    rclpy.init(context=context)
    try:
        args = dict(context=context, namespace=ns)
        detector = FaceDetectorNode(parameter_overrides=[P("input", value="direct")], **args)
        spin_until(ros, lambda: ros.count_publishers(f"{ns}/face") > 0)
        overrides = [P("source", value=path), P("fps", value=60.0), P("loop", value=True)]
        camera = CameraNode(parameter_overrides=overrides, **args)
        camera.connect(detector.on_frame)
        executor = SingleThreadedExecutor(context=context)
        executor.add_node(detector)
        thread = threading.Thread(target=executor.spin, daemon=True)
        thread.start()
        assert spin_until(ros, lambda: len(faces) >= 30), f"{len(faces)} faces"
        # A file's frames are stamped on its timeline (1/60 s apart): consecutive faces, none lost.
        stamps = np.array([f.header.stamp.sec * 10**9 + f.header.stamp.nanosec for f in faces[:30]])
        assert np.allclose(np.diff(stamps) * 60.0 / 1e9, 1.0, atol=0.01)
        assert all(f.header.frame_id == "camera" and (f.frame_width, f.frame_height) == (64, 48) for f in faces)
        assert spin_until(ros, lambda: len(images) >= 10), "a viewer of image_raw gets the frames too"
        executor.shutdown()
        thread.join(timeout=5)
        camera.destroy_node()
        detector.destroy_node()
    finally:
        ros.destroy_subscription(s1)
        ros.destroy_subscription(s2)
        rclpy.try_shutdown(context=context)


def test_camera_outlives_a_failing_frame_and_a_stall_of_its_file(ros, tmp_path):
    """A sink that raises once and stalls once: the grab thread logs both and goes on (rclpy refuses a log call
    site whose severity changes, which would end the thread at the second line), and the file restarts its timeline."""
    from rclpy.parameter import Parameter as P

    from face_detector.camera_node import CameraNode

    path = str(tmp_path / "clip.avi")
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (64, 48))
    for i in range(12):
        writer.write(np.full((48, 64, 3), i * 20, np.uint8))
    writer.release()
    stamps = []

    def sink(frame, header):
        stamps.append(header.stamp.sec * 10**9 + header.stamp.nanosec)
        if len(stamps) == 3:
            raise RuntimeError("a bug in one frame's path")
        if len(stamps) == 6:
            time.sleep(1.3)  # longer than the 1 s the file's timeline catches up

    context = rclpy.Context()
    rclpy.init(context=context)
    try:
        overrides = [P("source", value=path), P("fps", value=60.0), P("loop", value=True)]
        camera = CameraNode(parameter_overrides=overrides, context=context, namespace=NS + "/stall")
        camera.connect(sink)
        deadline = time.monotonic() + TIMEOUT
        while len(stamps) < 30 and time.monotonic() < deadline:
            time.sleep(0.05)
        alive = camera._thread.is_alive()
        camera.destroy_node()
    finally:
        rclpy.try_shutdown(context=context)
    assert alive and len(stamps) >= 30, f"the camera stopped after {len(stamps)} frames"
    steps = np.diff(stamps) * 60.0 / 1e9
    assert np.allclose(steps[:5], 1.0, atol=0.01), "on the file's timeline until the stall"
    assert steps[5] > 60 * 1.0, "the stall over 1 s started a new timeline (a jump in the stamps)"
    assert np.allclose(steps[6:], 1.0, atol=0.01), "then on the new timeline"
