"""Frames of a recorded interview, read once, and the numbers the bench reports about lists of times."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Sequence, Tuple

import numpy as np


@dataclass(frozen=True)
class Frame:
    """One recorded image message: its header stamp, log time and raw CDR bytes, and the message itself."""

    stamp_ns: int
    t_ns: int
    raw: bytes
    msg: Any


def load_frames(bag, limit: int = 0, topic: str | None = None) -> Tuple[str, List[Frame]]:
    """The image topic of a bag and its first ``limit`` frames (0 = all), deserialized once."""
    from rclpy.serialization import deserialize_message

    from facecoach_bag.reader import image_topic, messages
    from facecoach_bag.schema import ros_class

    t = image_topic(bag, topic)
    cls = ros_class(t.msgtype)
    frames = []
    for _, _, t_ns, raw in messages(bag, [t.name]):
        msg = deserialize_message(raw, cls)
        frames.append(Frame(msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec, t_ns, raw, msg))
        if limit and len(frames) >= limit:
            break
    return t.name, frames


def frame_rate(frames: Sequence[Frame]) -> float:
    """Frames per second of a recording, from its log times."""
    if len(frames) < 2 or frames[-1].t_ns <= frames[0].t_ns:
        return 0.0
    return (len(frames) - 1) / ((frames[-1].t_ns - frames[0].t_ns) / 1e9)


def summary(values_ms: Sequence[float]) -> Dict[str, float | None]:
    """Median and p99 of a list of milliseconds (None when empty)."""
    if not values_ms:
        return {"median": None, "p99": None, "n": 0}
    a = np.asarray(values_ms, dtype=float)
    return {"median": round(float(np.median(a)), 3), "p99": round(float(np.percentile(a, 99)), 3), "n": len(a)}
