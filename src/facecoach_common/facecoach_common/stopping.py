"""Ctrl-C, SIGTERM and SIGHUP stop a command or a node between two rclpy calls, never inside one.

Python raises KeyboardInterrupt wherever the main thread happens to be. Inside rclpy that can leave a
half-built object behind (an executor Task without its fields, whose ``__del__`` then prints a traceback)
or entities in use. So while ``stopped_by_signals()`` holds, a signal that lands inside rclpy is kept,
and the spin loops (``wait_until``, the command's own) raise it with ``raise_if_stopped()`` once rclpy has
returned. Outside ``stopped_by_signals()`` nothing is kept, and ``raise_if_stopped()`` does nothing.

A node process (``take_stop_signals``) goes further: a stop signal is never raised where it lands, not even
outside rclpy (a KeyboardInterrupt in a finalizer or a weakref callback is printed as "Exception ignored",
one in a pybind11 call as a RuntimeError). It is kept, wakes the spin loop (``on_stop``), and the loop ends
between two callbacks; rclpy's own handler is left out (``rclpy.init`` with ``SignalHandlerOptions.NO``), so
the context stays valid until the process tears its nodes down in order. While the process still builds its
nodes (``building()``: the classifier imports torch for seconds) a kept stop ends it at its next import.
"""

import signal
import sys
import time
from contextlib import contextmanager
from typing import Callable, Iterator, List

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
NODE_SIGNALS = (signal.SIGINT, signal.SIGTERM)  # Ctrl-C, launch's escalation, `docker stop`
_pending: List[int] = []
_stopped: List[int] = []  # every stop signal a node process received (never cleared)
_wakers: List[Callable[[], None]] = []
_building: List[bool] = [False]
_first_at: List[float] = []  # when the first one came (time.monotonic)
LINGER_S = 0.3


def _in_rclpy(frame) -> bool:
    while frame is not None:
        if frame.f_globals.get("__name__", "").startswith("rclpy"):
            return True
        frame = frame.f_back
    return False


def _stop(signum, frame) -> None:
    if _in_rclpy(frame):
        _pending.append(signum)
        return
    raise KeyboardInterrupt


def raise_if_stopped() -> None:
    """KeyboardInterrupt if a stop signal came while rclpy was running (call it right after an rclpy call)."""
    if _pending:
        del _pending[:]
        raise KeyboardInterrupt


@contextmanager
def stopped_by_signals() -> Iterator[None]:
    """SIGINT, SIGTERM and SIGHUP stop the command like Ctrl-C (a KeyboardInterrupt in the main thread)."""
    previous = {s: signal.signal(s, _stop) for s in SIGNALS}
    try:
        yield
    finally:
        del _pending[:]
        for s, handler in previous.items():
            signal.signal(s, handler)


def wait_until(node, condition: Callable[[], bool], timeout: float, spin: bool = True) -> bool:
    """Spin ``node`` until ``condition()`` holds or ``timeout`` seconds pass; a kept stop signal is raised between.

    ``spin=False`` only polls (the caller spins the node elsewhere, e.g. an executor in another thread).
    """
    import rclpy

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        if spin:
            if not node.context.ok():  # spin_once would build an executor on a dead context (RuntimeError)
                raise_if_stopped()
                from rclpy.executors import ExternalShutdownException

                raise ExternalShutdownException()
            rclpy.spin_once(node, timeout_sec=min(0.05, max(0.0, deadline - time.monotonic())))
            raise_if_stopped()
        else:
            time.sleep(0.05)
    return condition()


def _keep(signum, frame) -> None:
    if not _stopped:
        _first_at.append(time.monotonic())
    _pending.append(signum)
    _stopped.append(signum)
    for wake in list(_wakers):
        wake()


class _StopAtImport:
    """A meta path finder that finds nothing: it ends a node process that is still building at its next import."""

    def find_spec(self, name, path=None, target=None):  # noqa: D102 - the import system's protocol
        if _pending and _building[0] and not _in_rclpy(sys._getframe(1)):
            del _pending[:]
            raise KeyboardInterrupt
        return None


_STOP_AT_IMPORT = _StopAtImport()


def take_stop_signals() -> None:
    """SIGINT and SIGTERM of a node process are kept, not raised (see the module's doc); idempotent.

    Also over an inherited "ignore" (``cmd &`` in a script ignores SIGINT): a node process stops on SIGINT, as
    rclpy's own handler made it, since launch and the tests stop nodes with it. Call it before ``rclpy.init``.
    """
    for s in NODE_SIGNALS:
        signal.signal(s, _keep)
    if _STOP_AT_IMPORT not in sys.meta_path:
        sys.meta_path.insert(0, _STOP_AT_IMPORT)


def stop_requested() -> bool:
    """Whether a node process received a stop signal (``take_stop_signals``)."""
    return bool(_stopped)


@contextmanager
def building() -> Iterator[None]:
    """While the nodes are built, a kept stop raises KeyboardInterrupt at the next import outside rclpy."""
    _building[0] = True
    try:
        if _pending:  # came before: stop now rather than after seconds of imports
            del _pending[:]
            raise KeyboardInterrupt
        yield
    finally:
        _building[0] = False


@contextmanager
def on_stop(wake: Callable[[], None]) -> Iterator[None]:
    """Call ``wake`` (e.g. a guard condition's ``trigger``) when a stop signal comes, while the block runs."""
    _wakers.append(wake)
    try:
        if _stopped:
            wake()
        yield
    finally:
        _wakers.remove(wake)


def linger_for_launch(max_s: float = LINGER_S) -> None:
    """Before a stopped node process exits: wait for a second stop signal, at most ``max_s`` after the first.

    A `ros2 launch` without a terminal on its stdin sends each process its own SIGINT right after the group's
    Ctrl-C, and asyncio's send_signal polls the process first: had it exited a moment before, that poll reaps
    it under the child watcher, which then reports exit code 255 ("process has died"). A process that is
    quicker to stop than launch to send (one still starting) leaves after that signal instead.
    """
    while _stopped and len(_stopped) < 2 and time.monotonic() < _first_at[0] + max_s:
        time.sleep(0.01)
