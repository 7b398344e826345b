"""`facecoach run --show`: the face detector's debug picture in an OpenCV window (no rclpy here).

Every HighGUI call (imshow, waitKey, getWindowProperty, destroyWindow) happens on one thread: the command's
main thread, which spins its rclpy node and so runs the subscription and the timer that call ``show`` and
``poll``. Closing the window or pressing q or Esc raises ``WindowClosed`` out of that spin, and the command
stops the graph as on Ctrl-C. The GUI is a parameter (``cv2`` by default), so all but the window itself runs
in tests without a display.
"""

from __future__ import annotations

import os
from importlib import metadata
from typing import TYPE_CHECKING, Any, Mapping, Optional

if TYPE_CHECKING:
    import numpy as np

WINDOW = "FaceCoach"
QUIT_KEYS = (ord("q"), ord("Q"), 27)  # 27: Esc
# The pip builds of OpenCV: the headless ones have no HighGUI backend (GUI: NONE in their build information).
OPENCV_DISTRIBUTIONS = (
    "opencv-python",
    "opencv-contrib-python",
    "opencv-python-headless",
    "opencv-contrib-python-headless",
)


class WindowClosed(Exception):
    """The user closed the window or pressed q / Esc: stop the run."""


def gui_backend(build_information: str) -> Optional[str]:
    """The HighGUI backend named in ``cv2.getBuildInformation()`` ('GTK3', 'QT5' ...), or None when it has none."""
    for line in build_information.splitlines():
        name, sep, value = line.strip().partition(":")
        if sep and name.strip() == "GUI":
            value = value.strip()
            return None if value.upper() in ("", "NONE", "NO") else value
    return None


def opencv_distribution() -> str:
    """Which pip package provides cv2, with its version ('opencv-python-headless 4.14.0.94'), or ''."""
    for name in OPENCV_DISTRIBUTIONS:
        try:
            return f"{name} {metadata.version(name)}"
        except metadata.PackageNotFoundError:
            continue
    return ""


def display_problem(environ: Mapping[str, str] = os.environ, build_information: Optional[str] = None) -> Optional[str]:
    """Why no window can be opened here, in words (None: one can): no graphical session, or OpenCV without a GUI."""
    if build_information is None:
        import cv2

        build_information = cv2.getBuildInformation()
    if gui_backend(build_information) is None:
        dist = opencv_distribution()
        what = f"this OpenCV ({dist})" if dist else "this OpenCV"
        hint = "; replace it with opencv-python of the same version for --show" if "headless" in dist else ""
        return f"{what} is built without a GUI backend (HighGUI: NONE){hint}"
    if not (environ.get("DISPLAY") or environ.get("WAYLAND_DISPLAY")):
        return "neither DISPLAY nor WAYLAND_DISPLAY is set (no graphical session: ssh -X, or run it on the desktop)"
    return None


def decode(data: bytes) -> np.ndarray:
    """The BGR picture of a debug image's JPEG bytes (its size checked from the header before decoding)."""
    from sensor_msgs.msg import CompressedImage

    from facecoach_common.image_conversions import compressed_to_numpy

    return compressed_to_numpy(CompressedImage(format="jpeg", data=bytes(data)))


class Viewer:
    """One window showing the latest debug picture; ``WindowClosed`` when the user closes it or presses q / Esc."""

    def __init__(self, gui: Any = None, window: str = WINDOW) -> None:
        if gui is None:
            import cv2 as gui
        self._gui = gui
        self.window = window
        self.shown = 0  # pictures shown
        self.bad = 0  # pictures that could not be decoded (each is skipped)
        self._opened = False

    def show(self, data: bytes) -> None:
        """Show one picture (JPEG bytes); a picture that cannot be decoded is counted and skipped."""
        from facecoach_common.image_conversions import ImageConversionError

        try:
            picture = decode(data)
        except ImageConversionError:
            self.bad += 1
            return
        self._gui.imshow(self.window, picture)
        self._opened = True
        self.shown += 1
        self.poll()

    def poll(self) -> None:
        """Let the window draw and take its events; raise WindowClosed on q / Esc or once the window is gone."""
        if not self._opened:
            return
        key = self._gui.waitKey(1)
        if key != -1 and key & 0xFF in QUIT_KEYS:
            self.close()  # at once: stopping the graph takes a moment
            raise WindowClosed(f"{chr(key & 0xFF) if key & 0xFF != 27 else 'Esc'} pressed in the window")
        if self._gui.getWindowProperty(self.window, self._gui.WND_PROP_VISIBLE) < 1:
            self._opened = False  # gone already: nothing to destroy
            raise WindowClosed("the window was closed")

    def close(self) -> None:
        """Close the window (when one was opened)."""
        if self._opened:
            self._opened = False
            self._gui.destroyWindow(self.window)
            self._gui.waitKey(1)  # HighGUI closes a window only while it handles events
