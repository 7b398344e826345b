"""`facecoach run --bag B --show` end to end: the graph's debug pictures reach the run's window over DDS; q stops.

The window is a fake (this machine has no display, no Xvfb and a headless OpenCV): everything else is real,
the command in this process, the nodes as processes, the pictures decoded from the detector's JPEGs.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from facecoach_cli import viewer
from facecoach_cli.cli import main

SAMPLE_BAG = Path(__file__).resolve().parents[1] / "sample" / "interview"

PICTURES = 3  # shown before the fake user presses q


class QuitAfter:
    """cv2's HighGUI calls: records the pictures; the key q once PICTURES were shown."""

    WND_PROP_VISIBLE = 4

    def __init__(self) -> None:
        self.pictures: list = []
        self.destroyed = 0

    def imshow(self, window, picture) -> None:
        self.pictures.append(picture)

    def waitKey(self, delay) -> int:  # noqa: N802 - cv2's name
        return ord("q") if len(self.pictures) >= PICTURES else -1

    def getWindowProperty(self, window, prop) -> float:  # noqa: N802 - cv2's name
        return 1.0

    def destroyWindow(self, window) -> None:  # noqa: N802 - cv2's name
        self.destroyed += 1


@pytest.mark.parametrize("single", [False, True], ids=["separate processes", "single process"])
def test_run_show_shows_the_detectors_pictures_and_q_stops_cleanly(monkeypatch, capsys, tmp_path, single):
    gui = QuitAfter()
    monkeypatch.setattr(viewer, "display_problem", lambda: None)
    real = viewer.Viewer
    monkeypatch.setattr(viewer, "Viewer", lambda: real(gui))
    argv = ["run", "--bag", str(SAMPLE_BAG), "--show", "--alsa-device", "null", "--log-dir", str(tmp_path)]
    assert main(argv + (["--single-process"] if single else [])) == 0
    out = capsys.readouterr().out
    assert "showing /facecoach/debug_image/compressed in a window" in out, out
    assert "q pressed in the window: stopped; every node stopped" in out, out
    assert len(gui.pictures) >= PICTURES and gui.destroyed == 1
    assert all(p.ndim == 3 and p.shape[2] == 3 and p.shape[1] >= 320 for p in gui.pictures)
    for log in tmp_path.glob("*.log"):
        text = log.read_text(errors="replace")
        assert "Traceback" not in text and "[ERROR]" not in text, f"{log.name}:\n{text}"
