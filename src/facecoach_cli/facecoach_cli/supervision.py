"""Supervision of the graph's processes, the pure part: when to restart, how a death is told.

The supervisor (``supervisor.Supervisor``) watches the launcher's children with these; nothing here starts a process.
"""

import os
import signal
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Deque, Optional, Sequence, Tuple

RESTART_DELAYS_S = (0.1, 0.25, 1.0, 2.0, 4.0)  # after a long run, then after the 1st, 2nd ... quick death in a row
QUICK_S = 30.0  # a process that dies within this of its start died quickly (a crash loop, not a one-off)
MAX_QUICK_FAILURES = 5
EXIT_CONFIG = 2  # a node's exit status for a configuration error (run_node): restarting it would not help
TAIL_LINES = 8


def describe_exit(returncode: int) -> str:
    """'exit code 1' or 'killed by SIGKILL' (Popen's negative return code)."""
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exit code {returncode}"


class RestartPolicy:
    """When to start a dead process again: a short, growing delay; never after too many quick deaths in a row."""

    def __init__(
        self,
        delays_s: Sequence[float] = RESTART_DELAYS_S,
        quick_s: float = QUICK_S,
        max_quick: int = MAX_QUICK_FAILURES,
    ) -> None:
        self.delays_s = tuple(delays_s)
        self.quick_s = quick_s
        self.max_quick = max_quick
        self.quick = 0  # quick deaths in a row

    def died(self, ran_s: float) -> Optional[float]:
        """A death after ``ran_s`` seconds of running: the delay before the restart, or None to give up."""
        self.quick = self.quick + 1 if ran_s < self.quick_s else 0
        if self.quick >= self.max_quick:
            return None
        return self.delays_s[min(self.quick, len(self.delays_s) - 1)]


@dataclass(frozen=True)
class ProcessEvent:
    """Something the supervisor saw: a process ``died`` (and will restart, or ``gave_up``), or ``restarted``."""

    kind: str  # "died", "gave_up" or "restarted"
    name: str
    pid: int
    returncode: Optional[int] = None
    ran_s: float = 0.0
    restart_in_s: Optional[float] = None
    restarts: int = 0  # restarts so far (with this one, for "restarted")
    reason: str = ""  # why it gave up
    log: str = ""  # where the process's output goes
    log_tail: Tuple[str, ...] = ()

    def line(self) -> str:
        """The one line that reports it."""
        who = f"[facecoach] {self.name}"
        if self.kind == "restarted":
            return f"{who} restarted (pid {self.pid}, restart {self.restarts})"
        how = describe_exit(self.returncode) if self.returncode is not None else "not running"
        then = f"restarting in {self.restart_in_s:g} s" if self.kind == "died" else f"not restarting it: {self.reason}"
        return f"{who} (pid {self.pid}) died: {how} after {self.ran_s:.1f} s; {then}"

    def text(self) -> str:
        """The line, then the last lines of the process's log."""
        if not self.log_tail:
            return self.line()
        tail = "".join(f"\n    | {t}" for t in self.log_tail)
        return f"{self.line()}\n    last lines of {self.log}:{tail}"


def print_event(event: ProcessEvent) -> None:
    """The default report: on stderr."""
    print(event.text(), file=sys.stderr, flush=True)


def forward_lines(stream, tail: Deque[str]) -> None:
    """Copy a child's output to our stdout line by line, keeping the last lines for a report."""
    out = getattr(sys.stdout, "buffer", None)
    for raw in iter(stream.readline, b""):
        tail.append(raw.decode("utf-8", "replace").rstrip())
        try:
            if out is not None:
                out.write(raw)
                out.flush()
        except (OSError, ValueError):  # our stdout is gone (a closed pipe): keep draining the child's
            out = None
    stream.close()


def file_tail(path: Path, lines: int = TAIL_LINES) -> Tuple[str, ...]:
    """The last non-empty lines of a log file (read from its end: a long log costs nothing)."""
    try:
        with open(str(path), "rb") as f:
            f.seek(max(0, f.seek(0, os.SEEK_END) - 16384))
            text = f.read().decode("utf-8", "replace")
    except OSError:
        return ()
    return tuple(t for t in text.splitlines() if t.strip())[-lines:]
