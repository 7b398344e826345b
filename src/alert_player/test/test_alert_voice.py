"""The record-voice tool: level check on generated signals, a real arecord/aplay run on ALSA's null device."""

import argparse
import math
import os

import numpy as np
import pytest

from alert_player.audio import AudioError, read_wav
from alert_player.voice import add_record_voice_command, level_check, record_voice

RATE = 16000
T = np.arange(RATE) / RATE


def test_level_check_silence():
    rng = np.random.default_rng(0)
    report = level_check(rng.integers(-20, 20, RATE).astype(np.int16))
    assert len(report.warnings) == 1 and "almost silent" in report.warnings[0]
    assert level_check(np.zeros(RATE, np.int16)).rms_dbfs == -math.inf


def test_level_check_clipping():
    clipped = np.clip(3 * 32767 * np.sin(2 * np.pi * 220 * T), -32768, 32767).astype(np.int16)
    report = level_check(clipped)
    assert len(report.warnings) == 1 and "clips" in report.warnings[0] and report.clipped_share > 0.5


def test_level_check_normal_voice_level():
    report = level_check((0.25 * 32767 * np.sin(2 * np.pi * 220 * T)).astype(np.int16).reshape(-1, 1))
    assert report.ok and -16 < report.rms_dbfs < -14 and -13 < report.peak_dbfs < -11


def test_level_check_wants_int16():
    with pytest.raises(ValueError, match="int16"):
        level_check(np.zeros(10, np.float32))


def test_record_voice_on_the_null_device(tmp_path):
    out, said = str(tmp_path / "me" / "voice.wav"), []
    report = record_voice(
        out, device="null", seconds=0.5, rate=RATE, countdown=2, say=said.append, sleep=lambda s: None
    )
    sound = read_wav(out)  # a valid WAV, 16-bit mono at the asked rate and length
    assert (sound.rate, sound.width, sound.samples.shape) == (RATE, 2, (RATE // 2, 1))
    assert np.isfinite(report.clipped_share)  # the level check ran (null capture is not silence: no assert on it)
    assert said[:2] == ["Recording in 2…", "Recording in 1…"]
    assert any("Playing it back" in s for s in said) and said[-1].endswith(f"cue_wav:={out}")


def test_record_voice_failure_keeps_the_old_file(tmp_path):
    out = tmp_path / "voice.wav"
    out.write_bytes(b"previous recording")
    with pytest.raises(AudioError, match="arecord failed"):
        record_voice(str(out), device="hw:CARD=nosuchdevice", seconds=0.5, countdown=0, say=lambda s: None)
    assert out.read_bytes() == b"previous recording" and os.listdir(tmp_path) == ["voice.wav"]


def test_record_voice_command_registration(tmp_path):
    parser = argparse.ArgumentParser(prog="facecoach")
    add_record_voice_command(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["record-voice", "x.wav", "--device", "null", "--seconds", "1.5", "--no-playback"])
    assert (args.out, args.device, args.seconds, args.rate, args.no_playback) == ("x.wav", "null", 1.5, 16000, True)
    bad = parser.parse_args(["record-voice", str(tmp_path / "y.wav"), "--seconds", "99"])
    assert bad.func(bad) == 1  # refused with a message, not a traceback
