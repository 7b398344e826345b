"""A child process of the graph: its command line, how it is started and how it is stopped.

The children run in their own session, so a terminal's Ctrl-C reaches only this process, which stops them in
order (SIGINT, then SIGKILL: ``stop_all``); and they are killed by the kernel if this process dies without
stopping them (Linux), so none is left behind.
"""

import os
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from pathlib import Path
from typing import Deque, Iterable, List, Optional

from facecoach.dds import profile_environment
from facecoach.graph import LaunchError

from .supervision import TAIL_LINES, RestartPolicy, forward_lines

STOP_TIMEOUT_S = 10.0
# Packages whose programs start through facecoach_common.startup.run_program, which unblocks SIGINT once its
# handler is set: their processes start with SIGINT held back (see Child.spawn).
HOLDS_SIGINT = ("face_detector", "emotion_classifier", "alert_player", "facecoach", "facecoach_bag")

# Run before the node's program, in the child: die with this process (prctl PR_SET_PDEATHSIG = 1, SIGKILL),
# or at once if it already died; then become the node (exec keeps the pid).
_ORPHAN_GUARD = (
    "import ctypes, os, signal, sys\n"
    "try:\n"
    "    ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL))\n"
    "except (OSError, AttributeError):\n"
    "    pass\n"
    "if os.getppid() != int(sys.argv[1]):\n"
    "    sys.exit(1)\n"
    "os.execv(sys.argv[2], sys.argv[2:])\n"
)


def _heed_sigint() -> None:
    """In a child, before exec: SIGINT back to its default, which is how this launcher stops its children.

    A process started with SIGINT ignored (``nohup``, ``cmd &`` in a script, a test runner that ignores it)
    passes that on to its children, whose programs then keep ignoring it (facecoach_common.startup leaves an
    inherited ignore alone): the launcher's stop would wait for them and then kill them. The signal is still
    blocked here (see Child.spawn), so nothing can arrive before the child's program unblocks it.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def executable_path(package: str, executable: str) -> str:
    """install/<package>/lib/<package>/<executable>, found through the ament index like `ros2 run`."""
    from ament_index_python.packages import PackageNotFoundError, get_package_prefix

    try:
        path = Path(get_package_prefix(package)) / "lib" / package / executable
    except PackageNotFoundError as exc:
        raise LaunchError(f"package {package!r} is not installed (run `make setup`, then `source env.sh`)") from exc
    if not os.access(path, os.X_OK):
        raise LaunchError(f"{path}: no such executable (run `make setup` to rebuild the workspace)")
    return str(path)


class Child:
    """One process of the graph: how to start it, the running Popen, its history (what the supervisor keeps)."""

    def __init__(self, name: str, cmd: List[str], log: Optional[Path], hold_sigint: bool = False) -> None:
        self.name, self.cmd, self.log = name, cmd, log
        self.hold_sigint = hold_sigint
        self.popen: Optional[subprocess.Popen] = None
        self.started = 0.0
        self.restarts = 0
        self.policy = RestartPolicy()
        self.due: Optional[float] = None  # when to restart it
        self.last_exit: Optional[int] = None
        self.gave_up = False
        self.tail: Deque[str] = deque(maxlen=TAIL_LINES)  # its last lines, when its output goes to our terminal
        self.reader: Optional[threading.Thread] = None

    @property
    def where(self) -> str:
        """Where its output goes: its log file, or this process's terminal."""
        return str(self.log) if self.log is not None else "its output"

    def spawn(self) -> None:
        """Start (or restart) it: its output to its log (appended after a restart) or, line by line, to ours."""
        env = dict(os.environ)
        env.update(profile_environment(env))  # the nodes announce themselves often (facecoach.dds)
        if self.log is not None:
            mode = "wb" if self.restarts == 0 else "ab"
            out = open(str(self.log), mode)  # noqa: SIM115 - the child owns it; closed below once it has it
            if self.restarts:
                out.write(f"--- restarted by facecoach (restart {self.restarts}) ---\n".encode())
                out.flush()
        else:
            out = subprocess.PIPE
            env.setdefault("PYTHONUNBUFFERED", "1")  # lines as they happen, not when a pipe's buffer fills
            if sys.stdout.isatty():
                env.setdefault("RCUTILS_COLORIZED_OUTPUT", "1")
        cmd = [sys.executable, "-c", _ORPHAN_GUARD, str(os.getpid())] + self.cmd
        # A child inherits this thread's signal mask through fork and exec: with SIGINT blocked, a stop that comes
        # while its interpreter (and the orphan guard's) is still starting waits until its program has set its
        # handler and unblocked it, instead of ending it with a KeyboardInterrupt traceback from site.py.
        held = {signal.SIGINT} if self.hold_sigint else set()
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, held)
        try:
            self.popen = subprocess.Popen(
                cmd, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True, preexec_fn=_heed_sigint
            )
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
            if out is not subprocess.PIPE:
                out.close()
        self.started = time.monotonic()
        self.due = None
        if out is subprocess.PIPE:
            self.reader = threading.Thread(target=forward_lines, args=(self.popen.stdout, self.tail), daemon=True)
            self.reader.start()


def stop_all(popens: Iterable[subprocess.Popen], timeout: float = STOP_TIMEOUT_S) -> None:
    """SIGINT every process (a clean DDS shutdown), then SIGKILL its session after ``timeout`` seconds.

    A KeyboardInterrupt while waiting (a second Ctrl-C) skips the rest of the wait: what is left is killed.
    """
    procs = list(popens)
    try:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
        deadline = time.monotonic() + timeout
        for p in procs:
            try:
                p.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
    except KeyboardInterrupt:
        pass
    finally:
        for p in procs:
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGKILL)  # its own session: also what it started (aplay)
                except OSError:
                    p.kill()
                p.wait()
