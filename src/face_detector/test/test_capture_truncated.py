"""A truncated or corrupt video file is an error ("ended early at frame N"), not a normal end."""

import re

import cv2
import numpy as np
import pytest

from face_detector.capture import CaptureConfig, FrameSource

FRAMES = 60


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    """A complete MJPG clip of FRAMES frames and a copy cut in half (as a copy interrupted half-way leaves it)."""
    folder = tmp_path_factory.mktemp("clips")
    whole, cut = folder / "whole.avi", folder / "cut.avi"
    writer = cv2.VideoWriter(str(whole), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (64, 48))
    assert writer.isOpened()
    rng = np.random.default_rng(0)
    for _ in range(FRAMES):
        writer.write(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8))
    writer.release()
    data = whole.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    return whole, cut


def _read_all(source: FrameSource, limit: int = 10 * FRAMES) -> int:
    n = 0
    while n < limit and source.read(0.0) is not None:
        n += 1
    return n


def test_a_truncated_file_is_logged_as_an_error_with_the_frame_it_ended_at(clips):
    logs = []
    source = FrameSource(CaptureConfig(source=str(clips[1])), lambda level, m: logs.append((level, m)))
    n = _read_all(source)
    assert 0 < n < FRAMES and source.finished and source.ended_early
    errors = [m for level, m in logs if level == "error"]
    assert len(errors) == 1, logs
    assert re.match(rf"the video file ended early at frame {n}: .*cut\.avi' declares {FRAMES} frames", errors[0])
    assert not any("ended after" in m for _, m in logs), "not reported as a normal end"


def test_a_complete_file_ends_normally(clips):
    logs = []
    source = FrameSource(CaptureConfig(source=str(clips[0])), lambda level, m: logs.append((level, m)))
    assert _read_all(source) == FRAMES and source.finished and not source.ended_early
    assert [level for level, _ in logs] == ["info", "info"] and f"ended after {FRAMES} frames" in logs[-1][1]


def test_a_truncated_file_in_a_loop_is_said_once_and_keeps_playing(clips):
    logs = []
    source = FrameSource(CaptureConfig(source=str(clips[1]), loop=True), lambda level, m: logs.append((level, m)))
    assert _read_all(source, limit=3 * FRAMES) == 3 * FRAMES, "the loop keeps delivering"
    errors = [m for level, m in logs if level == "error"]
    assert len(errors) == 1 and "starting it again from the beginning" in errors[0]
