"""Camera sources for the camera node: device index/path, video file, or GStreamer pipeline (no rclpy).

``FrameSource.read(now)`` never raises: a source that cannot be opened or disappears is retried every
``reconnect_s`` seconds, and what happens is reported through a ``log(level, message)`` callback. A video
file that stops before the frame count its container declares (truncated, corrupt) is an error, not an end.
The clock is the caller's (``now``), so the retry logic is testable without waiting.
"""

import os
from dataclasses import dataclass
from typing import Any, Callable, Optional, Tuple

import cv2
import numpy as np

from facecoach_common.settings import check_settings, group, setting

KINDS = ("device", "file", "gstreamer")
# A file that falls further behind its own timeline than this starts a new one instead of racing to catch up.
CATCH_UP_S = 1.0
LogFn = Callable[[str, str], None]  # (level: 'info' | 'warn' | 'error', message)
Opener = Callable[..., Any]  # cv2.VideoCapture's signature: (source, api_preference)


class CaptureError(ValueError):
    """A camera configuration that can never work (e.g. a GStreamer pipeline without GStreamer)."""


@dataclass(frozen=True)
class CaptureConfig:
    """What to open and how; the constructor validates (ValueError with the reason)."""

    source: str = setting(
        "0",
        "device index ('0'), device path ('/dev/video0'), video file, or GStreamer pipeline (contains '!')",
        dynamic_typing=True,  # `-p source:=0` arrives as an integer; it means device 0
    )
    loop: bool = setting(False, "video file: start again from the beginning at its end")
    width: int = setting(640, "requested capture width in pixels (0 = the device's default)", 0, 8192)
    height: int = setting(480, "requested capture height in pixels (0 = the device's default)", 0, 8192)
    fps: float = setting(30.0, "frames per second: files are paced to it, devices asked for it", 1.0, 120.0)
    reconnect_s: float = setting(2.0, "seconds between attempts to open a missing or lost source", 0.05, 600.0)

    def __post_init__(self) -> None:
        """Validate every field."""
        check_settings(self)
        if not self.source.strip():
            raise ValueError("source must not be empty (a device index such as '0', a file, or a pipeline)")

    @property
    def kind(self) -> str:
        """'gstreamer' (contains '!'), 'device' (an index or /dev/ path) or 'file'."""
        return source_kind(self.source)


def source_kind(source: str) -> str:
    """Classify a source string: 'gstreamer', 'device' or 'file'."""
    s = source.strip()
    if "!" in s:
        return "gstreamer"
    if s.isdigit() or s.startswith("/dev/"):
        return "device"
    return "file"


def gstreamer_available(build_info: Optional[str] = None) -> bool:
    """True when this OpenCV was built with GStreamer (from cv2.getBuildInformation())."""
    info = cv2.getBuildInformation() if build_info is None else build_info
    for line in info.splitlines():
        if line.strip().startswith("GStreamer:"):
            return line.split(":", 1)[1].strip().upper().startswith("YES")
    return False


def check_source(config: CaptureConfig, build_info: Optional[str] = None) -> None:
    """Raise CaptureError when the source can never be opened by this OpenCV."""
    if config.kind == "gstreamer" and not gstreamer_available(build_info):
        raise CaptureError(
            "the source is a GStreamer pipeline, but this OpenCV was built without GStreamer "
            "(pip's opencv-python has none). On the Jetson use the system OpenCV (JetPack's python3-opencv, "
            "e.g. a venv made with --system-site-packages and no pip opencv), or give a device index or file."
        )
    if config.kind == "file" and not os.path.isfile(config.source):
        # A device may be plugged in later (it is retried); a video file that is not there is a mistake.
        raise CaptureError(f"the video file {config.source!r} does not exist")


def _default_opener(source: Any, api: int) -> Any:
    return cv2.VideoCapture(source, api)


EARLY_END_SLACK = 2  # frames a container's declared count may be off by (some estimate it from the duration)


