"""The first lines of every FaceCoach program: Ctrl-C is quiet from the start (stdlib only; no rclpy).

A console script imports its node module before calling ``main``, and the classifier's module imports torch,
which takes seconds: a SIGINT then (a terminal's Ctrl-C, or ``ros2 launch``/``facecoach run`` stopping the
graph) would end the process with a KeyboardInterrupt traceback from deep inside the import. The console
scripts therefore point at small entry functions (each package's ``entry.py``) that call ``run_program``
before anything heavy is imported.
"""

import ctypes
import faulthandler
import importlib
import os
import signal
import sys
import time
from typing import Any, Callable

from .opencv_limits import bound_decoder
from .stopping import LINGER_S, NODE_SIGNALS, building, linger_for_launch, take_stop_signals


def _line(name: str) -> bytes:
    return f"[{name}] stopped while starting (Ctrl-C)\n".encode()


def _stop_at_once(name: str) -> Callable[[int, Any], None]:
    def handler(signum: int, frame: Any) -> None:
        # Nothing to clean up yet (no rclpy context, no node): leave without unwinding a half-done import, once
        # launch's own SIGINT has come or LINGER_S passed (stopping.linger_for_launch says why).
        os.write(2, _line(name))
        signal.signal(signal.SIGINT, lambda *_: os._exit(0))
        time.sleep(LINGER_S)
        os._exit(0)

    return handler


def run_program(name: str, target: str) -> None:
    """Import ``target`` (``'module:function'``) and run that function as this process's main, quiet on Ctrl-C.

    While the module imports, a SIGINT ends the process at once with one line and exit code 0, what a node
    does on Ctrl-C once it runs. Then the stop signals are kept (``stopping.take_stop_signals``): ``main``
    builds its nodes (a stop ends it at its next import, ``stopping.building``), spins until a stop came and
    tears down in order; a KeyboardInterrupt that escapes ``main`` ends it with the same line. Once ``main``
    is over, further stop signals are ignored and the process ends (``_leave``).
    A SIGINT that the launcher held back while this interpreter started (it starts its children with SIGINT
    blocked) arrives as soon as the handler is in place. An inherited "ignore SIGINT" (``cmd &`` in a script)
    is replaced too: a node process stops on SIGINT, wherever it was started from. OpenCV's decoder limits are
    set first, before a module imports cv2 (``opencv_limits``).
    """
    faulthandler.enable()  # a crash in native code (torch, DDS) leaves the Python stacks in the node's log
    faulthandler.register(signal.SIGUSR1, all_threads=True)  # `kill -USR1 PID`: where a stuck node's threads are
    bound_decoder()
    signal.signal(signal.SIGINT, _stop_at_once(name))
    signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGINT])
    module, function = target.split(":")
    main = getattr(importlib.import_module(module), function)
    take_stop_signals()
    try:
        with building():
            pass  # a stop that came while the module imported: now, not after main's first seconds
        code = main()
    except KeyboardInterrupt:
        sys.stderr.write(_line(name).decode())
        code = 0
    except SystemExit as exc:
        code = exc.code
    finally:
        linger_for_launch()
        # What is left of the process must not meet a late Ctrl-C either.
        for s in NODE_SIGNALS:
            if signal.getsignal(s) is not signal.SIG_IGN:
                signal.signal(s, signal.SIG_IGN)
    _leave(code)


def _leave(code: Any) -> None:
    """End the process with ``code`` (as ``sys.exit`` takes it) once ``main`` has torn its nodes down in order.

    Python's own finalization is skipped (``os._exit``): by then the nodes, the rclpy context and the files are
    closed, and what finalization would do is tear down native libraries (torch's thread pools, Fast DDS's
    static objects and its shared-memory watchdog thread) in an order nobody controls: a classifier died once
    with SIGSEGV after a clean stop (launch: "process has died", exit code -11), most likely there. Python's
    and C's output buffers are flushed first.
    """
    if code is None:
        code = 0
    elif not isinstance(code, int):
        sys.stderr.write(f"{code}\n")
        code = 1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed or broken pipe: nothing more can be said
            pass
    ctypes.CDLL(None).fflush(None)  # rcutils' console output goes through C's stdio
    os._exit(code)
