"""The first lines of every FaceCoach program: Ctrl-C is quiet from the start (stdlib only; no rclpy).

A console script imports its node module before calling ``main``, and the classifier's module imports torch,
which takes seconds: a SIGINT then (a terminal's Ctrl-C, or ``ros2 launch``/``facecoach run`` stopping the
graph) would end the process with a KeyboardInterrupt traceback from deep inside the import. The console
scripts therefore point at small entry functions (each package's ``entry.py``) that call ``run_program``
before anything heavy is imported.
"""

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


def run_program(name: str, target: str) -> Any:
    """Import ``target`` (``'module:function'``) and run that function as this process's main, quiet on Ctrl-C.

    While the module imports, a SIGINT ends the process at once with one line and exit code 0, what a node
    does on Ctrl-C once it runs. Then the stop signals are kept (``stopping.take_stop_signals``): ``main``
    builds its nodes (a stop ends it at its next import, ``stopping.building``), spins until a stop came and
    tears down in order; a KeyboardInterrupt that escapes ``main`` ends it with the same line. Once ``main``
    is over, further stop signals are ignored while Python finishes.
    A SIGINT that the launcher held back while this interpreter started (it starts its children with SIGINT
    blocked) arrives as soon as the handler is in place. An inherited "ignore SIGINT" (``cmd &`` in a script)
    is replaced too: a node process stops on SIGINT, wherever it was started from. OpenCV's decoder limits are
    set first, before a module imports cv2 (``opencv_limits``).
    """
    bound_decoder()
    signal.signal(signal.SIGINT, _stop_at_once(name))
    signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGINT])
    module, function = target.split(":")
    main = getattr(importlib.import_module(module), function)
    take_stop_signals()
    try:
        with building():
            pass  # a stop that came while the module imported: now, not after main's first seconds
        return main()
    except KeyboardInterrupt:
        sys.stderr.write(_line(name).decode())
        return 0
    finally:
        linger_for_launch()
        # Python's own clean-up (threads joined, modules torn down) must not meet a late Ctrl-C either.
        for s in NODE_SIGNALS:
            if signal.getsignal(s) is not signal.SIG_IGN:
                signal.signal(s, signal.SIG_IGN)
