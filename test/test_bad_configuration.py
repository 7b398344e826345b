"""Every node's console script, started directly, on a configuration that can never work (issue 20, item 7).

A parameters file that cannot be parsed, or a parameter value that is refused, must end the process with
its one-line reason and exit code 2 (what makes ``ros2 launch`` end instead of respawning it): no
traceback, no exit code 1. The same under the real ``ros2 launch`` is in test_launch_files.py.
"""

from __future__ import annotations

import os
import subprocess

import pytest

from facecoach_cli.children import executable_path

SCRIPTS = {
    "camera": ("face_detector", "camera", []),
    "face_detector": ("face_detector", "face_detector", []),
    "emotion_classifier": ("emotion_classifier", "emotion_classifier", []),
    "alert_player": ("alert_player", "alert_player", []),
    "single_process": ("facecoach", "facecoach_single_process", ["--mode", "replay"]),
}
# What rcl reads while parsing the arguments; (content, what the one line says, whether rcl says a line too).
PARAMS_FILES = {
    "not YAML": ("/**:\n  ros__parameters: {mode: [fast,\n", "is not valid YAML", False),
    "a list": ("- /**\n- ros__parameters\n", "the top level must map node names", False),
    "no ros__parameters": ("/**:\n  mode: fast\n", "Couldn't parse params file", True),
    "mixed list": ('/**:\n  ros__parameters:\n    x: [1, "a"]\n', "Sequence should be of same type", True),
}


def _run(script: str, *ros_args: str) -> subprocess.CompletedProcess:
    package, executable, args = SCRIPTS[script]
    cmd = [executable_path(package, executable), *args, "--ros-args", *ros_args]
    env = dict(os.environ, RCUTILS_LOGGING_BUFFERED_STREAM="0")
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=90, env=env)


def _check_one_line(done: subprocess.CompletedProcess, reason: str, rcl_line: bool = False) -> None:
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    assert done.returncode == 2, done.stdout
    assert "Traceback" not in done.stdout, done.stdout
    said = [line for line in lines if "cannot start" in line]
    assert len(said) == 1 and reason in said[0], done.stdout
    # Besides: the INFO lines of nodes a single process made before the one that could not start.
    others = [line for line in lines if line not in said and not line.startswith("[INFO]")]
    # rcl itself logs one line before refusing a file it parsed: "[rcl]: Failed to parse global arguments".
    assert len(others) <= int(rcl_line), done.stdout
    assert all("[rcl]: Failed to parse global arguments" in line for line in others), done.stdout


@pytest.mark.parametrize("what", list(PARAMS_FILES))
@pytest.mark.parametrize("script", list(SCRIPTS))
def test_a_parameters_file_that_cannot_be_parsed_ends_the_node_with_one_line_and_code_2(tmp_path, script, what):
    content, reason, rcl_line = PARAMS_FILES[what]
    path = tmp_path / "params.yaml"
    path.write_text(content)
    _check_one_line(_run(script, "--params-file", str(path)), reason, rcl_line)


@pytest.mark.parametrize("script", ["face_detector", "emotion_classifier", "alert_player"])
def test_a_missing_parameters_file_ends_the_node_with_one_line_and_code_2(tmp_path, script):
    missing = tmp_path / "nowhere" / "params.yaml"
    _check_one_line(_run(script, "--params-file", str(missing)), f"parameters file {missing}: cannot read it")


@pytest.mark.parametrize(
    "script, rule, reason",
    [
        ("emotion_classifier", "smoothing_frames:=0", "smoothing_frames out of range"),
        ("emotion_classifier", "model_variant:=5", "model_variant"),
        ("face_detector", "input:=sideways", "must be one of"),
        ("alert_player", "cooldown_s:=-1.0", "cooldown_s"),
        ("single_process", "emotion_classifier:smoothing_frames:=0", "smoothing_frames out of range"),
    ],
)
def test_a_refused_parameter_ends_the_node_with_one_line_and_code_2(script, rule, reason):
    """The classifier's used to print its line, then an AttributeError traceback (exit 1): rclpy destroyed
    the half-built node at shutdown, whose destroy_node assumed a finished __init__."""
    _check_one_line(_run(script, "-p", rule), reason)
