"""ONNX export parity with PyTorch (ONNX Runtime)."""

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from emotion_testutil import meta

from emotion_classifier.model import EmotionRecognitionModel
from emotion_classifier.weights import load_model, save_model

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")


@pytest.mark.parametrize("bits", [32, 8, 4])
def test_export_matches_pytorch(tmp_path, bits):
    from emotion_classifier.tooling.export import export_onnx, onnx_max_abs_diff

    path = save_model(tmp_path / "m.safetensors", EmotionRecognitionModel(5, (8, 8, 16, 16), (32, 16)), meta(), bits)
    model, info = load_model(path)
    out = export_onnx(model, tmp_path / "m.onnx", info)
    assert onnx_max_abs_diff(model, out, n=4) < 1e-4
    props = {p.key: json.loads(p.value) for p in onnx.load(str(out)).metadata_props}
    assert props["classes"] == info["classes"] and props["bits"] == bits


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """Every committed variant that has an ONNX form, exported at opset 13 into a folder of its own."""
    from pathlib import Path

    from emotion_classifier.tooling.export import export_onnx

    models = Path(__file__).resolve().parents[3] / "models"
    if not models.is_dir():
        pytest.skip("the committed models/ are not beside this source tree")
    out = tmp_path_factory.mktemp("onnx")
    names = []
    for path in sorted(models.glob("*.safetensors")):
        model, info = load_model(path)
        if info.get("kernels"):
            continue  # int8_native: PyTorch's own integer modules, no ONNX form
        (out / path.name).write_bytes(path.read_bytes())
        export_onnx(model, out / (path.stem + ".onnx"), info, opset=13)
        names.append(path.stem)
    return out, names


def _faces(n=24):
    rng = np.random.default_rng(7)
    base = rng.integers(0, 256, (n, 48, 48), dtype=np.uint8)
    return [cv2.GaussianBlur(f, (0, 0), 2) for f in base]  # face-like smooth images, not noise


@pytest.mark.parametrize("flip_tta", [False, True])
def test_onnxruntime_backend_gives_torchs_probabilities_for_every_variant(exported, flip_tta):
    from emotion_classifier.inference import EmotionClassifier

    folder, names = exported
    assert {"baseline", "int16", "int8", "int4", "pruned"} <= set(names)
    faces = _faces()
    for name in names:
        torch_p = EmotionClassifier(folder / f"{name}.safetensors", flip_tta=flip_tta).predict_batch(faces)
        ort = EmotionClassifier(folder / f"{name}.onnx", flip_tta=flip_tta, backend="onnxruntime")
        assert ort.class_names == tuple(load_model(folder / f"{name}.safetensors")[1]["classes"])
        np.testing.assert_allclose(ort.predict_batch(faces), torch_p, atol=1e-4, err_msg=name)


def test_onnxruntime_refuses_a_missing_file_or_an_absent_provider(exported, tmp_path):
    from emotion_classifier.inference import EmotionClassifier
    from emotion_classifier.weight_file import WeightFileError

    folder, _ = exported
    with pytest.raises(WeightFileError, match="no such ONNX file .*facecoach export --variant nothing"):
        EmotionClassifier(folder / "nothing.onnx", backend="onnxruntime")
    with pytest.raises(WeightFileError, match="has no TensorrtExecutionProvider"):
        EmotionClassifier(folder / "baseline.onnx", backend="onnxruntime", providers="tensorrt")
    (tmp_path / "bad.onnx").write_bytes(b"not a model")
    with pytest.raises(WeightFileError, match="not a loadable ONNX model"):
        EmotionClassifier(tmp_path / "bad.onnx", backend="onnxruntime")


def test_static_int8_qdq_keeps_the_labels_and_the_metadata(exported, tmp_path):
    from emotion_classifier.inference import EmotionClassifier
    from emotion_classifier.tooling.data import FaceSet
    from emotion_classifier.tooling.onnx_int8 import quantize_int8_qdq

    folder, _ = exported
    faces = _faces(64)
    calib = FaceSet(np.stack(faces[:32]), np.zeros(32, np.int64), "generated", "", 32)
    out = quantize_int8_qdq(folder / "baseline.onnx", tmp_path / "int8_qdq.onnx", calib, {"bits": 8})
    q = EmotionClassifier(out, backend="onnxruntime")
    f = EmotionClassifier(folder / "baseline.onnx", backend="onnxruntime")
    assert q.meta["bits"] == 8 and q.class_names == f.class_names
    assert out.stat().st_size < 0.3 * (folder / "baseline.onnx").stat().st_size
    test = faces[32:]
    same = (q.predict_batch(test).argmax(1) == f.predict_batch(test).argmax(1)).mean()
    assert same >= 0.9, f"int8 QDQ agrees with fp32 on {same:.0%} of the faces"


# ------------------------------------------------------------------ class list against outputs (issue 20, item 6)

FIVE = ["fear", "happy", "neutral", "sad", "surprise"]


