"""emotion_classifier as a separate process: bad crops, missing/corrupt weights, refused switches."""

from __future__ import annotations

import shutil
import signal
import subprocess
from pathlib import Path

import numpy as np
import pytest

from facecoach_cli.children import executable_path
from facecoach_cli.ros_calls import get_parameter, set_parameter
from facecoach_common.stopping import wait_until

REPO = Path(__file__).resolve().parents[1]
BASELINE = REPO / "models" / "baseline.safetensors"


@pytest.fixture
def models_dir(tmp_path):
    d = tmp_path / "models"
    d.mkdir()
    shutil.copy(BASELINE, d / "baseline.safetensors")
    shutil.copy(BASELINE, d / "copy.safetensors")
    (d / "corrupt.safetensors").write_bytes(BASELINE.read_bytes()[:5000])
    return d


def _start(models_dir, variant="baseline", *params):
    cmd = [
        executable_path("emotion_classifier", "emotion_classifier"),
        "--ros-args",
        "-p",
        f"models_dir:={models_dir}",
        "-p",
        f"model_variant:={variant}",
        "-r",
        "face:=/t/face",
        "-r",
        "emotion:=/t/emotion",
    ]
    for param in params:
        cmd += ["-p", param]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def _stop(proc) -> str:
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=20)
    return out.decode()


def _face(stamp_sec: int, crop=None):
    from facecoach_common.image_conversions import numpy_to_image
    from facecoach_msgs.msg import Face

    msg = Face(has_face=True)
    msg.header.stamp.sec = stamp_sec
    msg.crop = crop if crop is not None else numpy_to_image(np.full((48, 48, 3), 128, np.uint8))
    return msg


def _exchange(node, pub, got, msg, timeout=10.0):
    n = len(got)
    pub.publish(msg)
    return wait_until(node, lambda: len(got) > n, timeout)


