"""Record the user's own spoken reminder with ``arecord``, check its level, and play it back."""

import argparse
import math
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import Callable, List, Tuple

import numpy as np

from .audio import AudioError, check_alsa_device, read_wav

SILENCE_DBFS = -45.0  # RMS under this is a muted or disconnected microphone, not a quiet voice
CLIP_SHARE = 0.001  # more than 0.1 % of samples at full scale: the voice is distorted


@dataclass(frozen=True)
class LevelReport:
    """Loudness of a recording: RMS and peak in dBFS, the share of clipped samples, and warnings."""

    rms_dbfs: float
    peak_dbfs: float
    clipped_share: float
    warnings: Tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """Tell whether the level check found nothing to warn about."""
        return not self.warnings


def _dbfs(value: float) -> float:
    return 20.0 * math.log10(value / 32768.0) if value > 0 else -math.inf


def level_check(samples: np.ndarray, silence_dbfs: float = SILENCE_DBFS, clip_share: float = CLIP_SHARE) -> LevelReport:
    """Check int16 samples (any shape) for silence (RMS too low) and clipping (samples at full scale)."""
    x = np.asarray(samples)
    if x.dtype != np.int16:
        raise ValueError(f"level_check expects int16 samples, got {x.dtype}")
    if x.size == 0:
        return LevelReport(-math.inf, -math.inf, 0.0, ("the recording is empty",))
    xf = x.astype(np.float64).ravel()
    rms, peak = float(np.sqrt(np.mean(xf * xf))), float(np.max(np.abs(xf)))
    clipped = float(np.mean((x >= 32767) | (x <= -32768)))
    warnings = []
    if _dbfs(rms) < silence_dbfs:
        warnings.append(
            f"the recording is almost silent (RMS {_dbfs(rms):.1f} dBFS): check the microphone, its mute switch "
            "and the capture level (alsamixer), or pick another --device"
        )
    if clipped > clip_share:
        warnings.append(
            f"the recording clips ({100 * clipped:.2f} % of samples at full scale): speak further from the "
            "microphone or lower the capture level"
        )
    return LevelReport(_dbfs(rms), _dbfs(peak), clipped, tuple(warnings))


def record_voice(
    out_path: str,
    device: str = "default",
    seconds: float = 3.0,
    rate: int = 16000,
    playback: bool = True,
    countdown: int = 3,
    say: Callable[[str], None] = print,
    sleep: Callable[[float], None] = time.sleep,
    arecord: str = "arecord",
    aplay: str = "aplay",
) -> LevelReport:
    """Record ``seconds`` of mono 16-bit audio to ``out_path``, check its level, then play it back.

    Raises AudioError when arecord or aplay fails or the result is not a valid WAV; an existing
    ``out_path`` is only replaced by a complete recording.
    """
    if not 0.5 <= seconds <= 30.0:
        raise ValueError("seconds must be between 0.5 and 30")
    if not 8000 <= rate <= 96000:
        raise ValueError("rate must be between 8000 and 96000 Hz")
    check_alsa_device(device)
    out_path = os.path.abspath(out_path)
    out_dir = os.path.dirname(out_path)
    os.makedirs(out_dir, exist_ok=True)
    for n in range(countdown, 0, -1):
        say(f"Recording in {n}…")
        sleep(1.0)
    say(f"Speak now: recording {seconds:g} s from ALSA device {device!r}")
    fd, tmp = tempfile.mkstemp(suffix=".wav", dir=out_dir)
    os.close(fd)
    try:
        # -s (samples) rather than -d (whole seconds only), so fractional durations work.
        cmd = [
            arecord,
            "-q",
            "-D",
            device,
            "-f",
            "S16_LE",
            "-c",
            "1",
            "-r",
            str(rate),
            "-s",
            str(round(seconds * rate)),
        ]
        _run(cmd + [tmp], "arecord")
        sound = read_wav(tmp)
        os.replace(tmp, out_path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    report = level_check(sound.samples)
    say(
        f"Saved {out_path}: {sound.samples.shape[0] / sound.rate:.2f} s, RMS {report.rms_dbfs:.1f} dBFS, "
        f"peak {report.peak_dbfs:.1f} dBFS"
    )
    for w in report.warnings:
        say(f"warning: {w}")
    if playback:
        say("Playing it back…")
        _run([aplay, "-q", "-D", device, out_path], "aplay")
    say(f"Use it as the cue: alert_player parameter cue_wav:={out_path}")
    return report


def _run(cmd: List[str], name: str) -> None:
    """Run an ALSA tool to completion; raise AudioError with its own error text when it fails."""
    try:
        done = subprocess.run(  # noqa: UP022 - Python 3.6 (the Jetson's) has no capture_output
            cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60
        )
    except OSError as exc:
        raise AudioError(f"cannot run {name} ({exc.strerror}): install alsa-utils") from None
    except subprocess.TimeoutExpired:
        raise AudioError(f"{name} did not finish within 60 s") from None
    if done.returncode != 0:
        err = done.stderr.decode(errors="replace").strip()
        raise AudioError(f"{name} failed with exit status {done.returncode}: {err}")


def add_record_voice_command(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register the ``record-voice OUT.wav`` sub-command; its ``func(args)`` returns the exit status."""
    p = subparsers.add_parser(
        "record-voice",
        help="record your own spoken reminder to use as the cue",
        description="Record your own reminder with arecord, check its level and play it back.",
    )
    p.add_argument("out", metavar="OUT.wav", help="where to write the recording (16-bit mono WAV)")
    p.add_argument("--device", default="default", help="ALSA device for recording and playback (default: default)")
    p.add_argument("--seconds", type=float, default=3.0, help="recording length in seconds, 0.5..30 (default: 3)")
    p.add_argument("--rate", type=int, default=16000, help="sample rate in Hz (default: 16000)")
    p.add_argument("--no-playback", action="store_true", help="do not play the recording back")
    p.set_defaults(func=_record_voice_main)
    return p


def _record_voice_main(args: argparse.Namespace) -> int:
    """Run record_voice from parsed arguments; print errors instead of a traceback."""
    try:
        record_voice(args.out, args.device, args.seconds, args.rate, playback=not args.no_playback)
    except (AudioError, ValueError, OSError) as exc:
        print(f"record-voice: error: {exc}", file=sys.stderr)
        return 1
    return 0
