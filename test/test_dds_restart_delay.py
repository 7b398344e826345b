"""tools/dds_restart_delay.py, the measurement behind test_supervisor's DDS_REJOIN_S: it runs and reports both modes."""

import re
import subprocess
import sys
from pathlib import Path

TOOL = Path(__file__).resolve().parents[1] / "tools" / "dds_restart_delay.py"


def test_the_tool_measures_a_restart_after_a_clean_exit_and_after_kill_9():
    out = subprocess.run([sys.executable, str(TOOL), "--runs", "2"], capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr[-2000:]
    runs = re.findall(r"^  (clean exit|kill -9) run \d: seen [\d.]+ first ([\d.]+)$", out.stdout, re.M)
    assert [mode for mode, _ in runs] == ["clean exit"] * 2 + ["kill -9"] * 2, out.stdout
    for mode in ("clean exit", "kill -9"):
        summary = rf"^  after a {mode}: median [\d.]+ s, min [\d.]+ s, max [\d.]+ s \(1 runs\)$"
        assert re.search(summary, out.stdout, re.M), out.stdout
