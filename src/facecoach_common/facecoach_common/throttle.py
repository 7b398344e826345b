"""Repeated problems said once per period *per kind*, so one bad stream cannot hide a different one (no ROS)."""

import time
from typing import Callable, Dict, Hashable


class PerKindThrottle:
    """``due(kind)`` is True at most once every ``period_s`` for each kind of problem (e.g. 'encoding', 'step')."""

    def __init__(self, period_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.period_s = period_s
        self._clock = clock
        self._last: Dict[Hashable, float] = {}

    def due(self, kind: Hashable) -> bool:
        """True when a problem of this kind has not been said within the period (and remember it is said now)."""
        now = self._clock()
        if now - self._last.get(kind, float("-inf")) < self.period_s:
            return False
        self._last[kind] = now
        return True