def _crafted_onnx(path, classes, width=5, declared_width=None, outputs=1):
    """A small linear ONNX model, N x 3 x 48 x 48 -> N x ``width``, whose metadata names ``classes``.

    ``declared_width``: what the graph declares as the output's width (default ``width``; a string is a
    symbolic dimension, known only when the model runs). ``outputs`` > 1 adds copies of the output.
    """
    from onnx import TensorProto, helper, numpy_helper

    from emotion_classifier.preprocess import PREPROCESSING

    rng = np.random.default_rng(width)
    weight = numpy_helper.from_array(rng.normal(0, 0.01, (3 * 48 * 48, width)).astype(np.float32), "w")
    nodes = [helper.make_node("Flatten", ["x"], ["flat"]), helper.make_node("MatMul", ["flat", "w"], ["y0"])]
    declared = width if declared_width is None else declared_width
    if isinstance(declared, str):  # hide the width from shape inference: reshape to [N, -1] with a computed shape
        nodes[1].output[0] = "wide"
        nodes += [
            helper.make_node("Shape", ["wide"], ["dims"]),
            helper.make_node("Reshape", ["wide", "dims"], ["y0"]),
        ]
    outs = [helper.make_tensor_value_info("y0", TensorProto.FLOAT, ["N", declared])]
    for i in range(1, outputs):
        nodes.append(helper.make_node("Identity", ["y0"], [f"y{i}"]))
        outs.append(helper.make_tensor_value_info(f"y{i}", TensorProto.FLOAT, ["N", declared]))
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 48, 48])
    model = helper.make_model(
        helper.make_graph(nodes, "crafted", [x], outs, [weight]), opset_imports=[helper.make_opsetid("", 13)]
    )
    model.ir_version = 8
    for key, value in (("classes", classes), ("preprocessing", PREPROCESSING), ("bits", 32)):
        entry = model.metadata_props.add()
        entry.key, entry.value = key, json.dumps(value)
    onnx.save(model, str(path))
    return path


@pytest.mark.parametrize(
    "classes, width, declared, outputs, reason",
    [
        (["fear"], 5, None, 1, r"output shape \['N', 5\] does not match its 1 class names"),
        (FIVE + ["disgust"], 5, None, 1, r"output shape \['N', 5\] does not match its 6 class names"),
        (FIVE + ["disgust"], 5, "K", 1, r"output \({n}, 5\) for {n} faces does not match its 6 class names"),
        (["fear"], 5, "K", 1, r"output \({n}, 5\) for {n} faces does not match its 1 class names"),
        (FIVE, 5, None, 2, "expected one N x 5 output"),
        ([1, 2, 3, 4, 5], 5, None, 1, "classes must be 1 to"),
        (["fear", "fear", "happy", "sad", "neutral"], 5, None, 1, "distinct names"),
    ],
    ids=["1-for-5", "6-for-5", "6-for-5-symbolic", "1-for-5-symbolic", "two-outputs", "not-names", "repeated"],
)
def test_an_onnx_model_whose_class_list_does_not_match_its_outputs_is_refused_at_load(
    tmp_path, classes, width, declared, outputs, reason
):
    from emotion_classifier.inference import EmotionClassifier
    from emotion_classifier.weight_file import WeightFileError

    path = _crafted_onnx(tmp_path / "crafted.onnx", classes, width, declared, outputs)
    for flip_tta in (False, True):
        with pytest.raises(WeightFileError, match=reason.replace("{n}", str(1 + flip_tta))) as err:  # flips: 2N
            EmotionClassifier(path, backend="onnxruntime", flip_tta=flip_tta)
        assert "\n" not in str(err.value)


def test_a_crafted_onnx_model_that_matches_its_class_list_loads_and_classifies(tmp_path):
    from emotion_classifier.inference import EmotionClassifier

    for declared in (None, "K"):
        path = _crafted_onnx(tmp_path / "fine.onnx", FIVE, 5, declared)
        scores = EmotionClassifier(path, backend="onnxruntime", flip_tta=True).predict(np.full((48, 48), 100, np.uint8))
        assert scores.class_names == tuple(FIVE) and len(scores.probabilities) == 5 and scores.label in FIVE


def test_the_committed_int8_qdq_loads_on_the_jetsons_onnxruntime_1_10():
    """onnxruntime 1.10 (JetPack 4.6, Python 3.6) refuses any opset import newer than it knows, used or not.

    The quantizer stamped ai.onnx.ml opset 5 (1.10 knows 2): only the default domain, at opset <= 15, may stay.
    """
    from emotion_classifier.tooling.onnx_int8 import keep_used_opsets

    model = onnx.load(str(Path(__file__).resolve().parents[3] / "models" / "int8_qdq.onnx"))
    assert [(o.domain, o.version) for o in model.opset_import] == [("", 13)]
    model.opset_import.add(domain="ai.onnx.ml", version=5)
    keep_used_opsets(model)
    assert [(o.domain, o.version) for o in model.opset_import] == [("", 13)]
