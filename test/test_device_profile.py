"""The device profile: the runtime on the Jetson Nano's software (CPython 3.6, torch 1.10, numpy 1.19, OpenCV 4.6,
no ROS, no safetensors), in the venv .venv-device that tools/setup.sh makes from requirements-device-test.txt.

Runs there, in a subprocess, the runtime's unit tests that need no ROS, and checks that every committed
variant classifies the same faces as here (same labels, probabilities within 1e-4) and that bad weight
files get the same messages: here safetensors reads the files, there the numpy reader does.
"""

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
VENV = REPO / ".venv-device"
PYTHON = VENV / "bin" / "python"
REQUIREMENTS = REPO / "requirements-device-test.txt"
MODELS = REPO / "models"
SAMPLE_BAG = REPO / "sample" / "interview"
RUNTIME_PATHS = [
    REPO / "src" / p
    for p in ("facecoach_common", "face_detector", "emotion_classifier", "alert_player", "facecoach_bag", "facecoach")
]
# The runtime's unit tests that import no rclpy and no message package (the device venv has no ROS).
UNIT_TESTS = [
    "src/facecoach_common/test/test_settings.py",
    "src/face_detector/test/test_capture.py",
    "src/face_detector/test/test_detector.py",
    "src/alert_player/test/test_alert_audio.py",
    "src/alert_player/test/test_alert_mapping.py",
    "src/alert_player/test/test_alert_policy.py",
    "src/alert_player/test/test_alert_voice.py",
    "src/emotion_classifier/test/test_model.py",
    "src/emotion_classifier/test/test_weights.py",
    "src/emotion_classifier/test/test_weight_file.py",
    "src/emotion_classifier/test/test_calibration.py",
    "src/facecoach/test/test_bring_up.py",
    "src/facecoach/test/test_profile.py",
]
ATOL = 1e-4
# int8_native runs fbgemm's integer kernels, which pick their code path by CPU (AVX2, AVX512, VNNI) and
# version: torch 1.10 and today's torch may requantize a value one step apart on the same machine, which
# moves a probability by up to ~1e-2. The labels must still agree. So for int8_qdq: onnxruntime 1.10's integer
# kernels against this machine's onnxruntime.
INT8_KERNEL_ATOL = 0.05
SETUP_HINT = "create it with: make setup-test (tools/setup.sh --test; needs CPython 3.6: pyenv install 3.6.15)"


@pytest.fixture(scope="module")
def device_python() -> str:
    """The device venv's interpreter; skip, saying how to make it, when it is missing or stale."""
    if not PYTHON.exists():
        pytest.skip(f"no device-profile venv {VENV.name}/: {SETUP_HINT}")
    wanted = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()
    stamp = VENV / ".requirements.sha256"
    if not stamp.exists() or stamp.read_text().strip() != wanted:
        pytest.skip(f"{VENV.name}/ is incomplete or older than {REQUIREMENTS.name}: {SETUP_HINT}")
    return str(PYTHON)


def _device_env() -> dict:
    """A clean environment: none of this venv's or ROS's paths, only the runtime packages' sources."""
    keep = ("HOME", "TMPDIR", "USER", "TERM")
    env = {k: os.environ[k] for k in keep if k in os.environ}
    env["PATH"] = os.pathsep.join([str(VENV / "bin"), "/usr/local/bin", "/usr/bin", "/bin"])
    env["PYTHONPATH"] = os.pathsep.join(str(p) for p in RUNTIME_PATHS)
    # A container without a locale: Python 3.6 then reads and writes files as ASCII (3.7+ switch to UTF-8).
    env["LC_ALL"] = "C"
    env["PYTHONIOENCODING"] = "utf-8"  # only the test output, so that a failure can be read
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # no cpython-36 .pyc files in the source tree
    env["OMP_NUM_THREADS"] = "1"
    return env


