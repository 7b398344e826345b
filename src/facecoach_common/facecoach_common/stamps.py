"""Message stamps as numbers, and the memory of recently seen frames (no ROS: any object with sec/nanosec)."""

from collections import deque
from typing import Any, Deque, Hashable


def stamp_to_ns(stamp: Any) -> int:
    """A builtin_interfaces/Time (or anything with ``sec`` and ``nanosec``) in integer nanoseconds."""
    return int(stamp.sec) * 10**9 + int(stamp.nanosec)


def stamp_seconds(stamp_ns: int) -> float:
    """Nanoseconds in seconds, computed as sec + nanosec * 1e-9 like every node does, so all agree bit for bit."""
    sec, nanosec = divmod(int(stamp_ns), 10**9)
    return sec + nanosec * 1e-9


class RecentFrames:
    """Remembers the last ``size`` (stamp, frame_id) keys: the same frame arriving twice is dropped.

    A camera that publishes both image_raw and image_raw/compressed gives every frame twice to a detector
    subscribed to both. A zero stamp (an unstamped source) is never a duplicate.
    """

    SIZE = 16

    def __init__(self, size: int = SIZE) -> None:
        self._recent: Deque[Hashable] = deque(maxlen=size)

    def seen(self, stamp_ns: int, frame_id: str) -> bool:
        """True when this frame was among the last ones (and so must be skipped); else remember it."""
        if not stamp_ns:
            return False
        key = (int(stamp_ns), frame_id)
        if key in self._recent:
            return True
        self._recent.append(key)
        return False

    def clear(self) -> None:
        """Forget every frame (a new stream)."""
        self._recent.clear()
