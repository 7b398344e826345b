"""Ctrl-C, SIGTERM and SIGHUP stop a command between two rclpy calls, never inside one.

Python raises KeyboardInterrupt wherever the main thread happens to be. Inside rclpy that can leave a
half-built object behind (an executor Task without its fields, whose ``__del__`` then prints a traceback)
or entities in use. So while ``stopped_by_signals()`` holds, a signal that lands inside rclpy is kept,
and the spin loops (``wait_until``, the command's own) raise it with ``raise_if_stopped()`` once rclpy has
returned. Outside ``stopped_by_signals()`` nothing is kept, and ``raise_if_stopped()`` does nothing.
"""

import signal
import time
from contextlib import contextmanager
from typing import Callable, Iterator, List

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
_pending: List[int] = []


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
            rclpy.spin_once(node, timeout_sec=min(0.05, max(0.0, deadline - time.monotonic())))
            raise_if_stopped()
        else:
            time.sleep(0.05)
    return condition()
