"""`facecoach set-model / get-model / get-mapping` against running nodes, as a user types them."""

from __future__ import annotations

import subprocess
from pathlib import Path

from facecoach.graph import load_graph
from facecoach_cli.launcher import GraphProcesses
from facecoach_cli.ros_calls import set_parameter

REPO = Path(__file__).resolve().parents[1]


def _facecoach(*args: str):
    return subprocess.run(
        [str(REPO / "bin" / "facecoach"), *args, "--timeout", "60"], capture_output=True, text=True, timeout=120
    )


def test_model_and_mapping_commands_talk_to_the_running_nodes(ros_node, tmp_path):
    graph = load_graph()
    nodes = [n for n in graph.nodes_for("replay", {"alsa_device": "null"}) if n.name != "face_detector"]
    with GraphProcesses(graph, nodes, log_dir=tmp_path) as procs:
        got = _facecoach("get-mapping")
        assert got.returncode == 0, got.stderr
        assert got.stdout.strip() == "good: happy | acceptable: neutral, surprise | bad: fear, sad"
        ok, reason = set_parameter(ros_node, "/alert_player", "mapping.surprise", "bad")
        assert ok, reason
        assert (
            _facecoach("get-mapping").stdout.strip() == "good: happy | acceptable: neutral | bad: fear, sad, surprise"
        )

        got = _facecoach("set-model", "int8")
        assert got.returncode == 0 and "model_variant = int8" in got.stdout, got.stderr
        assert _facecoach("get-model").stdout.strip() == "int8"
        got = _facecoach("set-model", "int3")
        assert got.returncode == 1 and got.stderr.startswith("refused:") and "int3" in got.stderr
        assert _facecoach("get-model").stdout.strip() == "int8"
        assert procs.dead() == {}
