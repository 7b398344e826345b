"""Cue playback through aplay on ALSA's null device: real files, tone fallback, busy, failures."""

import os
import stat
import time

import numpy as np
import pytest

from alert_player.audio import (
    MAX_CUE_BYTES,
    AudioError,
    AudioPlayer,
    Sound,
    check_alsa_device,
    read_wav,
    scale,
    tone,
    write_wav,
)


def wait_result(player, timeout=10.0):
    """Wait for aplay to finish (the event), up to a timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = player.poll()
        if result is not None:
            return result
        time.sleep(0.01)
    raise AssertionError("aplay did not finish")


@pytest.fixture
def player():
    p = AudioPlayer(device="null")
    yield p
    p.close()


@pytest.mark.parametrize("rate, channels, width", [(8000, 1, 1), (22050, 2, 1), (44100, 1, 2), (48000, 2, 2)])
def test_wav_round_trip_and_volume(tmp_path, rate, channels, width):
    t = np.arange(rate // 10) / rate
    x = np.sin(2 * np.pi * 440 * t)[:, None].repeat(channels, axis=1)
    samples = (x * 100 + 128).astype(np.uint8) if width == 1 else (x * 10000).astype("<i2")
    path = str(tmp_path / "in.wav")
    write_wav(path, Sound(samples, rate, width))
    sound = read_wav(path)
    assert sound.rate == rate and sound.samples.shape == (rate // 10, channels)
    half = scale(sound, 0.5).samples.astype(float)
    centre = 128 if width == 1 else 0
    assert np.max(np.abs(half - centre)) == pytest.approx(np.max(np.abs(samples.astype(float) - centre)) / 2, abs=1)
    assert scale(sound, 2.0).samples.dtype == samples.dtype  # clipped, not wrapped around


def test_plays_a_real_wav_on_the_null_device(tmp_path, player):
    path = str(tmp_path / "cue.wav")
    write_wav(path, tone(440, 0.2, 16000))
    assert player.play(path) is None
    result = wait_result(player)
    assert result.ok and result.path == path and not player.busy


def test_volume_plays_a_scaled_copy(tmp_path, player):
    path = str(tmp_path / "cue.wav")
    write_wav(path, tone(440, 0.2, 16000))
    player.volume = 0.5
    scaled, error = player.prepare(path)
    assert error is None and scaled != path
    assert np.max(np.abs(read_wav(scaled).samples)) == pytest.approx(np.max(np.abs(read_wav(path).samples)) / 2, abs=1)
    assert player.prepare(path)[0] == scaled  # cached until the file changes


@pytest.mark.parametrize("content", [None, b"not a wav file at all", b""])
def test_missing_or_broken_file_falls_back_to_the_tone(tmp_path, player, content):
    path = tmp_path / "voice.wav"
    if content is not None:
        path.write_bytes(content)
    error = player.play(str(path))
    assert "voice.wav" in error and "880 Hz tone instead" in error
    result = wait_result(player)
    assert result.ok and read_wav(result.path).samples.shape == (int(0.3 * 22050), 1)


def test_never_two_at_once(tmp_path):
    slow = tmp_path / "slow_aplay"
    slow.write_text("#!/bin/sh\nexec sleep 30\n")  # stands in for a long cue on a real card
    slow.chmod(slow.stat().st_mode | stat.S_IXUSR)
    p = AudioPlayer(device="null", aplay=str(slow))
    try:
        p.play("")
        assert p.busy
        with pytest.raises(AudioError, match="already playing"):
            p.play("")
        p.stop()
        assert not p.busy and p.poll().returncode != 0
        assert p.play("") is None and p.busy  # free again after stop
    finally:
        p.close()
    assert not p.busy and not os.path.exists(p._tmp)


def test_aplay_failures_are_reported(tmp_path):
    p = AudioPlayer(device="hw:CARD=nosuchdevice")
    try:
        p.play("")
        result = wait_result(p)
        assert not result.ok and "nosuchdevice" in result.stderr
    finally:
        p.close()
    p = AudioPlayer(device="null", aplay=str(tmp_path / "no_aplay_here"))
    try:
        assert not p.aplay_found()
        with pytest.raises(AudioError, match="install alsa-utils"):
            p.play("")
    finally:
        p.close()


def test_only_regular_files_under_the_size_cap_are_read(tmp_path):
    fifo = tmp_path / "cue.fifo"
    os.mkfifo(fifo)
    with pytest.raises(AudioError, match="not a regular file"):
        read_wav(str(fifo))  # returns at once: opening a FIFO would block until a writer came
    big = tmp_path / "big.wav"
    with open(big, "wb") as f:
        f.truncate(MAX_CUE_BYTES + 1)
    with pytest.raises(AudioError, match="a cue must be under 16 MiB"):
        read_wav(str(big))


def test_a_header_that_claims_more_frames_than_the_file_holds_reads_only_the_file(tmp_path):
    import struct
    import tracemalloc

    fmt = struct.pack("<4sIHHIIHH", b"fmt ", 16, 1, 1, 16000, 32000, 2, 16)
    claimed = 2**31 - 64
    path = tmp_path / "liar.wav"
    header = b"RIFF" + struct.pack("<I", 36 + claimed) + b"WAVE" + fmt + b"data" + struct.pack("<I", claimed)
    path.write_bytes(header + struct.pack("<500h", *range(500)))
    tracemalloc.start()
    sound = read_wav(str(path))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert sound.samples.shape == (500, 1) and sound.samples[499, 0] == 499
    assert peak < 10 * 2**20, f"reading a 1 kB file allocated {peak / 2**20:.0f} MiB"


@pytest.mark.parametrize(
    "name", ["default", "null", "hw", "plughw:1,0", "hw:0", "hw:CARD=tegrahda,DEV=3", "sysdefault:CARD=PCH", "dmix:1"]
)
def test_plain_alsa_device_names_are_allowed(name):
    assert check_alsa_device(name) == name


@pytest.mark.parametrize(
    "name",
    [
        "file:'|touch${IFS}/tmp/x',raw",  # ALSA's file plugin runs '|cmd' through a shell
        "file:/tmp/out.raw",
        "pipe",
        "plug:'file:|id'",
        "{type file slave.pcm null file '|id'}",
        "hw:CARD=x;id",
        "plughw:1,0 ",
        "",
        "default\n",
    ],
)
def test_alsa_device_definitions_and_plugins_are_refused(tmp_path, name):
    with pytest.raises(ValueError, match="not a plain ALSA device name"):
        check_alsa_device(name)
    player = AudioPlayer(device=name)  # the player refuses too, whoever set the attribute
    try:
        assert "not a plain ALSA device name" in player.check_output()
        with pytest.raises(AudioError, match="not a plain ALSA device name"):
            player.play("")
    finally:
        player.close()


def test_a_killed_players_folder_is_removed_by_the_next_player(tmp_path, monkeypatch):
    """kill -9 leaves the WAV folder behind (no close()): the next player removes it, and only it."""
    import subprocess
    import sys
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    left = tmp_path / f"alert_player_pid{gone.pid}_abc123"
    alive = tmp_path / f"alert_player_pid{os.getpid()}_def456"
    other = tmp_path / "alert_player_mine"
    for folder in (left, alive, other):
        folder.mkdir()
    player = AudioPlayer(device="null")
    try:
        assert not left.exists() and alive.is_dir() and other.is_dir()
        assert os.path.dirname(player._tmp) == str(tmp_path)
    finally:
        player.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([alive.name, other.name])
