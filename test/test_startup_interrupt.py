"""Ctrl-C while a node process is still starting (importing torch, OpenCV, rclpy) ends it quietly.

Real processes, a real SIGINT at several moments after their start: no traceback, exit code 0. Through the
launcher (what `facecoach run` stops), which starts its children with SIGINT held back until their program
can take it, so even a stop during Python's own start-up is clean; and the classifier's console script started
directly (what `ros2 launch` or a terminal does) while it imports torch.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest

from facecoach.graph import load_graph
from facecoach_cli.children import executable_path
from facecoach_cli.launcher import GraphProcesses

MOMENTS_S = (0.05, 0.3, 1.0, 3.0)


def _clean(text: str) -> bool:
    return "Traceback" not in text and "KeyboardInterrupt" not in text


@pytest.mark.parametrize("after_s", MOMENTS_S)
@pytest.mark.parametrize("mode", ["live", "replay"])
def test_stopping_the_graph_while_it_starts_is_quiet(tmp_path, mode, after_s):
    """live: camera+detector in one single_process child, classifier, alert; replay: detector alone too."""
    graph = load_graph()
    nodes = graph.nodes_for(mode, {"alsa_device": "null"})
    procs = GraphProcesses(graph, nodes, log_dir=tmp_path, restart=False, on_event=lambda e: None).start()
    time.sleep(after_s)  # the moment is the point here: no event to wait for
    codes = procs.stop()
    logs = {p.stem: p.read_text(errors="replace") for p in tmp_path.glob("*.log")}
    assert set(logs) == set(codes), logs
    for name, text in logs.items():
        assert _clean(text), f"{name} stopped {after_s} s after its start:\n{text}"
    assert codes == {name: 0 for name in codes}, logs


@pytest.mark.parametrize("after_s", (1.0, 3.0))
def test_ctrl_c_while_the_classifier_imports_torch_is_quiet(after_s):
    """Started as ros2 launch starts it (no held SIGINT): torch takes seconds to import, weights to load."""
    cmd = [executable_path("emotion_classifier", "emotion_classifier"), "--ros-args", "-r", "face:=/t/face"]
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # as from a terminal
    )
    try:
        time.sleep(after_s)
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = out.decode(errors="replace")
    assert _clean(text), text
    assert proc.returncode == 0, text
