"""`facecoach run --bag` prints the demo's table and summary, not the nodes' raw logs (issue 23)."""

import re
import subprocess
from pathlib import Path

from facecoach_cli.coaching import TABLE_HEADER

REPO = Path(__file__).resolve().parents[1]


def test_run_on_a_bag_prints_the_coaching_table_and_summary(tmp_path):
    got = subprocess.run(
        [
            str(REPO / "bin" / "facecoach"),
            "run",
            "--bag",
            str(REPO / "sample" / "interview"),
            "--rate",
            "4",
            "--alsa-device",
            "null",
            "--log-dir",
            str(tmp_path / "logs"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert got.returncode == 0, got.stdout + got.stderr
    out = got.stdout
    assert TABLE_HEADER in out.splitlines(), out
    rows = [line for line in out.splitlines() if re.match(r"^ +\d+ s  \S", line)]
    assert rows and rows[0].startswith(f"  {0:6d} s  "), out  # times since the first frame
    assert "[facecoach] summary:" in out and "frames coached of" in out, out
    assert "[INFO]" not in out + got.stderr and not re.search(r"t=1\d{9}", out), "raw node logs on the terminal"
    log = (tmp_path / "logs" / "alert_player.log").read_text()
    assert "policy: window_s=" in log and "PolicyConfig(" not in log, log
    assert not re.search(r"t=1\d{9}", log) and not re.search(r"at 1\d{9}", log), "epoch stamps in the node's log"


def test_the_alert_node_logs_its_policy_as_name_value_pairs():
    from alert_player.policy import PolicyConfig
    from facecoach_common.settings import readable

    line = readable(PolicyConfig())
    assert line.startswith("window_s=2.0 bad_threshold=") and "PolicyConfig(" not in line
    assert "bad_rule='" in line
