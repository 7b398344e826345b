"""Cue playback through ALSA's ``aplay``: non-blocking, one sound at a time, volume, tone fallback.

Every file is read with ``wave`` first: aplay plays a non-WAV file as raw noise with exit status 0,
so a missing or broken file is caught here, reported, and replaced by a generated tone. Only regular
files under MAX_CUE_BYTES are opened (a FIFO would block the reader, a huge file eat the memory), and
never more samples are read than the file holds, whatever its header claims.
"""

import os
import re
import shutil
import stat
import subprocess
import tempfile
import threading
import wave
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

import numpy as np

TONE_HZ = 880.0
TONE_S = 0.3
TONE_RATE = 22050
MAX_CUE_BYTES = 16 * 2**20  # 16 MiB: over a minute of 16-bit stereo at 48 kHz; a cue is a few seconds
_DTYPES = {1: np.uint8, 2: np.dtype("<i2"), 4: np.dtype("<i4")}  # 8-bit WAV is unsigned, the rest signed


class AudioError(RuntimeError):
    """Playback could not start (aplay missing) or a WAV file cannot be used."""


# Plain ALSA device names only. A PCM *definition* (``file:'|cmd'``, ``pipe``, ``plug:...``, braces)
# can name a plugin that runs a shell command or writes a file, and the device can be set over the
# parameter service by anyone on the DDS domain: so the name must be a hardware or standard PCM,
# with card/device numbers or a CARD=<id> argument, nothing else.
_ALSA_PCMS = "default|sysdefault|null|hw|plughw|front|dmix|dsnoop|hdmi|iec958|pulse|pipewire|jack"
_ALSA_ARGS = r"\d{1,2}(,\d{1,2}){0,2}|CARD=[A-Za-z0-9_]{1,32}(,DEV=\d{1,2}(,SUBDEV=\d{1,2})?)?"
_ALSA_DEVICE = re.compile(rf"({_ALSA_PCMS})(:({_ALSA_ARGS}))?")
ALSA_DEVICE_HINT = "default, null, plughw:1,0, hw:CARD=tegrahda,DEV=3 or sysdefault:CARD=PCH"


def check_alsa_device(name: str) -> str:
    """Return ``name`` if it is a plain ALSA device name; raise ValueError saying which forms are allowed."""
    if not _ALSA_DEVICE.fullmatch(name):
        raise ValueError(
            f"alsa_device={name!r}: not a plain ALSA device name (e.g. {ALSA_DEVICE_HINT}); "
            "PCM definitions and plugins such as file: or pipe are refused"
        )
    return name


@dataclass(frozen=True)
class Sound:
    """PCM samples ready to write: int array shaped (frames, channels) plus the WAV format."""

    samples: np.ndarray
    rate: int
    width: int  # bytes per sample: 1, 2 or 4


@dataclass(frozen=True)
class PlaybackResult:
    """A finished aplay run: what was played, its exit status and its error text."""

    path: str
    returncode: int
    stderr: str

    @property
    def ok(self) -> bool:
        """Tell whether aplay exited with status 0."""
        return self.returncode == 0


