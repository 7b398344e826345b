"""`facecoach run --show`: refused where no window can open; the detector's debug_image on; the window's logic.

The window itself needs a display and an OpenCV with a GUI (this machine has neither: opencv-python-headless,
no Xvfb), so the GUI is a fake here; decoding and the detector's annotated pictures are real.
"""

import argparse

import numpy as np
import pytest

from facecoach.graph import load_graph
from facecoach_cli import launcher, viewer
from facecoach_cli.cli import main
from facecoach_cli.commands.supervised import checked_nodes
from facecoach_cli.viewer import WINDOW, Viewer, WindowClosed, display_problem, gui_backend

HEADLESS = "General configuration for OpenCV 4.14.0\n  GUI:                           NONE\n  Media I/O:\n"
GTK = "General configuration for OpenCV 4.5.4\n  GUI:                           GTK3\n    GTK+:   YES (ver 3.24)\n"


@pytest.fixture
def nothing_starts(monkeypatch):
    def started(self):
        raise AssertionError("the graph was started")

    monkeypatch.setattr(launcher.GraphProcesses, "start", started)


def test_the_gui_backend_is_read_from_the_build_information():
    import cv2

    assert gui_backend(HEADLESS) is None and gui_backend(GTK) == "GTK3" and gui_backend("") is None
    assert (gui_backend(cv2.getBuildInformation()) is None) == (
        "NONE" in cv2.getBuildInformation().split("GUI:")[1].splitlines()[0]
    )


def test_a_display_needs_a_session_and_a_gui_build():
    assert display_problem({"DISPLAY": ":0"}, GTK) is None
    assert display_problem({"WAYLAND_DISPLAY": "wayland-0"}, GTK) is None
    assert "neither DISPLAY nor WAYLAND_DISPLAY is set" in display_problem({}, GTK)
    assert "built without a GUI backend (HighGUI: NONE)" in display_problem({"DISPLAY": ":0"}, HEADLESS)


def test_the_headless_opencv_is_named_in_the_reason(monkeypatch):
    monkeypatch.setattr(viewer, "opencv_distribution", lambda: "opencv-python-headless 4.14.0.94")
    why = display_problem({"DISPLAY": ":0"}, HEADLESS)
    assert why.startswith("this OpenCV (opencv-python-headless 4.14.0.94) is built without a GUI"), why
    assert "replace it with opencv-python" in why


@pytest.mark.parametrize("command", ["run", "demo"])
def test_show_without_a_display_is_refused_in_one_line_before_anything_starts(
    capsys, monkeypatch, nothing_starts, command
):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert main([command, "--show"]) == 2
    out, err = capsys.readouterr()
    assert err.count("\n") == 1 and err.startswith(f"facecoach {command}: --show needs a display: "), err
    assert out == ""


def _args(**kw) -> argparse.Namespace:
    values = dict(rate=1.0, timeout=None, bag=None, single_process=False, show=False)
    values.update(kw)
    return argparse.Namespace(**values)


@pytest.mark.parametrize("mode", ["live", "replay"])
def test_show_turns_the_detectors_debug_image_on_and_nothing_else(monkeypatch, mode):
    monkeypatch.setattr(viewer, "display_problem", lambda: None)
    graph = load_graph()
    plain = {n.name: n for n in checked_nodes(_args(), graph, mode)}
    shown = {n.name: n for n in checked_nodes(_args(show=True), graph, mode)}
    assert "debug_image" not in plain["face_detector"].parameters
    assert shown["face_detector"].parameters == {**plain["face_detector"].parameters, "debug_image": True}
    assert {k: v for k, v in shown.items() if k != "face_detector"} == {
        k: v for k, v in plain.items() if k != "face_detector"
    }
    # What the launcher writes for the node processes (and the single process reads from its spec).
    params = graph.params_file_content(list(shown.values()))
    assert params["face_detector"]["ros__parameters"]["debug_image"] is True


class FakeGui:
    """cv2's HighGUI calls, recorded; keys to hand out and whether the window is still there."""

    WND_PROP_VISIBLE = 4

    def __init__(self, keys=(), visible=1.0):
        self.keys, self.visible, self.calls, self.pictures = list(keys), visible, [], []

    def imshow(self, window, picture):
        self.calls.append(("imshow", window))
        self.pictures.append(picture)

    def waitKey(self, delay):  # noqa: N802 - cv2's name
        self.calls.append(("waitKey", delay))
        return self.keys.pop(0) if self.keys else -1

    def getWindowProperty(self, window, prop):  # noqa: N802 - cv2's name
        return self.visible

    def destroyWindow(self, window):  # noqa: N802 - cv2's name
        self.calls.append(("destroyWindow", window))


def _debug_picture(category="bad"):
    """A debug picture as the face detector publishes it: annotate, then JPEG at quality 80."""
    from face_detector.annotate import COLOURS, annotate
    from face_detector.geometry import FaceBox
    from facecoach_common.image_conversions import numpy_to_compressed

    frame = np.full((240, 320, 3), 60, np.uint8)
    picture = annotate(frame, FaceBox(100, 60, 80, 80), "sad", category, 0.8)
    return bytes(numpy_to_compressed(picture, "jpeg", 80).data), COLOURS[category]


def test_a_debug_picture_is_decoded_and_shown_with_its_box():
    data, colour = _debug_picture()
    gui = FakeGui()
    v = Viewer(gui)
    v.show(data)
    assert v.shown == 1 and gui.calls[:2] == [("imshow", WINDOW), ("waitKey", 1)]
    shown = gui.pictures[0]
    assert shown.shape == (240, 320, 3) and shown.dtype == np.uint8
    assert np.abs(shown[100, 100].astype(int) - colour).max() < 40, "the box's left edge, in the category's colour"
    assert np.abs(shown[100, 140].astype(int) - 60).max() < 20, "inside the box: the frame"


def test_a_picture_that_cannot_be_decoded_is_skipped():
    gui = FakeGui()
    v = Viewer(gui)
    v.show(b"\xff\xd8 not a jpeg")
    v.show(b"")
    assert (v.shown, v.bad, gui.calls) == (0, 2, [])


def test_no_gui_call_before_the_first_picture():
    gui = FakeGui(visible=0)
    Viewer(gui).poll()
    assert gui.calls == []


@pytest.mark.parametrize("key, says", [(ord("q"), "q pressed"), (27, "Esc pressed"), (0x100000 | ord("q"), "q")])
def test_q_or_esc_closes_the_window_and_stops(key, says):
    data, _ = _debug_picture("good")
    gui = FakeGui(keys=[-1, key])
    v = Viewer(gui)
    v.show(data)
    with pytest.raises(WindowClosed, match=says):
        v.poll()
    assert ("destroyWindow", WINDOW) in gui.calls
    v.close()  # the command's clean-up: nothing more to destroy
    assert gui.calls.count(("destroyWindow", WINDOW)) == 1


def test_closing_the_window_stops():
    data, _ = _debug_picture("acceptable")
    gui = FakeGui()
    v = Viewer(gui)
    v.show(data)
    gui.visible = 0.0  # the user clicked the window's close button
    with pytest.raises(WindowClosed, match="the window was closed"):
        v.poll()
    v.close()
    assert ("destroyWindow", WINDOW) not in gui.calls, "a window that is gone is not destroyed again"
