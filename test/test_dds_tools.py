"""The two Fast DDS measurements in tools/: they run and report what they measure (the figures are not bounded here).

tools/dds_restart_delay.py is behind test_supervisor's DDS_REJOIN_S, tools/live_startup_stall.py behind the
`facecoach` command's own Fast DDS profile.
"""

import re
import subprocess
import sys
from pathlib import Path

TOOLS = Path(__file__).resolve().parents[1] / "tools"


def run_tool(name, *args):
    out = subprocess.run([sys.executable, str(TOOLS / name), *args], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


def test_restart_delay_measures_a_restart_after_a_clean_exit_and_after_kill_9():
    out = run_tool("dds_restart_delay.py", "--runs", "2")
    runs = re.findall(r"^  (clean exit|kill -9) run \d: seen [\d.]+ first ([\d.]+)$", out, re.M)
    assert [mode for mode, _ in runs] == ["clean exit"] * 2 + ["kill -9"] * 2, out
    for mode in ("clean exit", "kill -9"):
        summary = rf"^  after a {mode}: median [\d.]+ s, min [\d.]+ s, max [\d.]+ s \(1 runs\)$"
        assert re.search(summary, out, re.M), out


def test_live_startup_stall_runs_the_live_graph_with_an_observer_on_each_profile():
    out = run_tool("live_startup_stall.py", "--runs", "1", "--seconds", "2")
    for mode in ("default", "facecoach"):
        run = rf"^  run 1, observer on the {mode} profile: first feedback [\d.]+ s after the start; worst of \d+ frames"
        assert re.search(run, out, re.M), out
        assert re.search(rf"^observer on the {mode} profile: [01] of 1 runs had a frame >= 100 ms late", out, re.M), out
