"""Starts the graph's processes and keeps them running (what `ros2 launch` does, where it is not installed).

Each node runs in its own process, except nodes that share a ``process`` in the graph description: those
run together in one ``facecoach.single_process`` child (``SingleProcess`` puts every node in one).

A supervisor thread watches the processes: one that dies is reported at once (which, how it ended, the last
lines of its log) and started again after a short delay; after ``MAX_QUICK_FAILURES`` quick deaths in a row,
or a configuration error (exit status 2), it gives up and says so. The children run in their own session, so
a terminal's Ctrl-C reaches only this process, which stops them in order (SIGINT, then SIGKILL); and they are
killed by the kernel if this process dies without stopping them (Linux), so none is left behind.
"""

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from dataclasses import replace
from pathlib import Path
from typing import Callable, Deque, Dict, List, Optional, Tuple

import yaml

from facecoach.graph import PROCESS_NAME, Graph, LaunchError, NodeSpec, spec_dict

from .supervision import (
    EXIT_CONFIG,
    TAIL_LINES,
    ProcessEvent,
    RestartPolicy,
    describe_exit,
    file_tail,
    forward_lines,
    print_event,
)

POLL_S = 0.05
STOP_TIMEOUT_S = 10.0
# Packages whose programs start through facecoach_common.startup.run_program, which unblocks SIGINT once its
# handler is set: their processes start with SIGINT held back (see GraphProcesses._spawn).
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
    blocked here (see _spawn), so nothing can arrive before the child's program unblocks it.
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


class _Process:
    """One process of the graph: how to start it, the running Popen, its history."""

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


