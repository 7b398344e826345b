"""The runtime/tooling line: what the node process imports stays Python 3.6 code and never loads the tooling."""

import ast
import os
import subprocess
import sys
from pathlib import Path

from emotion_testutil import make_faces, meta

PACKAGE = Path(__file__).resolve().parents[1] / "emotion_classifier"
# The development-only subpackage; every module beside it is what the node process may import (the Jetson's
# Python 3.6 + PyTorch 1.10).
TOOLING = "tooling"
RUNTIME = tuple(sorted(p.stem for p in PACKAGE.glob("*.py")))


def _relative_imports(tree):
    """(module, level) of every ``from . import``-style import anywhere in a module."""
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level:
            yield node.module or "", node.level


def test_runtime_modules_are_python36_and_import_no_tooling():
    assert {"inference", "weights", "weight_file", "node", "config"} <= set(RUNTIME)
    for name in RUNTIME:
        source = (PACKAGE / f"{name}.py").read_text()
        tree = ast.parse(source, feature_version=(3, 6))  # no walrus, no positional-only parameters, ...
        futures = [
            a.name
            for n in ast.walk(tree)
            if isinstance(n, ast.ImportFrom) and n.module == "__future__"
            for a in n.names
        ]
        assert "annotations" not in futures, f"{name}.py: 'from __future__ import annotations' is Python 3.7+"
        for node in ast.walk(tree):
            annotations = []
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                annotations = [a.annotation for a in node.args.args + node.args.kwonlyargs] + [node.returns]
            elif isinstance(node, ast.AnnAssign):
                annotations = [node.annotation]
            for ann in annotations:
                bad = ann is not None and any(
                    isinstance(n, ast.BinOp) and isinstance(n.op, ast.BitOr) for n in ast.walk(ann)
                )
                assert not bad, f"{name}.py:{node.lineno}: 'X | Y' annotations fail before Python 3.10"
        for module, level in _relative_imports(tree):
            assert level == 1, f"{name}.py imports from outside the package ({'.' * level}{module})"
            assert module.split(".")[0] != TOOLING, f"runtime {name}.py imports .{module}"


def test_the_weight_file_format_depends_on_neither_loader():
    """weights -> native_int8 -> weight_file, one way: the format module imports no loader (only the architecture)."""
    imported = {
        name: {m.split(".")[0] for m, _ in _relative_imports(ast.parse((PACKAGE / f"{name}.py").read_text()))}
        for name in ("weight_file", "native_int8", "weights")
    }
    assert imported["weight_file"] <= {"preprocess", "model"}
    assert "weights" not in imported["native_int8"]
    assert {"weight_file", "native_int8"} <= imported["weights"]


def test_loading_and_predicting_loads_no_tooling(tmp_path):
    """In a fresh interpreter: load a float and a native int8 file and classify; no tooling module is imported."""
    import torch

    from emotion_classifier.model import EmotionRecognitionModel
    from emotion_classifier.preprocess import normalize_gray
    from emotion_classifier.tooling.calibrate import calibrate_int8, save_native_int8
    from emotion_classifier.weights import save_model

    model = EmotionRecognitionModel(5, (8, 8, 16, 16), (32, 16)).eval()
    save_model(tmp_path / "baseline.safetensors", model, meta())
    qmodel = calibrate_int8(model, torch.from_numpy(normalize_gray(make_faces(20).images)))
    save_native_int8(tmp_path / "int8_native.safetensors", qmodel, meta("int8_native"))
    code = (
        "import sys, numpy as np\n"
        "from emotion_classifier.inference import EmotionClassifier\n"
        f"for path in {[str(tmp_path / 'baseline.safetensors'), str(tmp_path / 'int8_native.safetensors')]!r}:\n"
        "    EmotionClassifier(path).predict(np.zeros((60, 50, 3), np.uint8))\n"
        "bad = ('emotion_classifier.tooling', 'emotion_classifier.data',\n"
        "       'torch_pruning', 'onnx', 'onnxruntime', 'matplotlib')\n"
        "print(sorted(m for m in sys.modules if m.startswith(bad)))\n"
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(PACKAGE.parent), os.environ.get("PYTHONPATH", "")]))
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