def _connect(node, pub, got, msg, timeout=60.0) -> bool:
    """Wait for the classifier's subscription, then send ``msg`` until an answer comes.

    Our publisher matching the classifier's subscription does not mean its publisher has matched our
    subscription yet: the first answers of a best-effort stream can be lost while discovery finishes.
    """
    if not wait_until(node, lambda: pub.get_subscription_count() > 0, timeout):
        return False
    return any(_exchange(node, pub, got, msg, timeout=3.0) for _ in range(int(timeout // 3)))


def test_bad_input_and_refused_switches(ros_node, models_dir):
    from sensor_msgs.msg import Image

    from facecoach_common.qos import STREAM_QOS
    from facecoach_msgs.msg import Emotion, Face

    got = []
    ros_node.create_subscription(Emotion, "/t/emotion", got.append, STREAM_QOS)
    pub = ros_node.create_publisher(Face, "/t/face", STREAM_QOS)
    proc = _start(models_dir)
    try:
        assert _connect(ros_node, pub, got, _face(1)), "no answer from the classifier"
        assert got[-1].model_variant == "baseline" and got[-1].header.stamp.sec == 1
        assert abs(sum(got[-1].probabilities) - 1) < 1e-4 and got[-1].label in got[-1].class_names

        bad_crops = [
            Image(height=48, width=48, encoding="bayer_rggb8", step=48, data=bytes(48 * 48)),  # unknown encoding
            Image(height=48, width=48, encoding="bgr8", step=100, data=bytes(48 * 144)),  # step too short
            Image(height=48, width=48, encoding="bgr8", step=144, data=bytes(100)),  # truncated
            Image(height=0, width=0, encoding="bgr8", step=0, data=b""),  # zero size
        ]
        for i, crop in enumerate(bad_crops):
            n = len(got)
            pub.publish(_face(10 + i, crop))
            pub.publish(_face(20 + i))
            assert wait_until(ros_node, lambda n=n: len(got) >= n + 2, 10.0), f"silent after bad crop {i}"
            assert [m.header.stamp.sec for m in got[n:]] == [10 + i, 20 + i], "one Emotion per frame"
            assert (got[n].label, list(got[n].probabilities)) == ("", []), "a bad crop must not be classified"
            assert proc.poll() is None

        refusals = {
            "missing": "no such weight file",
            "corrupt": "not a readable safetensors file",
        }
        for variant, reason in refusals.items():
            ok, why = set_parameter(ros_node, "/emotion_classifier", "model_variant", variant)
            assert not ok and reason in why, why
            assert _exchange(ros_node, pub, got, _face(30))
            assert got[-1].model_variant == "baseline"
        ok, why = set_parameter(ros_node, "/emotion_classifier", "device", "cuda")
        assert not ok and "CUDA" in why
        ok, why = set_parameter(ros_node, "/emotion_classifier", "num_threads", 0)
        assert not ok
        ok, why = set_parameter(ros_node, "/emotion_classifier", "smoothing_frames", 0)
        assert not ok and "smoothing_frames" in why, why
        ok, why = set_parameter(ros_node, "/emotion_classifier", "smoothing_frames", 5)
        assert ok, why
        assert _exchange(ros_node, pub, got, _face(31)) and abs(sum(got[-1].probabilities) - 1) < 1e-4
        assert get_parameter(ros_node, "/emotion_classifier", "model_variant") == "baseline"

        ok, why = set_parameter(ros_node, "/emotion_classifier", "model_variant", "copy")
        assert ok, why
        assert _exchange(ros_node, pub, got, _face(40))
        assert got[-1].model_variant == "copy"
        assert proc.poll() is None
    finally:
        log = _stop(proc)
    assert "refused" in log


def test_a_variant_without_a_file_ends_the_node_at_start_up_with_its_reason(models_dir):
    proc = _start(models_dir, "nothing_here")
    out, _ = proc.communicate(timeout=60)
    log = out.decode()
    assert proc.returncode == 2, log  # the launch files end the launch on 2: never a classifier without a model
    assert "cannot load model: model_variant 'nothing_here': no such weight file for backend auto" in log, log
    assert "available variants: torch: baseline, copy, corrupt; onnxruntime: none" in log, log
    assert "Traceback" not in log, log


def test_a_variant_without_a_file_for_the_chosen_backend_is_refused_at_start_up(models_dir):
    proc = _start(models_dir, "baseline", "backend:=onnxruntime")
    out, _ = proc.communicate(timeout=60)
    log = out.decode()
    assert proc.returncode == 2, log
    assert "no baseline.onnx" in log and "facecoach export --variant baseline" in log, log


def test_model_variant_alone_goes_from_a_torch_variant_to_an_onnx_one_and_back(ros_node, models_dir):
    pytest.importorskip("onnxruntime")
    from facecoach_common.qos import STREAM_QOS
    from facecoach_msgs.msg import Emotion, Face

    shutil.copy(REPO / "models" / "int8_qdq.onnx", models_dir / "int8_qdq.onnx")
    got = []
    ros_node.create_subscription(Emotion, "/t/emotion", got.append, STREAM_QOS)
    pub = ros_node.create_publisher(Face, "/t/face", STREAM_QOS)
    proc = _start(models_dir)
    try:
        assert _connect(ros_node, pub, got, _face(1)), "no answer from the classifier"
        assert got[-1].model_variant == "baseline"
        ok, why = set_parameter(ros_node, "/emotion_classifier", "model_variant", "int8_qdq")
        assert ok, why
        assert _exchange(ros_node, pub, got, _face(2)) and got[-1].model_variant == "int8_qdq" and got[-1].label
        ok, why = set_parameter(ros_node, "/emotion_classifier", "model_variant", "baseline")
        assert ok, why
        assert _exchange(ros_node, pub, got, _face(3)) and got[-1].model_variant == "baseline"
        assert get_parameter(ros_node, "/emotion_classifier", "backend") == "auto"
        ok, why = set_parameter(ros_node, "/emotion_classifier", "backend", "torch")
        assert ok, why
        ok, why = set_parameter(ros_node, "/emotion_classifier", "model_variant", "int8_qdq")  # no int8_qdq.safetensors
        assert not ok and "no int8_qdq.safetensors" in why and "onnxruntime: int8_qdq" in why, why
        assert get_parameter(ros_node, "/emotion_classifier", "model_variant") == "baseline"
        assert _exchange(ros_node, pub, got, _face(4)) and got[-1].model_variant == "baseline"
        assert proc.poll() is None
    finally:
        log = _stop(proc)
    assert "switched baseline -> int8_qdq" in log and "onnxruntime on cpu" in log, log


def test_backend_switches_to_onnxruntime_at_runtime_and_refuses_what_it_cannot_run(ros_node, models_dir):
    pytest.importorskip("onnxruntime")
    from emotion_classifier.tooling.export import export_onnx
    from emotion_classifier.weights import load_model
    from facecoach_common.qos import STREAM_QOS
    from facecoach_msgs.msg import Emotion, Face

    model, info = load_model(models_dir / "baseline.safetensors")
    export_onnx(model, models_dir / "baseline.onnx", info, opset=13)
    got = []
    ros_node.create_subscription(Emotion, "/t/emotion", got.append, STREAM_QOS)
    pub = ros_node.create_publisher(Face, "/t/face", STREAM_QOS)
    proc = _start(models_dir)
    try:
        assert _connect(ros_node, pub, got, _face(1)), "no answer from the classifier"
        torch_p = np.array(got[-1].probabilities)
        ok, why = set_parameter(ros_node, "/emotion_classifier", "backend", "onnxruntime")
        assert ok, why
        assert _exchange(ros_node, pub, got, _face(2))
        np.testing.assert_allclose(np.array(got[-1].probabilities), torch_p, atol=1e-4)
        ok, why = set_parameter(ros_node, "/emotion_classifier", "providers", "tensorrt")
        assert not ok and "has no TensorrtExecutionProvider" in why, why
        ok, why = set_parameter(ros_node, "/emotion_classifier", "model_variant", "copy")  # no copy.onnx
        assert not ok and "facecoach export" in why, why
        assert get_parameter(ros_node, "/emotion_classifier", "backend") == "onnxruntime"
        assert _exchange(ros_node, pub, got, _face(3)) and got[-1].model_variant == "baseline"
        ok, why = set_parameter(ros_node, "/emotion_classifier", "backend", "torch")
        assert ok, why
        assert proc.poll() is None
    finally:
        log = _stop(proc)
    assert "onnxruntime on cpu" in log


def _onnx_with_classes(models_dir, classes_by_variant):
    """baseline.onnx (exported), and copies of it whose metadata names other classes than its 5 outputs."""
    onnx = pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    import json

    from emotion_classifier.tooling.export import export_onnx
    from emotion_classifier.weights import load_model

    model, info = load_model(models_dir / "baseline.safetensors")
    export_onnx(model, models_dir / "baseline.onnx", info, opset=13)
    for variant, classes in classes_by_variant.items():
        proto = onnx.load(str(models_dir / "baseline.onnx"))
        entry = next(p for p in proto.metadata_props if p.key == "classes")
        entry.value = json.dumps(classes)
        onnx.save(proto, str(models_dir / f"{variant}.onnx"))


CRAFTED_CLASSES = {
    "one_class": ["fear"],  # 1 name for 5 outputs: the first face used to kill the node (IndexError)
    "six_classes": ["fear", "happy", "neutral", "sad", "surprise", "disgust"],  # mismatched probabilities
}


def test_an_onnx_model_whose_classes_do_not_match_its_outputs_is_refused_and_the_previous_kept(ros_node, models_dir):
    from facecoach_common.qos import STREAM_QOS
    from facecoach_msgs.msg import Emotion, Face

    _onnx_with_classes(models_dir, CRAFTED_CLASSES)
    got = []
    ros_node.create_subscription(Emotion, "/t/emotion", got.append, STREAM_QOS)
    pub = ros_node.create_publisher(Face, "/t/face", STREAM_QOS)
    proc = _start(models_dir, "baseline", "backend:=onnxruntime")
    try:
        assert _connect(ros_node, pub, got, _face(1)), "no answer from the classifier"
        first = got[-1]
        assert first.model_variant == "baseline" and len(first.probabilities) == len(first.class_names) == 5
        for i, (variant, classes) in enumerate(CRAFTED_CLASSES.items()):
            ok, why = set_parameter(ros_node, "/emotion_classifier", "model_variant", variant)
            assert not ok and f"does not match its {len(classes)} class names" in why, why
            assert "\n" not in why
            assert _exchange(ros_node, pub, got, _face(10 + i)), f"no answer after {variant} was refused"
            m = got[-1]
            assert (m.model_variant, list(m.class_names)) == ("baseline", list(first.class_names))
            assert list(m.probabilities) == pytest.approx(list(first.probabilities), abs=1e-5)
            assert get_parameter(ros_node, "/emotion_classifier", "model_variant") == "baseline"
            assert proc.poll() is None
    finally:
        log = _stop(proc)
    assert "Traceback" not in log, log


def test_an_onnx_model_whose_classes_do_not_match_its_outputs_at_start_up_ends_the_node(models_dir):
    _onnx_with_classes(models_dir, CRAFTED_CLASSES)
    proc = _start(models_dir, "one_class", "backend:=onnxruntime")
    out, _ = proc.communicate(timeout=60)
    log = out.decode()
    assert proc.returncode == 2, log
    assert "cannot load model" in log and "does not match its 1 class names" in log and "Traceback" not in log, log