class GraphProcesses:
    """The running nodes of one graph, supervised; a context manager that always stops them (SIGINT, then SIGKILL).

    ``on_event(ProcessEvent)`` is called from the supervisor thread (default: print on stderr); ``restart=False``
    only reports deaths. Start and use it from one thread that outlives it (the main thread): the kernel kills
    the children when the thread that started them ends.
    """

    def __init__(
        self,
        graph: Graph,
        nodes: List[NodeSpec],
        log_dir: Optional[Path] = None,
        extra_args=(),
        on_event: Optional[Callable[[ProcessEvent], None]] = None,
        restart: bool = True,
    ) -> None:
        self.graph = graph
        self.nodes = nodes
        self.log_dir = Path(log_dir) if log_dir else None
        self.extra_args = list(extra_args)
        self.on_event = on_event or print_event
        self.restart = restart
        self.events: List[ProcessEvent] = []
        self._running: Dict[str, _Process] = {}
        self._tmp = tempfile.TemporaryDirectory(prefix="facecoach-")
        self._lock = threading.Lock()
        self._stopping = threading.Event()  # no more restarts
        self._done = threading.Event()  # the supervisor may end (after the children were reaped)
        self._supervisor: Optional[threading.Thread] = None

    def start(self) -> "GraphProcesses":
        """Start every process of the graph: a lone node as its executable, a group in one single_process."""
        tmp = Path(self._tmp.name)
        params_file = tmp / "params.yaml"
        params_file.write_text(yaml.safe_dump(self.graph.params_file_content(self.nodes)), encoding="utf-8")
        if self.log_dir:
            self.log_dir.mkdir(parents=True, exist_ok=True)
        try:
            for name, specs in self.graph.processes(self.nodes):
                if len(specs) == 1:
                    spec = specs[0]
                    cmd = [executable_path(spec.package, spec.executable)] + spec.ros_args(str(params_file))
                    held = spec.package in HOLDS_SIGINT
                else:
                    spec_file = tmp / f"{name}.json"
                    spec_file.write_text(json.dumps([spec_dict(s) for s in specs]), encoding="utf-8")
                    cmd = [executable_path("facecoach", "facecoach_single_process"), "--spec", str(spec_file)]
                    held = True
                cmd += self.extra_args
                proc = _Process(name, cmd, self.log_dir / f"{name}.log" if self.log_dir else None, held)
                self._running[name] = proc
                self._spawn(proc)
        except BaseException:  # a missing executable, Ctrl-C ...: stop what already runs (__exit__ will not)
            self.stop()
            raise
        self._supervisor = threading.Thread(target=self._supervise, name="facecoach-supervisor", daemon=True)
        self._supervisor.start()
        return self

    def _spawn(self, proc: _Process) -> None:
        env = dict(os.environ)
        if proc.log is not None:
            mode = "wb" if proc.restarts == 0 else "ab"
            out = open(str(proc.log), mode)  # noqa: SIM115 - the child owns it; closed below once it has it
            if proc.restarts:
                out.write(f"--- restarted by facecoach (restart {proc.restarts}) ---\n".encode())
                out.flush()
        else:
            out = subprocess.PIPE
            env.setdefault("PYTHONUNBUFFERED", "1")  # lines as they happen, not when a pipe's buffer fills
            if sys.stdout.isatty():
                env.setdefault("RCUTILS_COLORIZED_OUTPUT", "1")
        cmd = [sys.executable, "-c", _ORPHAN_GUARD, str(os.getpid())] + proc.cmd
        # A child inherits this thread's signal mask through fork and exec: with SIGINT blocked, a stop that comes
        # while its interpreter (and the orphan guard's) is still starting waits until its program has set its
        # handler and unblocked it, instead of ending it with a KeyboardInterrupt traceback from site.py.
        held = {signal.SIGINT} if proc.hold_sigint else set()
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, held)
        try:
            proc.popen = subprocess.Popen(
                cmd, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True, preexec_fn=_heed_sigint
            )
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
            if out is not subprocess.PIPE:
                out.close()
        proc.started = time.monotonic()
        proc.due = None
        if out is subprocess.PIPE:
            proc.reader = threading.Thread(target=forward_lines, args=(proc.popen.stdout, proc.tail), daemon=True)
            proc.reader.start()

    def _supervise(self) -> None:
        while not self._done.wait(POLL_S):
            events = []
            with self._lock:
                if self._stopping.is_set():
                    continue
                for proc in self._running.values():
                    try:
                        event = self._check(proc, time.monotonic())
                    except Exception as exc:  # noqa: BLE001 - e.g. a restart that cannot fork: keep watching the rest
                        proc.gave_up, proc.due = True, None
                        pid = proc.popen.pid if proc.popen else 0
                        event = ProcessEvent(
                            "gave_up", proc.name, pid, proc.last_exit, reason=f"cannot restart it: {exc}"
                        )
                    if event is not None:
                        events.append(event)
                        self.events.append(event)
            for event in events:
                try:
                    self.on_event(event)
                except Exception as exc:  # noqa: BLE001 - a broken report must not stop the supervision
                    print(f"[facecoach] cannot report {event.line()!r}: {exc}", file=sys.stderr)

    def _check(self, proc: _Process, now: float) -> Optional[ProcessEvent]:
        """What happened to one process since the last look (called with the lock held)."""
        if proc.gave_up or proc.popen is None:
            return None
        if proc.due is not None:
            if now < proc.due:
                return None
            proc.restarts += 1
            self._spawn(proc)
            return ProcessEvent("restarted", proc.name, proc.popen.pid, restarts=proc.restarts, log=self._where(proc))
        code = proc.popen.poll()
        if code is None:
            return None
        proc.last_exit = code
        ran = now - proc.started
        if proc.reader is not None:
            proc.reader.join(0.3)  # its last lines (a grandchild such as aplay may hold the pipe open)
        tail = file_tail(proc.log) if proc.log is not None else tuple(proc.tail)
        delay, reason = None, ""
        if not self.restart:
            reason = "restarts are off"
        elif code == EXIT_CONFIG:
            reason = "a configuration error (exit code 2): starting it again would not help"
        else:
            delay = proc.policy.died(ran)
            if delay is None:
                reason = f"it died {proc.policy.quick} times in a row within {proc.policy.quick_s:g} s of its start"
        kind = "died" if delay is not None else "gave_up"
        proc.due = now + delay if delay is not None else None
        proc.gave_up = delay is None
        return ProcessEvent(
            kind, proc.name, proc.popen.pid, code, ran, delay, proc.restarts, reason, self._where(proc), tail
        )

    def _where(self, proc: _Process) -> str:
        return str(proc.log) if proc.log is not None else "its output"

    @property
    def procs(self) -> Dict[str, subprocess.Popen]:
        """The current Popen of each process."""
        return {name: p.popen for name, p in self._running.items() if p.popen is not None}

    def dead(self) -> Dict[str, int]:
        """Processes that died since the start, restarted or not, with the exit code of their latest death."""
        with self._lock:
            out = {n: p.last_exit for n, p in self._running.items() if p.last_exit is not None}
            for name, p in self._running.items():
                code = p.popen.poll() if p.popen is not None and not self._stopping.is_set() else None
                if code is not None:
                    out[name] = code  # died, and the supervisor has not looked yet
        return out

    def given_up(self) -> Dict[str, ProcessEvent]:
        """Processes the supervisor will not start again, with the event that said so."""
        with self._lock:
            names = {n for n, p in self._running.items() if p.gave_up}
            return {e.name: e for e in self.events if e.kind == "gave_up" and e.name in names}

    def down(self) -> List[str]:
        """Processes not running now (dead and waiting for their restart, or given up)."""
        with self._lock:
            return [n for n, p in self._running.items() if p.gave_up or p.due is not None or p.popen is None]

    def status(self) -> List[Tuple[str, str, str, Dict[str, object]]]:
        """Each process as (name, level 'ok' | 'error', message, values): what /diagnostics reports."""
        out = []
        with self._lock:
            for name, p in self._running.items():
                values: Dict[str, object] = {"pid": p.popen.pid if p.popen else 0, "restarts": p.restarts}
                if p.last_exit is not None:
                    values["last_exit"] = describe_exit(p.last_exit)
                if p.gave_up:
                    level, message = "error", f"not running: gave up after {values.get('last_exit', 'its start')}"
                elif p.due is not None:
                    level, message = "error", f"died ({values['last_exit']}); restarting"
                else:
                    level, message = "ok", "running" + (f", restarted {p.restarts}x" if p.restarts else "")
                out.append((name, level, message, values))
        return out

    def restarts(self) -> Dict[str, int]:
        """How many times each process was started again."""
        return {name: p.restarts for name, p in self._running.items()}

    def pids(self) -> Dict[str, int]:
        """Process id of each node."""
        return {name: p.pid for name, p in self.procs.items()}

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> Dict[str, int]:
        """SIGINT every process (a clean DDS shutdown), then SIGKILL what is left; return exit codes.

        A KeyboardInterrupt while waiting (a second Ctrl-C) skips the rest of the wait: what is left is killed.
        """
        with self._lock:
            self._stopping.set()  # the supervisor restarts nothing from here on
            procs = [p.popen for p in self._running.values() if p.popen is not None]
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
            self._done.set()
            if self._supervisor is not None:
                self._supervisor.join(1.0)
            for p in self._running.values():
                if p.reader is not None:
                    p.reader.join(1.0)
            self._tmp.cleanup()
        return {name: p.returncode for name, p in self.procs.items()}

    def __enter__(self) -> "GraphProcesses":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class SingleProcess(GraphProcesses):
    """Every node of the graph in one child process on one executor (the memory saver for a 4 GB Jetson)."""

    def __init__(
        self, graph: Graph, nodes: List[NodeSpec], log_dir: Optional[Path] = None, extra_args=(), **kw
    ) -> None:
        super().__init__(graph, [replace(n, process=PROCESS_NAME) for n in nodes], log_dir, extra_args, **kw)
