"""The real `ros2` command for the tests: a ROS 2 install's, else the overlay `make setup-test` builds.

Found in this order: a ``ros2`` on PATH that is not one of the overlays (a ROS 2 install: one flavour,
``installed``); else ``build/ros2cli-rolling`` and ``build/ros2cli-humble``, which tools/setup.sh builds
from ../shared/ros2-cli (rolling's launch and launch_ros, and Humble's); else none, and the tests skip
saying what to install. ``Launch`` runs ``ros2 launch`` the way a terminal does (its own process group,
SIGINT at its default, Ctrl-C to the whole group) and collects its output lines to wait on.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from functools import lru_cache
from pathlib import Path
from typing import Dict, List, Optional

import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools"))
from stop_stress import native_stacks  # noqa: E402 - the tools folder is not a package

OVERLAYS = {name: REPO / "build" / f"ros2cli-{name}" for name in ("rolling", "humble")}
SHARED_ROS2CLI = REPO.parent / "shared" / "ros2-cli"


def installed_ros2() -> Optional[str]:
    """The ``ros2`` of a ROS 2 install on PATH (not one of this repository's overlays), or None."""
    found = shutil.which("ros2")
    if found and not any(Path(found).resolve().is_relative_to(p.resolve()) for p in OVERLAYS.values()):
        return found
    return None


def flavours() -> List[str]:
    """The launch flavours there are to test: ['installed'], or the overlays built, or []."""
    if installed_ros2():
        return ["installed"]
    return [name for name, path in OVERLAYS.items() if (path / ".build.sha256").is_file()]


def skip_reason() -> str:
    """Why there is no ros2 to test with, and what to do about it."""
    if SHARED_ROS2CLI.is_dir():
        return (
            f"no ros2 overlay built from {SHARED_ROS2CLI}: run `make setup-test` (tools/setup.sh --test builds "
            "build/ros2cli-rolling and build/ros2cli-humble; see log in build/ros2cli-*/build.log)"
        )
    return (
        "no ros2 command: install ROS 2 (e.g. ros-humble-ros-base, then `source /opt/ros/humble/setup.bash`), "
        f"or put the shared ros2-cli sources at {SHARED_ROS2CLI} and run `make setup-test`"
    )


def flavour_params():
    """pytest parameters: one per flavour, or one that skips with the reason."""
    import pytest

    found = flavours()
    return found or [pytest.param(None, marks=pytest.mark.skip(reason=skip_reason()))]


@lru_cache(maxsize=None)
def _overlay_env(flavour: str) -> tuple:
    setup = OVERLAYS[flavour] / "install" / "setup.bash"
    out = subprocess.run(
        ["bash", "-c", f'source "{setup}" >/dev/null 2>&1 && env -0'],
        stdout=subprocess.PIPE,
        check=True,
        env=dict(os.environ),
    ).stdout
    return tuple(item.split("=", 1) for item in out.decode().split("\0") if "=" in item)


def environment(flavour: str) -> Dict[str, str]:
    """The environment in which ``ros2`` of this flavour runs (this test run's ROS_DOMAIN_ID included).

    Without the Fast DDS profile this test process took (conftest): a user's ``ros2`` runs on Fast DDS's defaults,
    and ``ros2 launch`` gives the node processes theirs itself.
    """
    from facecoach.dds import PROFILE_VARIABLES

    env = dict(os.environ)
    if flavour != "installed":
        env = dict(_overlay_env(flavour))
        for key in ("ROS_DOMAIN_ID", "ROS_AUTOMATIC_DISCOVERY_RANGE", "ROS_LOG_DIR"):  # the test run's own
            if key in os.environ:
                env[key] = os.environ[key]
    for key in PROFILE_VARIABLES:
        env.pop(key, None)
    return env


def ros2(flavour: str, *args: str, timeout: float = 60.0, cwd=None) -> subprocess.CompletedProcess:
    """Run ``ros2 ARGS`` to its end; stdout and stderr as text."""
    return subprocess.run(
        ["ros2", *args],
        env=environment(flavour),
        cwd=str(cwd or REPO),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


class Launch:
    """``ros2 launch ARGS`` as started from a terminal; a context manager that always ends it."""

    def __init__(self, flavour: str, *args: str, cwd=None, env: Optional[Dict[str, str]] = None) -> None:
        """``env``: variables set on top of the flavour's environment (for launch and every process it starts)."""
        self.args = list(args)
        self.lines: List[str] = []
        self._changed = threading.Condition()
        self.proc = subprocess.Popen(
            ["ros2", "launch", *args],
            env=dict(environment(flavour), **(env or {})),
            cwd=str(cwd or REPO),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            universal_newlines=True,
            start_new_session=True,  # its own process group, like a terminal's foreground job
            # A process started from a non-interactive shell may inherit SIGINT ignored: launch then never sees it.
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    @property
    def output(self) -> str:
        """Everything it printed so far."""
        with self._changed:
            return "\n".join(self.lines)

    def wait_for(self, pattern: str, timeout: float = 60.0, count: int = 1) -> bool:
        """Wait until ``count`` output lines match the regular expression (False: timeout or it ended)."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._changed:
            while sum(1 for line in self.lines if rx.search(line)) < count:
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and not self._reader.is_alive()):
                    return False
                self._changed.wait(min(left, 0.5))
        return True

    def interrupt(self) -> None:
        """Ctrl-C as a terminal sends it: SIGINT to every process of the group."""
        os.killpg(self.proc.pid, signal.SIGINT)

    def wait(self, timeout: float = 30.0) -> int:
        """Wait for it to end; its exit code."""
        code = self.proc.wait(timeout)
        self._reader.join(5)
        return code

    def wait_after_ctrl_c(self, timeout: float = 60.0) -> int:
        """Wait for it to end after ``interrupt``; its exit code (subprocess.TimeoutExpired: it did not end).

        Launch escalates to SIGTERM 5 s after a Ctrl-C that a process did not heed. At 4 s each FaceCoach process
        still running is sent SIGUSR1 (startup.run_program: it prints its threads' stacks): the output then says
        where it was held. One still running after launch's SIGTERM (a failure by then) also gets its native
        stacks printed, from gdb where there is one, before launch's SIGKILL at 10 s.
        """
        try:
            return self.wait(4.0)
        except subprocess.TimeoutExpired:
            pass
        for child in self._ours():
            _signal(child, signal.SIGUSR1)
        try:
            return self.wait(1.5)
        except subprocess.TimeoutExpired:
            pass
        for child in self._ours():
            print(native_stacks(child.pid), file=sys.stderr)  # pytest shows it with the failure
        return self.wait(timeout)

    def _ours(self) -> List[psutil.Process]:
        """The FaceCoach processes it started that are still running."""
        found = []
        try:
            children = psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.Error:  # launch itself ended meanwhile
            return found
        for child in children:
            try:
                if str(REPO / "install") in " ".join(child.cmdline()) and child.status() != psutil.STATUS_ZOMBIE:
                    found.append(child)
            except psutil.Error:  # it ended meanwhile
                pass
        return found

    def stop(self) -> None:
        """End it (and everything it started) whatever state it is in."""
        if self.proc.poll() is None:
            self.interrupt()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)  # children left over by a failed test
        except (ProcessLookupError, PermissionError):
            pass
        self.proc.wait()

    def __enter__(self) -> Launch:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def _signal(proc: psutil.Process, signum: int) -> None:
    try:
        proc.send_signal(signum)
    except psutil.Error:  # it ended meanwhile
        pass


CLEAN = "process has finished cleanly"


def problems(output: str) -> List[str]:
    """Lines of a launch's output that a clean run never prints: tracebacks and dead processes."""
    bad = ("Traceback", "process has died", "KeyboardInterrupt", "RCLError")
    return [line for line in output.splitlines() if any(b in line for b in bad)]


def ctrl_c_and_check(launch: Launch, processes: int) -> None:
    """Ctrl-C: every process ends cleanly, no traceback, no 'process has died', exit code 0."""
    launch.interrupt()
    try:
        code = launch.wait_after_ctrl_c()
    except subprocess.TimeoutExpired:
        raise AssertionError("ros2 launch did not end within 60 s of Ctrl-C:\n" + launch.output[-4000:]) from None
    out = launch.output
    assert "user interrupted with ctrl-c" in out, out[-3000:]
    tail = out[out.find("user interrupted with ctrl-c") :]
    assert problems(tail) == [], tail[-4000:]
    assert len(re.findall(CLEAN, tail)) == processes, tail[-4000:]
    assert code == 0, tail[-2000:]


def param(flavour: str, verb: str, *args: str):
    """``ros2 param VERB --no-daemon ARGS --timeout 30``: (exit code, stdout and stderr stripped)."""
    got = ros2(flavour, "param", verb, "--no-daemon", *args, "--timeout", "30")
    return got.returncode, (got.stdout + got.stderr).strip()


def video(path, seconds: float = 2.0):
    """A 640x480 MJPG video of the bundled sample interview's first seconds (real faces)."""
    import cv2
    import numpy as np
    from rosbags.highlevel import AnyReader

    from facecoach_cli.sample import bundled_sample

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (640, 480))
    with AnyReader([bundled_sample()]) as reader:
        for i, (conn, _t, raw) in enumerate(reader.messages()):
            if i >= seconds * 30:
                break
            data = np.frombuffer(bytes(reader.deserialize(raw, conn.msgtype).data), np.uint8)
            writer.write(cv2.imdecode(data, cv2.IMREAD_COLOR))
    writer.release()
    return path


def short_bag(path, frames: int = 60):
    """The sample interview's first ``frames`` frames as a bag of their own (sqlite3, version 5)."""
    from facecoach_bag.reader import messages
    from facecoach_bag.writer import BagWriter
    from facecoach_cli.sample import bundled_sample

    writer = BagWriter(path)
    for i, (topic, msgtype, t_ns, raw) in enumerate(messages(bundled_sample())):
        if i == frames:
            break
        writer.write(topic, msgtype, t_ns, raw)
    writer.close()
    return path
