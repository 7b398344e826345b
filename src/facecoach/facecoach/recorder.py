"""Recording topics of a running graph into MCAP bags (a stand-in for `ros2 bag record`)."""

from __future__ import annotations

import threading
from typing import Dict, List, Sequence

from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy

from .bags import IMAGE_TYPES, BagWriter, ros_class


class Recorder:
    """Records topics as raw CDR into MCAP bags (a stand-in for `ros2 bag record`).

    With ``split_bytes`` the recording is a series of complete bags ``OUT_0000``, ``OUT_0001``...:
    each part is closed (readable) when it reaches the size, so even a killed recorder loses at
    most the part it was writing. Without it, OUT is one bag, closed on Ctrl-C or SIGTERM.
    """

    def __init__(self, node: Node, out, topics: Sequence[str], split_bytes: int = 0) -> None:
        self.node, self.topics, self.out, self.split_bytes = node, list(topics), str(out), split_bytes
        self.parts: List[str] = []
        self.counts: Dict[str, int] = {t: 0 for t in self.topics}
        self._lock = threading.Lock()
        self._subscribed: Dict[str, str] = {}
        self._bytes = 0
        self.writer = self._open_part()

    def _open_part(self) -> BagWriter:
        path = f"{self.out}_{len(self.parts):04d}" if self.split_bytes else self.out
        self.parts.append(path)
        self._bytes = 0
        return BagWriter(path)

    def subscribe_available(self) -> List[str]:
        """Subscribe to the wanted topics that have appeared in the graph; return those still missing."""
        types = dict(self.node.get_topic_names_and_types())
        for topic in self.topics:
            if topic not in self._subscribed and topic in types:
                msgtype = types[topic][0]
                best_effort = msgtype in IMAGE_TYPES  # matches both best-effort and reliable publishers
                qos = QoSProfile(
                    depth=50, reliability=ReliabilityPolicy.BEST_EFFORT if best_effort else ReliabilityPolicy.RELIABLE
                )
                self.node.create_subscription(
                    ros_class(msgtype), topic, lambda raw, t=topic, m=msgtype: self._write(t, m, raw), qos, raw=True
                )
                self._subscribed[topic] = msgtype
        return [t for t in self.topics if t not in self._subscribed]

    def _write(self, topic: str, msgtype: str, raw: bytes) -> None:
        with self._lock:
            if self.split_bytes and self._bytes >= self.split_bytes:
                self.writer.close()
                self.writer = self._open_part()
            self.writer.write(topic, msgtype, self.node.get_clock().now().nanoseconds, raw)
            self._bytes += len(raw)
            self.counts[topic] += 1

    def close(self) -> None:
        """Finish the current bag."""
        with self._lock:
            self.writer.close()
