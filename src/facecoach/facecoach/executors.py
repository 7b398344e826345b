"""The executor of a process that hosts several nodes: single- or multi-threaded, and callback failures kept apart.

One node's raising callback must not end the other nodes of the process: ``CallbackFailures`` logs each
distinct failure once (with its traceback) and counts the repeats.
"""

import time
import traceback
from typing import Callable, Dict, Optional, Tuple

from .graph import PROCESS_NAME, LaunchError

DEFAULT_THREADS = 4  # multi executor: one per stage plus one for parameter services
EXECUTORS = ("single", "multi")
# Measured on 2 cores, sample bag at 1x: SingleThreadedExecutor 0 of 300 frames dropped, e2e p50 11 ms;
# MultiThreadedExecutor(4) 106 of 300 dropped, p50 111 ms (its Python-level scheduling costs more than it saves,
# and the GIL serializes the callbacks anyway). The price of "single": a model switch holds the frames while the
# weights load (~0.1 s).
DEFAULT_EXECUTOR = "single"


class CallbackFailures:
    """Callbacks that raised: each distinct failure is logged once with its traceback, repeats are counted.

    One node's broken callback must not take down the other nodes of the process, nor flood its log.
    """

    def __init__(
        self, log: Callable[[str], None], clock: Callable[[], float] = time.monotonic, every_s: float = 10.0
    ) -> None:
        self._log = log
        self._clock = clock
        self._every_s = every_s
        self.counts: Dict[Tuple, int] = {}
        self._said: Dict[Tuple, float] = {}

    def report(self, where: str, exc: BaseException) -> None:
        """Log a callback's exception: the traceback the first time, then a count every ``every_s`` seconds."""
        frames = traceback.extract_tb(exc.__traceback__) if exc.__traceback__ else []
        last = frames[-1] if frames else None
        key = (where, type(exc).__name__, last.filename if last else "", last.lineno if last else 0)
        n = self.counts.get(key, 0) + 1
        self.counts[key] = n
        now = self._clock()
        if n == 1:
            text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)).rstrip()
            self._log(
                f"{where} raised {type(exc).__name__}: {exc}; the other callbacks keep running "
                f"(repeats are counted, not shown again)\n{text}"
            )
            self._said[key] = now
        elif now - self._said[key] >= self._every_s:
            self._log(f"{where} raised {type(exc).__name__} again: {n} times so far")
            self._said[key] = now


def callback_name(node, entity) -> str:
    """Which callback an executor ran: its node, function and topic or service, e.g. for a log line."""
    function = getattr(getattr(entity, "callback", None), "__qualname__", None) or type(entity).__name__
    topic = getattr(entity, "topic_name", None) or getattr(entity, "srv_name", None)
    owner = f"node {node.get_name()}: " if node is not None else ""
    return f"{owner}callback {function}" + (f" ({topic})" if topic else "")


def make_executor(kind: str, threads: int, failures: Optional[CallbackFailures] = None):
    """The one executor of the process (rclpy's single- or multi-threaded one) that survives a failing callback.

    rclpy's executors re-raise a callback's exception out of ``spin``, which ends every node of the process;
    these report it through ``failures`` and keep spinning.
    """
    from rclpy import executors

    if kind not in EXECUTORS:
        raise LaunchError(f"unknown executor {kind!r}; use one of {EXECUTORS}")
    if failures is None:
        import rclpy

        failures = CallbackFailures(rclpy.logging.get_logger(PROCESS_NAME).error)

    if kind == "single":

        class IsolatingSingleThreadedExecutor(executors.SingleThreadedExecutor):
            """Runs one ready callback per spin_once, like its base; an exception is reported, not raised."""

            def spin_once(self, timeout_sec: Optional[float] = None) -> None:
                try:
                    handler, entity, node = self.wait_for_ready_callbacks(timeout_sec=timeout_sec)
                except (executors.ShutdownException, executors.TimeoutException):
                    return
                handler()
                try:
                    handler.result()  # raises the callback's exception (and marks it as seen)
                except Exception as exc:  # noqa: BLE001 - whatever a node's callback raised
                    if self.context.ok():  # else a callback in flight at Ctrl-C could not publish: the stop
                        failures.report(callback_name(node, entity), exc)

        return IsolatingSingleThreadedExecutor()

    class IsolatingMultiThreadedExecutor(executors.MultiThreadedExecutor):
        """The multi-threaded executor re-raises a callback's exception from a later spin_once: report it there.

        rclpy raises only the first finished callback's exception of a spin_once and keeps the others in its
        list of running callbacks (``_futures``, Humble to Kilted), also after ``shutdown``: each then printed
        "The following exception was never retrieved" when it was collected. Every finished one is taken
        here, after each spin_once and at shutdown, and reported once (a task can be in that list twice).
        """

        def spin_once(self, timeout_sec: Optional[float] = None) -> None:
            raised = None
            try:
                super().spin_once(timeout_sec)
            except Exception as exc:  # noqa: BLE001 - any callback's error; the executor itself never raises these
                raised = exc
                if self.context.ok():  # as above
                    failures.report("a callback", exc)
            self._collect(raised)

        def shutdown(self, timeout_sec: Optional[float] = None, **kwargs) -> bool:
            done = super().shutdown(timeout_sec, **kwargs)
            self._collect(closing=True)
            return done

        def _collect(self, reported: Optional[BaseException] = None, closing: bool = False) -> None:
            futures = getattr(self, "_futures", None)
            if futures is None:
                return
            seen = {id(reported)} | {id(e) for e in getattr(reported, "exceptions", ())}  # an ExceptionGroup's
            finished = {id(f): f for f in list(futures) if f.done()}
            for future in finished.values():
                while future in futures:
                    futures.remove(future)
                exc = future.exception()  # retrieved: rclpy no longer complains about it
                # A wait set's entity invalidated by the shutdown itself is the executor closing, not a callback.
                closed = closing and type(exc).__name__ == "InvalidHandle"
                if exc is not None and id(exc) not in seen and self.context.ok() and not closed:
                    failures.report("a callback", exc)

    return IsolatingMultiThreadedExecutor(num_threads=threads)
