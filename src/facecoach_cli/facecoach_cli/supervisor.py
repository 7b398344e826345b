"""Watching the graph's children: a death is reported at once and the child started again, or given up on.

One thread looks at every child every ``POLL_S``. When to restart is ``supervision.RestartPolicy``'s call
(a short, growing delay; never after too many quick deaths in a row, nor after a configuration error, exit
status 2); how a death is told is ``supervision.ProcessEvent``'s (which, how it ended, the last lines of its log).
"""

import sys
import threading
import time
from typing import Callable, Dict, List, Optional

from .children import Child
from .supervision import EXIT_CONFIG, ProcessEvent, file_tail

POLL_S = 0.05


class Supervisor:
    """The thread that watches ``children`` (name -> Child) and restarts them; ``on_event`` hears each event.

    ``lock`` guards the children's state (the launcher's queries take it too); once ``stopping`` is set
    nothing is restarted any more.
    """

    def __init__(self, children: Dict[str, Child], restart: bool, on_event: Callable[[ProcessEvent], None]) -> None:
        self.children = children
        self.restart = restart
        self.on_event = on_event
        self.events: List[ProcessEvent] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()  # no more restarts
        self._done = threading.Event()  # the thread may end (after the children were reaped)
        self._thread: Optional[threading.Thread] = None

    def start(self) -> None:
        """Start watching (a daemon thread)."""
        self._thread = threading.Thread(target=self._watch, name="facecoach-supervisor", daemon=True)
        self._thread.start()

    def finish(self, timeout: float = 1.0) -> None:
        """End the thread (call it once the children were stopped)."""
        self._done.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _watch(self) -> None:
        while not self._done.wait(POLL_S):
            events = []
            with self.lock:
                if self.stopping.is_set():
                    continue
                for child in self.children.values():
                    try:
                        event = self.check(child, time.monotonic())
                    except Exception as exc:  # noqa: BLE001 - e.g. a restart that cannot fork: keep watching the rest
                        child.gave_up, child.due = True, None
                        pid = child.popen.pid if child.popen else 0
                        event = ProcessEvent(
                            "gave_up", child.name, pid, child.last_exit, reason=f"cannot restart it: {exc}"
                        )
                    if event is not None:
                        events.append(event)
                        self.events.append(event)
            for event in events:
                try:
                    self.on_event(event)
                except Exception as exc:  # noqa: BLE001 - a broken report must not stop the supervision
                    print(f"[facecoach] cannot report {event.line()!r}: {exc}", file=sys.stderr)

    def check(self, child: Child, now: float) -> Optional[ProcessEvent]:
        """What happened to one child since the last look, and what was done about it (call it with ``lock`` held)."""
        if child.gave_up or child.popen is None:
            return None
        if child.due is not None:
            if now < child.due:
                return None
            child.restarts += 1
            child.spawn()
            return ProcessEvent("restarted", child.name, child.popen.pid, restarts=child.restarts, log=child.where)
        code = child.popen.poll()
        if code is None:
            return None
        child.last_exit = code
        ran = now - child.started
        if child.reader is not None:
            child.reader.join(0.3)  # its last lines (a grandchild such as aplay may hold the pipe open)
        tail = file_tail(child.log) if child.log is not None else tuple(child.tail)
        delay, reason = None, ""
        if not self.restart:
            reason = "restarts are off"
        elif code == EXIT_CONFIG:
            reason = "a configuration error (exit code 2): starting it again would not help"
        else:
            delay = child.policy.died(ran)
            if delay is None:
                reason = f"it died {child.policy.quick} times in a row within {child.policy.quick_s:g} s of its start"
        kind = "died" if delay is not None else "gave_up"
        child.due = now + delay if delay is not None else None
        child.gave_up = delay is None
        return ProcessEvent(
            kind, child.name, child.popen.pid, code, ran, delay, child.restarts, reason, child.where, tail
        )
