"""capture: source parsing, GStreamer check, and FrameSource's retry logic (fake clock, fake capture)."""

import cv2
import numpy as np
import pytest

from face_detector.capture import (
    CameraConfig,
    CaptureConfig,
    CaptureError,
    FileTimeline,
    FrameSource,
    check_source,
    gstreamer_available,
    source_kind,
)
from facecoach_common.settings import from_values

FRAME = np.zeros((4, 6, 3), np.uint8)


class FakeCap:
    """A capture that delivers ``frames`` frames and then fails (a device unplugged)."""

    def __init__(self, frames, opened=True):
        self.frames, self.opened, self.released, self.props = frames, opened, False, {}

    def isOpened(self):  # noqa: N802 - OpenCV's name
        return self.opened

    def read(self):
        if self.frames > 0:
            self.frames -= 1
            return True, FRAME
        return False, None

    def set(self, prop, value):
        self.props[prop] = value
        return True

    def release(self):
        self.released = True


class Opener:
    """Hands out scripted captures and records when it was asked."""

    def __init__(self, *caps):
        self.caps, self.calls = list(caps), []

    def __call__(self, target, api):
        self.calls.append((target, api))
        if not self.caps:
            return FakeCap(0, opened=False)
        cap = self.caps.pop(0)
        if isinstance(cap, Exception):
            raise cap
        return cap


def test_source_kinds():
    assert source_kind("0") == "device"
    assert source_kind("/dev/video2") == "device"
    assert source_kind("interview.mp4") == "file"
    assert source_kind("nvarguscamerasrc ! video/x-raw(memory:NVMM) ! nvvidconv ! appsink") == "gstreamer"


def test_gstreamer_check_is_explicit():
    assert gstreamer_available("  Video I/O:\n    GStreamer:                   YES (1.20.3)\n")
    assert not gstreamer_available("    GStreamer:                   NO\n")
    pipeline = CaptureConfig(source="v4l2src ! appsink")
    with pytest.raises(CaptureError, match="GStreamer"):
        check_source(pipeline, "GStreamer: NO")
    check_source(pipeline, "GStreamer: YES")
    check_source(CaptureConfig(source="0"), "GStreamer: NO")
    with pytest.raises(CaptureError, match="the video file '/nowhere/clip.mp4' does not exist"):
        check_source(CaptureConfig(source="/nowhere/clip.mp4"))  # a device is retried, a missing file is a mistake


@pytest.mark.parametrize("kwargs", [{"source": " "}, {"fps": 0.5}, {"fps": 121.0}, {"width": -1}, {"reconnect_s": 0.0}])
def test_capture_config_rejects(kwargs):
    with pytest.raises(ValueError):
        CaptureConfig(**kwargs)


def test_camera_config_from_values():
    values = dict(source="0", loop=False, width=320, height=240, fps=15.0, reconnect_s=1.0)
    values.update(frame_id="cam", publish_compressed=True, jpeg_quality=80)
    c = from_values(CameraConfig, values)
    assert c.capture.width == 320 and c.jpeg_quality == 80
    with pytest.raises(ValueError):
        from_values(CameraConfig, dict(values, jpeg_quality=0))
    with pytest.raises(ValueError):
        from_values(CameraConfig, dict(values, frame_id=""))


def test_device_requests_size_and_fps():
    cap = FakeCap(1)
    src = FrameSource(CaptureConfig(source="1", width=320, height=240, fps=15.0), opener=Opener(cap))
    assert src.read(0.0) is FRAME
    assert cap.props == {cv2.CAP_PROP_FRAME_WIDTH: 320, cv2.CAP_PROP_FRAME_HEIGHT: 240, cv2.CAP_PROP_FPS: 15.0}


def test_missing_device_is_retried_every_reconnect_s_and_logged_sparingly():
    logs = []
    opener = Opener()  # never opens
    src = FrameSource(CaptureConfig(source="3", reconnect_s=2.0), lambda lv, m: logs.append((lv, m)), opener, 10.0)
    for t in np.arange(0.0, 21.0, 0.5):
        assert src.read(float(t)) is None
    assert [c[0] for c in opener.calls] == [3] * 11  # t = 0, 2, 4, ..., 20
    warns = [m for lv, m in logs if lv == "warn"]
    assert len(warns) == 3 and "attempt 1" in warns[0] and "retrying every 2 s" in warns[0]


def test_device_that_disappears_is_reopened():
    logs = []
    first, second = FakeCap(2), FakeCap(5)
    opener = Opener(first, FakeCap(0, opened=False), second)
    src = FrameSource(CaptureConfig(source="0", reconnect_s=1.0), lambda lv, m: logs.append((lv, m)), opener)
    assert src.read(0.0) is FRAME and src.read(0.1) is FRAME
    assert src.read(0.2) is None and first.released  # unplugged
    assert src.read(0.5) is None and len(opener.calls) == 1  # waits reconnect_s
    assert src.read(1.2) is None and len(opener.calls) == 2  # still gone
    assert src.read(2.3) is FRAME and len(opener.calls) == 3  # back
    assert any("stopped delivering" in m for _, m in logs)
    assert any("again" in m for lv, m in logs if lv == "info")


def test_opencv_exceptions_never_escape():
    src = FrameSource(CaptureConfig(source="0"), opener=Opener(cv2.error("boom")))
    assert src.read(0.0) is None


@pytest.fixture
def video(tmp_path):
    path = str(tmp_path / "clip.avi")
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (64, 48))
    assert writer.isOpened()
    for i in range(5):
        writer.write(np.full((48, 64, 3), i * 40, np.uint8))
    writer.release()
    return path


def test_video_file_ends_or_loops(video):
    once = FrameSource(CaptureConfig(source=video))
    frames = [once.read(0.0) for _ in range(7)]
    assert all(f is not None and f.shape == (48, 64, 3) for f in frames[:5])
    assert frames[5] is None and once.finished
    looped = FrameSource(CaptureConfig(source=video, loop=True))
    assert all(looped.read(0.0) is not None for _ in range(12))


def test_missing_file_says_so(tmp_path):
    logs = []
    src = FrameSource(CaptureConfig(source=str(tmp_path / "nope.mp4")), lambda lv, m: logs.append(m))
    assert src.read(0.0) is None and not src.finished
    assert "no such file" in logs[0]


def test_a_file_timeline_catches_up_a_slow_frame_and_restarts_after_a_long_stall():
    fps, ns = 10.0, 10**9
    t = FileTimeline(fps, catch_up_s=1.0)
    assert t.stamp(100.0, 5 * ns) == (5 * ns, 0.0)  # the first frame starts the timeline
    assert t.due() == pytest.approx(100.1)
    # Frame 1 was read 0.35 s late (a slow detection): stamped where it was due, and the next ones are due at
    # once until the schedule is caught up: the lag does not stay.
    assert t.stamp(100.45, 0) == (5 * ns + ns // 10, 0.0)
    assert t.due() == pytest.approx(100.2) and t.due() < 100.45
    for i in range(2, 6):
        assert t.stamp(max(t.due(), 100.45 + 0.01 * i), 0)[0] == 5 * ns + i * ns // 10
    assert t.due() == pytest.approx(100.6)
    # A stall over catch_up_s: a new timeline from this frame, and the lag is told.
    stamp, lag = t.stamp(102.0, 9 * ns)
    assert (stamp, round(lag, 2)) == (9 * ns, 1.4)
    assert t.due() == pytest.approx(102.1)
