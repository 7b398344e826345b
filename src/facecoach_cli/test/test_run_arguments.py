"""`facecoach run` / `demo` refuse bad arguments before anything starts: one line each, exit code 2."""

from pathlib import Path

import pytest

from facecoach_cli import launcher
from facecoach_cli.cli import main

SAMPLE = str(Path(__file__).resolve().parents[3] / "sample" / "interview")


@pytest.fixture(autouse=True)
def nothing_starts(monkeypatch):
    def started(self):
        raise AssertionError("the graph was started")

    monkeypatch.setattr(launcher.GraphProcesses, "start", started)


@pytest.mark.parametrize(
    "argv, says",
    [
        (["run", "--bag", "/missing"], "facecoach run: /missing: no such bag"),
        (["demo", "--bag", "/missing"], "facecoach demo: /missing: no such bag"),
        (["run", "--bag", SAMPLE, "--rate", "nan"], "facecoach run: --rate nan: must be a finite number > 0"),
        (["run", "--bag", SAMPLE, "--rate", "0"], "facecoach run: --rate 0.0: must be a finite number > 0"),
        (["demo", "--rate", "-2"], "facecoach demo: --rate -2.0: must be a finite number > 0"),
        (["demo", "--rate", "inf"], "facecoach demo: --rate inf: must be a finite number > 0"),
        (["demo", "--timeout", "0"], "facecoach demo: --timeout 0.0: must be a finite number > 0"),
        (
            ["run", "--model-variant", "nope"],
            "facecoach run: --model-variant 'nope': no nope.safetensors or nope.onnx in ",
        ),
        (
            ["run", "--backend", "onnxruntime", "--model-variant", "pruned"],
            "facecoach run: --model-variant 'pruned': no pruned.onnx in ",
        ),
        (
            ["demo", "--backend", "torch", "--model-variant", "int8_qdq"],
            "facecoach demo: --model-variant 'int8_qdq': no ",
        ),
        (["run", "--image-topic", "/my cam"], "facecoach run: "),
        (["demo", "--model-variant", "../baseline"], "facecoach demo: --model-variant '../baseline': no "),
        (["replay", SAMPLE, "--rate", "nan"], "facecoach replay: --rate nan: must be a finite number > 0"),
        (["replay", "/missing"], "facecoach replay: /missing: no such bag"),
        (["record", "/tmp/x", "--duration", "-1"], "facecoach record: --duration -1.0: must be a finite number >= 0"),
    ],
)
def test_bad_arguments_are_one_line_and_exit_2(capsys, argv, says):
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert err.count("\n") == 1 and err.startswith(says), err
    assert out == ""


def test_an_unknown_variant_names_the_available_ones(capsys):
    assert main(["run", "--model-variant", "int9"]) == 2
    err = capsys.readouterr().err
    assert "available variants: torch: baseline, int16, int4, int8" in err and "onnxruntime: int8_qdq" in err, err


@pytest.mark.parametrize("command", ["run", "demo"])
def test_help_offers_only_the_variants_that_the_command_accepts(capsys, command):
    """`run --help` offered int8_qdq and run refused it; now every offered variant is accepted (backend auto)."""
    import re

    from facecoach.graph import load_graph
    from facecoach_cli.commands import arguments

    with pytest.raises(SystemExit):
        main([command, "--help"])
    text = " ".join(capsys.readouterr().out.split())
    offered = re.search(r"--model-variant MODEL_VARIANT .*?; one of ([\w, ]+) \(default", text).group(1).split(", ")
    classifier = next(n for n in load_graph().nodes if n.package == "emotion_classifier")
    assert "baseline" in offered and "int8_qdq" in offered  # backend auto: int8_qdq.onnx serves
    for variant in offered:
        arguments.model_variant(variant, str(classifier.parameters.get("models_dir", "")))  # raises if refused