def read_wav(path: str) -> Sound:
    """Read a PCM WAV (8/16/32-bit, any rate, any channels); raise AudioError saying what is wrong."""
    try:
        st = os.stat(path)  # stat, not open: opening a FIFO would block until someone writes to it
    except FileNotFoundError:
        raise AudioError(f"cue file {path!r} does not exist") from None
    except OSError as exc:
        raise AudioError(f"cue file {path!r} cannot be read: {exc.strerror}") from None
    if not stat.S_ISREG(st.st_mode):
        raise AudioError(f"cue file {path!r} is not a regular file")
    if st.st_size > MAX_CUE_BYTES:
        raise AudioError(f"cue file {path!r} is {st.st_size / 2**20:.0f} MiB; a cue must be under 16 MiB")
    try:
        with open(path, "rb") as f, wave.open(f, "rb") as w:
            width, channels, rate = w.getsampwidth(), w.getnchannels(), w.getframerate()
            # The header's frame count may lie (a 2 GB claim in a 1 kB file): read what the file can hold.
            frames = w.readframes(min(w.getnframes(), st.st_size // max(1, width * channels)))
    except (OSError, EOFError, wave.Error) as exc:
        raise AudioError(f"cue file {path!r} is not a readable PCM WAV file: {exc}") from None
    if width not in _DTYPES:
        raise AudioError(f"cue file {path!r}: {8 * width}-bit samples are not supported (use 8, 16 or 32-bit PCM)")
    samples = np.frombuffer(frames, dtype=_DTYPES[width])
    if samples.size == 0 or samples.size % channels:
        raise AudioError(f"cue file {path!r} holds no complete audio frames")
    return Sound(samples.reshape(-1, channels), rate, width)


def write_wav(path: str, sound: Sound) -> None:
    """Write ``sound`` as a PCM WAV file."""
    # wave.open(path) would open the file itself and, when that fails, print "Exception ignored in
    # Wave_write.__del__" (its half-built object): the file is opened here.
    with open(path, "wb") as f, wave.open(f, "wb") as w:
        w.setnchannels(sound.samples.shape[1])
        w.setsampwidth(sound.width)
        w.setframerate(sound.rate)
        w.writeframes(np.ascontiguousarray(sound.samples.astype(_DTYPES[sound.width])).tobytes())


def scale(sound: Sound, volume: float) -> Sound:
    """Return ``sound`` with its amplitude multiplied by ``volume``, clipped to the sample range."""
    offset = 128 if sound.width == 1 else 0  # 8-bit PCM is centred on 128
    full = float(2 ** (8 * sound.width - 1))
    x = (sound.samples.astype(np.float64) - offset) * volume
    x = np.clip(np.round(x), -full, full - 1) + offset
    return Sound(x.astype(_DTYPES[sound.width]), sound.rate, sound.width)


def tone(freq_hz: float = TONE_HZ, seconds: float = TONE_S, rate: int = TONE_RATE, volume: float = 1.0) -> Sound:
    """Generate the fallback cue: a sine beep with 10 ms fades (no clicks), mono 16-bit."""
    t = np.arange(int(seconds * rate)) / rate
    envelope = np.minimum(1.0, np.minimum(t, seconds - t) / 0.01)
    x = 0.5 * 32767 * volume * envelope * np.sin(2 * np.pi * freq_hz * t)
    return Sound(np.clip(np.round(x), -32768, 32767).astype("<i2").reshape(-1, 1), rate, 2)


_TMP_PREFIX = "alert_player_pid"


def _remove_folders_of_dead_players(root: str) -> None:
    """Remove the WAV folders that killed players (``kill -9``: no close()) left in ``root``."""
    try:
        names = os.listdir(root)
    except OSError:
        return
    for name in names:
        match = re.fullmatch(_TMP_PREFIX + r"(\d+)_\w+", name)
        if match is None:
            continue
        try:
            os.kill(int(match.group(1)), 0)
        except ProcessLookupError:  # gone: its folder is left over (another user's stays: rmtree fails quietly)
            shutil.rmtree(os.path.join(root, name), ignore_errors=True)
        except (PermissionError, OverflowError):  # alive, another user's; or not a pid
            pass


class AudioPlayer:
    """Plays one cue at a time with ``aplay -D <device>`` in the background; poll() reports the end."""

    def __init__(self, device: str = "default", volume: float = 1.0, aplay: str = "aplay") -> None:
        """Set the ALSA device, the volume (0..2) and the aplay executable."""
        self.device, self.volume, self.aplay = device, volume, aplay
        _remove_folders_of_dead_players(tempfile.gettempdir())
        self._tmp = tempfile.mkdtemp(prefix=f"{_TMP_PREFIX}{os.getpid()}_")
        self._cache: Dict[Tuple[str, float], Tuple[Tuple[int, int], str]] = {}
        self._proc: Optional[subprocess.Popen] = None
        self._playing = ""
        self._finished: Optional[PlaybackResult] = None
        # The node checks files and the device in a worker thread; close() (the node stopping) may come meanwhile:
        # files are written and the folder removed one at a time, and nothing is written once it is closed.
        self._lock = threading.Lock()
        self._closed = False

    def _write(self, path: str, sound: Sound) -> None:
        with self._lock:
            if self._closed:
                raise AudioError("the audio player is closed (the node is stopping)")
            write_wav(path, sound)

    def aplay_found(self) -> bool:
        """Tell whether the aplay executable can be found."""
        return shutil.which(self.aplay) is not None

    @property
    def busy(self) -> bool:
        """True while a cue is playing (polls the process, so it never lags behind a finished one)."""
        return self._proc is not None and self._proc.poll() is None

    def check_output(self, timeout: float = 10.0) -> Optional[str]:
        """Play 10 ms of silence on the device and wait: None when it works, else why not (blocks: a worker's job)."""
        silence = os.path.join(self._tmp, "silence.wav")
        try:
            if not os.path.exists(silence):
                self._write(silence, Sound(np.zeros((TONE_RATE // 100, 1), "<i2"), TONE_RATE, 2))
        except AudioError as exc:
            return str(exc)
        try:
            cmd = self._command(silence)
            done = subprocess.run(  # noqa: UP022 - Python 3.6 (the Jetson's) has no capture_output
                cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout
            )
        except AudioError as exc:
            return str(exc)
        except OSError as exc:
            return f"cannot run {self.aplay!r} ({exc.strerror}): install alsa-utils"
        except subprocess.TimeoutExpired:
            return f"aplay on {self.device!r} did not finish 10 ms of silence in {timeout:g} s"
        if done.returncode != 0:
            text = done.stderr.decode(errors="replace").strip() or "no error text"
            return f"aplay -D {self.device} failed (exit status {done.returncode}): {text}"
        return None

    def prepare(self, path: str) -> Tuple[str, Optional[str]]:
        """Return (file to play, error text or None): ``path`` checked and volume-scaled, or the tone."""
        if path:
            try:
                return self._prepare_file(path), None
            except AudioError as exc:
                error = f"{exc}; playing a {TONE_HZ:.0f} Hz tone instead"
        else:
            error = None
        out = os.path.join(self._tmp, f"tone_{self.volume:.3f}.wav")
        if not os.path.exists(out):
            self._write(out, tone(volume=self.volume))
        return out, error

    def _prepare_file(self, path: str) -> str:
        """Check ``path`` and return it, or a scaled copy; cached until the file changes on disk."""
        try:
            st = os.stat(path)
        except OSError as exc:
            raise AudioError(f"cue file {path!r} cannot be read: {exc.strerror}") from None
        key, stamp = (os.path.abspath(path), self.volume), (st.st_mtime_ns, st.st_size)
        cached = self._cache.get(key)
        if cached and cached[0] == stamp:
            return cached[1]
        sound = read_wav(path)  # also when volume is 1: aplay would play a broken file as noise
        out = path
        if self.volume != 1.0:
            out = os.path.join(self._tmp, f"cue_{len(self._cache)}.wav")
            self._write(out, scale(sound, self.volume))
        self._cache[key] = (stamp, out)
        return out

    def play(self, path: str) -> Optional[str]:
        """Start playing ``path`` (or the tone); return an error text when the file fell back to the tone.

        Raises AudioError when a cue is already playing or aplay cannot be started.
        """
        if self.busy:
            raise AudioError("a cue is already playing")
        self._reap()  # keep the previous run's status for poll() before the process is replaced
        wav, error = self.prepare(path)
        cmd = self._command(wav)
        try:
            self._proc = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
            )
        except OSError as exc:
            raise AudioError(f"cannot run {self.aplay!r} ({exc.strerror}): install alsa-utils") from None
        self._playing = wav
        return error

    def _command(self, wav: str) -> List[str]:
        """The aplay command line, as a list (no shell); AudioError when the device is not a plain name."""
        try:  # checked here too, so no code path hands aplay a PCM definition
            check_alsa_device(self.device)
        except ValueError as exc:
            raise AudioError(str(exc)) from None
        return [self.aplay, "-q", "-D", self.device, wav]

    def poll(self) -> Optional[PlaybackResult]:
        """Return the result of a playback that has finished since the last call, else None."""
        self._reap()
        result, self._finished = self._finished, None
        return result

    def _reap(self) -> None:
        """Move a finished process's exit status and error text into ``_finished``."""
        if self._proc is None or self._proc.poll() is None:
            return
        proc, self._proc = self._proc, None
        stderr = proc.stderr.read().decode(errors="replace").strip() if proc.stderr else ""
        if proc.stderr:
            proc.stderr.close()
        self._finished = PlaybackResult(self._playing, proc.returncode, stderr)

    def stop(self) -> None:
        """Stop a playing cue (its result is then reported by poll() as a non-zero exit)."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            self._proc.wait(timeout=2.0)

    def close(self) -> None:
        """Stop a playing cue and remove the temporary files."""
        with self._lock:
            self._closed = True
        self.stop()
        self._reap()
        shutil.rmtree(self._tmp, ignore_errors=True)
