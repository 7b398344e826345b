"""Recording topics of a running graph into rosbag2 bags every distribution plays (`ros2 bag record` stand-in)."""

import threading
from typing import Dict, List, Optional, Sequence

from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy

from .errors import BagFullError
from .schema import DEFAULT_STORAGE, IMAGE_TYPES, INFINITE, ros_class
from .writer import BagWriter


def _duration(d) -> dict:
    """An rclpy Duration as rosbag2 metadata writes it (Humble's sentinel for 'infinite')."""
    ns = d.nanoseconds
    if ns <= 0 or ns >= INFINITE["sec"] * 10**9:
        return dict(INFINITE)
    return {"sec": ns // 10**9, "nsec": ns % 10**9}


def offered_qos(node: Node, topic: str) -> List[dict]:
    """The QoS profiles the topic's publishers offer, as the bag stores them (what `ros2 bag play` offers)."""
    out = []
    for info in node.get_publishers_info_by_topic(topic):
        q = info.qos_profile
        out.append(
            {
                "history": int(q.history.value),
                "depth": int(q.depth),
                "reliability": int(q.reliability.value),
                "durability": int(q.durability.value),
                "deadline": _duration(q.deadline),
                "lifespan": _duration(q.lifespan),
                "liveliness": int(q.liveliness.value),
                "liveliness_lease_duration": _duration(q.liveliness_lease_duration),
                "avoid_ros_namespace_conventions": bool(q.avoid_ros_namespace_conventions),
            }
        )
    return out


class Recorder:
    """Records topics as raw CDR into a bag (metadata version 5; sqlite3 by default, or MCAP).

    What was written survives a crash: the writer commits every half second and keeps metadata.yaml
    current. With ``split_bytes`` the recording is a series of bags ``OUT_0000``, ``OUT_0001``...,
    each closed when it reaches the size. A full disk stops the recording: ``error`` says so, and
    the bag keeps every message committed before it.
    """

    def __init__(
        self, node: Node, out, topics: Sequence[str], split_bytes: int = 0, storage: str = DEFAULT_STORAGE
    ) -> None:
        self.node, self.topics, self.out, self.split_bytes = node, list(topics), str(out), split_bytes
        self.storage = storage
        self.parts: List[str] = []
        self.counts: Dict[str, int] = {t: 0 for t in self.topics}
        self.error: Optional[str] = None
        self._lock = threading.Lock()
        self._subscribed: Dict[str, str] = {}
        self._qos: Dict[str, List[dict]] = {}
        self._bytes = 0
        self.writer = self._open_part()

    def _open_part(self) -> BagWriter:
        path = f"{self.out}_{len(self.parts):04d}" if self.split_bytes else self.out
        writer = BagWriter(path, storage=self.storage)
        self.parts.append(path)
        self._bytes = 0
        return writer

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
                self._qos[topic] = offered_qos(self.node, topic)
                self.node.create_subscription(
                    ros_class(msgtype), topic, lambda raw, t=topic, m=msgtype: self._write(t, m, raw), qos, raw=True
                )
                self._subscribed[topic] = msgtype
        return [t for t in self.topics if t not in self._subscribed]

    def _write(self, topic: str, msgtype: str, raw: bytes) -> None:
        with self._lock:
            if self.error:
                return
            try:
                if self.split_bytes and self._bytes >= self.split_bytes:
                    self.writer.close()
                    self.writer = self._open_part()
                self.writer.write(topic, msgtype, self.node.get_clock().now().nanoseconds, raw, self._qos.get(topic))
            except BagFullError as exc:
                self.error = str(exc)
                return
            self._bytes += len(raw)
            self.counts[topic] += 1

    def sync(self) -> None:
        """Commit what arrived since the last commit (call it now and then: messages may stop coming)."""
        with self._lock:
            if self.error:
                return
            try:
                self.writer.sync(force=False)
            except BagFullError as exc:
                self.error = str(exc)

    def close(self) -> None:
        """Finish the current bag."""
        with self._lock:
            try:
                self.writer.close()
            except BagFullError as exc:
                self.error = self.error or str(exc)