def _run(python: str, args, timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(
        [python] + [str(a) for a in args], cwd=REPO, env=_device_env(), capture_output=True, text=True, timeout=timeout
    )


_VERSIONS = """
import json, sys, importlib.util as u
import cv2, numpy, onnxruntime, torch, yaml
print(json.dumps({"python": list(sys.version_info[:2]), "torch": torch.__version__, "numpy": numpy.__version__,
                  "onnxruntime": onnxruntime.__version__,
                  "cv2": cv2.__version__, "engines": list(torch.backends.quantized.supported_engines),
                  "absent": [m for m in ("safetensors", "rclpy", "rosbags") if u.find_spec(m) is None]}))
"""


def test_the_device_profile_is_the_jetsons_software(device_python):
    done = _run(device_python, ["-c", _VERSIONS], 120)
    assert done.returncode == 0, done.stderr
    info = json.loads(done.stdout)
    assert info["python"] == [3, 6]
    assert info["torch"].startswith("1.10.") and info["numpy"] == "1.19.5"
    assert info["onnxruntime"] == "1.10.0"  # the last onnxruntime for Python 3.6 (JetPack 4.6)
    assert info["cv2"].startswith("4.")  # the Jetson's OpenCV is 4.1 (JetPack) or 4.5 (the ROS containers)
    assert info["absent"] == ["safetensors", "rclpy", "rosbags"]


def test_runtime_unit_tests_pass_on_the_device_profile(device_python):
    args = ["-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", REPO, "-rs"] + UNIT_TESTS
    done = _run(device_python, args, 900)
    tail = (done.stdout + done.stderr)[-6000:]
    assert done.returncode == 0, tail
    assert " passed" in done.stdout and "error" not in done.stdout.splitlines()[-1], tail


_GRAPH = """
import json, sys
import facecoach.errors, facecoach.executors, facecoach.single_process  # the bring-up imports on 3.6
import facecoach_bag.player  # the player replay.launch.py starts
from facecoach.graph import load_graph
graph = load_graph(sys.argv[1])
out = {}
for mode in ("live", "replay"):
    nodes = graph.nodes_for(mode)
    out[mode] = {"params": graph.params_file_content(nodes), "args": [n.ros_args("p.yaml") for n in nodes],
                 "processes": [[name, [n.name for n in specs]] for name, specs in graph.processes(nodes)]}
print(json.dumps(out, sort_keys=True))
"""


def test_the_bring_up_reads_the_graph_the_same_on_the_device_profile(device_python):
    """What ros2 launch and single-process mode read from config/facecoach.yaml, on 3.6 in a C locale."""
    config = REPO / "config" / "facecoach.yaml"
    done = _run(device_python, ["-c", _GRAPH, config], 120)
    assert done.returncode == 0, done.stderr[-4000:]
    here = subprocess.run([sys.executable, "-c", _GRAPH, str(config)], capture_output=True, text=True, timeout=120)
    assert here.returncode == 0, here.stderr[-4000:]
    assert json.loads(done.stdout) == json.loads(here.stdout)


def _pins(path: Path) -> dict:
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, _, rest = line.partition("==")
            pins[name.strip().lower()] = rest.split(";")[0].strip()
    return pins


def test_what_pip_adds_on_the_jetson_is_in_the_profile_and_never_torch_or_opencv():
    device, profile = _pins(REPO / "requirements-device.txt"), _pins(REQUIREMENTS)
    assert not {n for n in device if n.startswith(("torch", "opencv", "numpy", "safetensors"))}
    for name, version in device.items():
        assert profile.get(name) == version, f"{name}=={version} is not what the device profile tests"


# --------------------------------------------------------------------------------------------------
def _faces() -> np.ndarray:
    """BGR face crops (96 x 96, so both sides also run the gray conversion and the 48 x 48 resize).

    Real faces: crops of the bundled sample interview where the detector finds one (FER2013 test faces),
    and deterministic noise and gradients, which sit close to class boundaries.
    """
    import cv2

    crops = []
    if SAMPLE_BAG.is_dir():
        pytest.importorskip("rosbags", reason="reading the sample bag needs rosbags (the dev venv has it)")
        from rosbags.highlevel import AnyReader

        from face_detector.detector import DetectorConfig, FaceDetector, crop_face

        detector = FaceDetector(DetectorConfig(mode="naive"))
        with AnyReader([SAMPLE_BAG]) as reader:
            for i, (conn, _t, raw) in enumerate(reader.messages()):
                if i % 27:
                    continue
                msg = reader.deserialize(raw, conn.msgtype)
                frame = cv2.imdecode(np.frombuffer(bytes(msg.data), np.uint8), cv2.IMREAD_COLOR)
                box = detector.detect(frame)
                if box is not None:
                    crops.append(crop_face(frame, box, 96, 0.1))
    rng = np.random.default_rng(11)
    crops += list(rng.integers(0, 256, (8, 96, 96, 3), dtype=np.uint8))
    ramp = np.linspace(0, 255, 96, dtype=np.float32)
    crops += [np.dstack([np.add.outer(ramp * a, ramp * (1 - a)) / 2] * 3).astype(np.uint8) for a in (0.0, 0.5, 1.0)]
    return np.stack(crops)


def _bad_files(out: Path) -> list:
    """Weight files the runtime must refuse, each for another reason."""
    import struct

    import torch

    from emotion_classifier.weight_file import read_header, read_tensors
    from emotion_classifier.weight_writer import write_safetensors

    out.mkdir()
    base = (MODELS / "baseline.safetensors").read_bytes()
    (n,) = struct.unpack("<Q", base[:8])
    header = json.loads(base[8 : 8 + n])
    files = {
        "truncated": base[:5000],
        "header_length": struct.pack("<Q", len(base)) + base[8:],
        "bad_json": struct.pack("<Q", 12) + b'{"a": [1, 2' + b" " + base[8 + n :],
        "short": base[:6],
    }
    overlap = dict(header)
    overlap["classifier.1.bias"] = dict(header["classifier.4.bias"])  # the same bytes as another tensor
    raw = json.dumps(overlap).encode()
    files["overlapping"] = struct.pack("<Q", len(raw)) + raw + base[8 + n :]
    paths = []
    for name, data in files.items():
        (out / f"{name}.safetensors").write_bytes(data)
        paths.append(out / f"{name}.safetensors")
    meta = read_header(MODELS / "baseline.safetensors").metadata
    crafted = dict(meta, widths=json.dumps({"conv": [32, 64, 128, 128], "fc": [200000, 200000]}))
    write_safetensors({"x": torch.zeros(4)}, crafted, out / "widths.safetensors")
    tensors = read_tensors(MODELS / "pruned.safetensors")
    tensors["features.3.weight"] = tensors["features.3.weight"][:, :, :2].clone()
    write_safetensors(tensors, read_header(MODELS / "pruned.safetensors").metadata, out / "shape.safetensors")
    native = read_tensors(MODELS / "int8_native.safetensors")
    del native["quant.scale"]
    write_safetensors(native, read_header(MODELS / "int8_native.safetensors").metadata, out / "native.safetensors")
    return [str(p) for p in paths] + [
        str(out / f) for f in ("widths.safetensors", "shape.safetensors", "native.safetensors")
    ]


def test_committed_variants_classify_the_same_faces_on_the_device_profile(device_python, tmp_path):
    import torch

    from emotion_classifier.inference import EmotionClassifier
    from emotion_classifier.weight_file import WeightFileError

    torch.set_num_threads(1)
    faces = _faces()
    assert len(faces) >= 20
    np.save(str(tmp_path / "faces.npy"), faces)
    from emotion_classifier.tooling.export import export_onnx
    from emotion_classifier.weights import load_model

    variants = {p.stem: str(p) for p in sorted(MODELS.glob("*.safetensors"))}
    assert {"baseline", "pruned", "int16", "int8", "int4", "int8_native"} <= set(variants)
    # The ONNX variants, on the device's onnxruntime 1.10: the committed int8_qdq and a float export (opset 13).
    model, info = load_model(MODELS / "baseline.safetensors")
    variants["baseline.onnx"] = str(export_onnx(model, tmp_path / "baseline.onnx", info, opset=13))
    variants["int8_qdq.onnx"] = str(MODELS / "int8_qdq.onnx")
    (tmp_path / "variants.json").write_text(json.dumps(variants))
    bad = _bad_files(tmp_path / "bad")
    (tmp_path / "bad.json").write_text(json.dumps(bad))

    done = _run(device_python, [REPO / "test" / "device_check.py", tmp_path], 600)
    assert done.returncode == 0, done.stderr[-6000:]

    for variant, path in variants.items():
        for flip in (False, True):
            ref = EmotionClassifier(path, flip_tta=flip).predict_batch(list(faces))
            got = np.load(str(tmp_path / f"{variant}.{int(flip)}.npy"))
            assert got.shape == ref.shape, variant
            assert (got.argmax(1) == ref.argmax(1)).all(), f"{variant} flip_tta={flip}: another label"
            diff = float(np.abs(got - ref).max())
            print(f"{variant} flip_tta={flip}: {len(faces)} faces, same labels, max |dp| {diff:.1e}")
            tol = INT8_KERNEL_ATOL if variant in ("int8_native", "int8_qdq.onnx") else ATOL
            assert diff <= tol, f"{variant} flip_tta={flip}: probabilities differ by {diff:.2e}"
    errors = json.loads((tmp_path / "errors.json").read_text())
    for path in bad:
        with pytest.raises(WeightFileError) as here:
            EmotionClassifier(path)
        assert errors[path] == str(here.value), "removing safetensors changed the message"
    assert "widths.fc[0]=200000 is outside 1..512" in errors[str(tmp_path / "bad" / "widths.safetensors")]
    assert sys.modules.get("safetensors") is not None  # here the package read them


# --------------------------------------------------------------------------------------------------
# The bag player on the device: rosbags does not install on Python 3.6, so the standard library reads sqlite3 bags.


def _rosbags_reads(bag: Path) -> tuple:
    """(topics with counts, every message) as rosbags reads the bag here: the reference."""
    pytest.importorskip("rosbags", reason="the reference reading needs rosbags (the dev venv has it)")
    from rosbags.rosbag2 import Reader

    with Reader(bag) as reader:
        listed = [[c.topic, c.msgtype, c.msgcount] for c in reader.connections]
        got = [
            [c.topic, c.msgtype, t_ns, len(raw), hashlib.sha256(bytes(raw)).hexdigest()]
            for c, t_ns, raw in reader.messages()
        ]
    return listed, got


def test_the_bag_player_reads_and_plays_the_sample_on_the_device_profile(device_python, tmp_path):
    """Issue 22: replay.launch.py's player on Python 3.6 without rosbags: the same messages, in order, as bytes.

    There is no rclpy in the profile: device_bag_check.py plays through replay.Replayer into publishers of a
    stand-in that records what would go out (test_launch_files.py plays over DDS with rosbags blocked). MCAP
    and compressed bags, which need rosbags, are refused in one line saying so.
    """
    from facecoach_bag.writer import BagWriter

    listed, reference = _rosbags_reads(SAMPLE_BAG)
    mcap = BagWriter(tmp_path / "mcap", storage="mcap")
    mcap.write("/camera/image_raw/compressed", "sensor_msgs/msg/CompressedImage", 1, b"\0\1\0\0" + bytes(64))
    mcap.close()
    compressed = tmp_path / "compressed"
    compressed.mkdir()
    (compressed / "metadata.yaml").write_text(
        (SAMPLE_BAG / "metadata.yaml").read_text().replace("compression_mode: ''", "compression_mode: MESSAGE")
    )
    assert "MESSAGE" in (compressed / "metadata.yaml").read_text()
    refused = [tmp_path / "mcap", compressed, tmp_path / "missing"]
    out = tmp_path / "out.json"
    done = _run(device_python, [REPO / "test" / "device_bag_check.py", SAMPLE_BAG, out] + refused, 300)
    assert done.returncode == 0, done.stderr[-6000:]
    got = json.loads(out.read_text())
    assert got["python"] == [3, 6] and got["no_rosbags"], got["python"]
    assert got["reader"] == "Sqlite3Reader" and got["partial"] is None
    assert got["topics"] == listed and listed[0][2] == 810
    assert got["messages"] == reference  # topics, types, log times and CDR bytes, in rosbags' order
    assert got["played"] == 810 and got["all_bytes"] and got["stream_end"] == 1
    assert got["sent"] == [[topic, size, digest] for topic, _type, _t, size, digest in reference]
    print(f"device profile: {len(reference)} messages read and played in {got['play_s']:.2f} s at 100x")
    reasons = got["refused"]
    assert "an MCAP bag: reading it needs rosbags, which is not installed here" in reasons[str(tmp_path / "mcap")]
    assert "a compressed bag (zstd, message mode): inflating it needs rosbags" in reasons[str(compressed)]
    assert reasons[str(tmp_path / "missing")].endswith("missing: no such bag")
    assert all("\n" not in why for why in reasons.values()), reasons