def _declared_frames(cap: Any) -> int:
    """The frame count a video file's container declares (0 when it declares none)."""
    try:
        count = float(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    except (AttributeError, TypeError, ValueError, cv2.error):
        return 0
    return int(count) if np.isfinite(count) and count > 0 else 0


class FrameSource:
    """Reads frames from one source, reopening it when it fails; never raises out of read()."""

    def __init__(
        self,
        config: CaptureConfig,
        log: Optional[LogFn] = None,
        opener: Optional[Opener] = None,
        log_every_s: float = 10.0,
    ) -> None:
        """Nothing is opened until the first read()."""
        self.config = config
        self._log = log or (lambda level, message: None)
        self._opener = opener or _default_opener
        self._log_every_s = log_every_s
        self._cap: Any = None
        self._next_try = float("-inf")
        self._failures = 0  # consecutive failed opens/reads since the last good frame
        self._last_warn = float("-inf")
        self.finished = False  # a non-looping file reached its end
        self.frames = 0  # frames read since the source was last opened
        self.declared_frames = 0  # the frame count a video file's container declares (0: unknown)
        self.ended_early = False  # a video file stopped before its declared frame count (said once)

    @property
    def is_open(self) -> bool:
        """True while a capture is open."""
        return self._cap is not None

    def close(self) -> None:
        """Release the capture (safe to call twice)."""
        cap, self._cap = self._cap, None
        if cap is not None:
            try:
                cap.release()
            except cv2.error:
                pass  # releasing a capture whose device vanished may fail; it is gone either way

    def read(self, now: float) -> Optional[np.ndarray]:
        """The next frame, or None (not open yet, waiting to retry, or finished)."""
        if self.finished:
            return None
        if self._cap is None:
            if now < self._next_try:
                return None
            self._open(now)
            if self._cap is None:
                return None
        frame = self._grab()
        if frame is not None:
            if self._failures:
                self._log("info", f"camera source {self.config.source!r} delivers frames again")
            self._failures = 0
            self.frames += 1
            return frame
        if self.config.kind == "file" and self.frames > 0:
            self._check_complete()
            if self.config.loop:
                # Reopening rewinds every container; CAP_PROP_POS_FRAMES seeking is unreliable on some.
                self.close()
                self._open(now)
                frame = self._grab() if self._cap is not None else None
                if frame is not None:
                    self.frames += 1
                return frame
            if not self.ended_early:
                self._log("info", f"video file {self.config.source!r} ended after {self.frames} frames")
            self.close()
            self.finished = True
            return None
        self.close()
        self._fail(now, f"camera source {self.config.source!r} stopped delivering frames")
        return None

    def _check_complete(self) -> None:
        """At a video file's end: say (once) when it ended before the frame count its container declares."""
        missing = self.declared_frames - self.frames
        if self.declared_frames <= 0 or missing <= max(EARLY_END_SLACK, 0.01 * self.declared_frames):
            return
        if not self.ended_early:
            then = "starting it again from the beginning" if self.config.loop else "no more frames from it"
            self._log(
                "error",
                f"the video file ended early at frame {self.frames}: {self.config.source!r} declares "
                f"{self.declared_frames} frames, so it is truncated or corrupt; {then}",
            )
        self.ended_early = True

    def _grab(self) -> Optional[np.ndarray]:
        try:
            ok, frame = self._cap.read()
        except cv2.error as exc:
            self._log("warn", f"reading {self.config.source!r} failed: {exc}")
            return None
        return frame if ok and frame is not None and frame.size else None

    def _fail(self, now: float, what: str) -> None:
        self._failures += 1
        self._next_try = now + self.config.reconnect_s
        # The first failure is reported at once, then one summary line per log_every_s, not one per retry.
        if self._failures == 1 or now - self._last_warn >= self._log_every_s:
            self._last_warn = now
            self._log("warn", f"{what}; retrying every {self.config.reconnect_s:g} s (attempt {self._failures})")

    def _open(self, now: float) -> None:
        c = self.config
        kind = c.kind
        if kind == "device":
            target: Any = int(c.source) if c.source.strip().isdigit() else c.source.strip()
            api = cv2.CAP_ANY
        elif kind == "gstreamer":
            target, api = c.source, cv2.CAP_GSTREAMER
        else:
            target, api = os.path.expanduser(c.source), cv2.CAP_ANY
        # OpenCV prints its own warning on every failed open; keep the first, silence the retries.
        cv_log = getattr(getattr(cv2, "utils", None), "logging", None) if self._failures else None
        level = cv_log.getLogLevel() if cv_log is not None else None
        if cv_log is not None:
            cv_log.setLogLevel(cv_log.LOG_LEVEL_ERROR)
        try:
            cap = self._opener(target, api)
            opened = cap is not None and cap.isOpened()
        except cv2.error as exc:
            cap, opened = None, False
            self._log("warn", f"opening {c.source!r} raised: {exc}")
        finally:
            if cv_log is not None:
                cv_log.setLogLevel(level)
        if not opened:
            hint = " (no such file)" if kind == "file" and not os.path.exists(target) else ""
            self._fail(now, f"cannot open {kind} source {c.source!r}{hint}")
            return
        if kind == "device":
            # Requests only: the driver picks the nearest mode it supports.
            if c.width and c.height:
                cap.set(cv2.CAP_PROP_FRAME_WIDTH, c.width)
                cap.set(cv2.CAP_PROP_FRAME_HEIGHT, c.height)
            cap.set(cv2.CAP_PROP_FPS, c.fps)
        self._cap = cap
        self.frames = 0
        if kind == "file":
            self.declared_frames = _declared_frames(cap)
        if self._failures == 0:
            self._log("info", f"opened {kind} source {c.source!r}")


@dataclass(frozen=True)
class CameraConfig:
    """The camera node's settings: what to capture and how to publish it."""

    capture: CaptureConfig = group(CaptureConfig)
    frame_id: str = setting("camera", "header.frame_id of the published images")
    publish_compressed: bool = setting(False, "also publish image_raw/compressed (JPEG)")
    jpeg_quality: int = setting(90, "JPEG quality of image_raw/compressed", 1, 100)

    def __post_init__(self) -> None:
        """Validate the publishing fields (the capture fields validated themselves) and the source."""
        check_settings(self)
        if not self.frame_id:
            raise ValueError("frame_id must not be empty")
        check_source(self.capture)


class FileTimeline:
    """A video file played like a sensor: frame i is due, and stamped, at start + i / fps.

    A frame that took long (the face detector runs in the camera's thread) is caught up by the next ones, as a
    camera's queued frames would be, so a moment's lag never becomes the latency of the rest of the session.
    Only a lag over ``catch_up_s`` starts a new timeline (the stamps then jump: frames the file never showed
    in time). Times are the caller's: ``now`` in seconds (monotonic), ``now_ns`` the clock that stamps.
    """

    def __init__(self, fps: float, catch_up_s: float = CATCH_UP_S) -> None:
        """A timeline that starts with the first frame read."""
        self.period = 1.0 / fps
        self.catch_up_s = catch_up_s
        self._first_ns: Optional[int] = None
        self._start = 0.0
        self._index = 0

    def stamp(self, now: float, now_ns: int) -> Tuple[int, float]:
        """The stamp of the frame just read, and the lag (s) behind the timeline that it had to restart (0: none)."""
        lag = now - self.due() if self._first_ns is not None else 0.0
        restart = self._first_ns is None or lag > self.catch_up_s
        if restart:
            self._first_ns, self._start, self._index = now_ns, now, 0
        stamp_ns = self._first_ns + int(round(self._index * self.period * 1e9))
        self._index += 1
        return stamp_ns, (lag if restart else 0.0)

    def due(self) -> float:
        """When the next frame is due (the caller waits until then)."""
        return self._start + self._index * self.period
