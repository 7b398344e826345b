"""`make setup` writes a short video of the sample interview for `--camera-source` (issue 23)."""

import subprocess
import sys
from pathlib import Path

import cv2

REPO = Path(__file__).resolve().parents[1]


def test_the_sample_video_is_written_from_the_sample_bag_and_plays(tmp_path):
    got = subprocess.run(
        [sys.executable, str(REPO / "tools" / "sample_video.py"), "--out", str(tmp_path / "v.mp4"), "--seconds", "2"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert got.returncode == 0, got.stderr
    path = Path(got.stdout.split()[0])
    cap = cv2.VideoCapture(str(path))
    frames = 0
    while cap.read()[0]:
        frames += 1
    assert 2 * 30 - 5 <= frames <= 2 * 30 + 5 and path.stat().st_size < 1_000_000
    assert "sample_video.py" in (REPO / "tools" / "setup.sh").read_text()
