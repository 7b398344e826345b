"""rosbag2 bags (MCAP or sqlite3) through the `rosbags` library: reading, writing, type registration.

Plain Python (no rclpy). Raw CDR bytes from a bag are exactly what rclpy publishes and receives
with ``raw=True``, so replay and record need no per-field conversion.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, List, Optional, Sequence

IMAGE_TYPES = ("sensor_msgs/msg/Image", "sensor_msgs/msg/CompressedImage")
FACECOACH_MSGS = ("Face", "Emotion", "Feedback")


class BagError(ValueError):
    """A bag is missing, unreadable, or lacks what was asked for."""


@dataclass(frozen=True)
class Topic:
    """A topic of a bag."""

    name: str
    msgtype: str
    count: int


def typestore():
    """A rosbags typestore with the ROS 2 standard types and facecoach_msgs registered."""
    from rosbags.typesys import Stores, get_types_from_msg, get_typestore

    ts = get_typestore(Stores.ROS2_KILTED)
    types = {}
    for name in FACECOACH_MSGS:
        types.update(get_types_from_msg(_msg_file(name).read_text(), f"facecoach_msgs/msg/{name}"))
    ts.register(types)
    return ts


def _msg_file(name: str) -> Path:
    """A facecoach_msgs definition as installed: share/facecoach_msgs/msg/<name>.msg."""
    from facecoach_common.paths import resource

    return resource("facecoach_msgs", "msg", f"{name}.msg")


def ros_class(msgtype: str):
    """The rclpy message class of a type string such as ``sensor_msgs/msg/Image``."""
    pkg, kind, name = msgtype.split("/")
    return getattr(importlib.import_module(f"{pkg}.{kind}"), name)


def open_reader(path):
    """Open a bag folder (or its .mcap/.db3 file) for reading, with a clear error when it cannot be read."""
    from rosbags.rosbag2 import Reader

    path = Path(path)
    if path.is_file() and path.suffix in (".mcap", ".db3"):
        path = path.parent
    if not path.exists():
        raise BagError(f"{path}: no such bag")
    try:
        reader = Reader(path)
        reader.open()
    except Exception as exc:  # rosbags raises ReaderError and others for corrupt/missing metadata
        raise BagError(f"{path}: unreadable bag ({exc})") from exc
    return reader


def topics(path) -> List[Topic]:
    """The topics of a bag with their types and message counts."""
    reader = open_reader(path)
    try:
        return [Topic(c.topic, c.msgtype, c.msgcount) for c in reader.connections]
    finally:
        reader.close()


def image_topic(path, wanted: Optional[str] = None) -> Topic:
    """The image topic to use: ``wanted``, else the bag's only Image/CompressedImage topic."""
    found = [t for t in topics(path) if t.msgtype in IMAGE_TYPES]
    if wanted:
        match = [t for t in found if t.name == wanted]
        if not match:
            raise BagError(f"{path}: no image topic {wanted!r}; image topics: {[t.name for t in found]}")
        return match[0]
    if len(found) != 1:
        raise BagError(f"{path}: {len(found)} image topics {[t.name for t in found]}; pick one with --topic")
    return found[0]


def messages(path, topic_names: Optional[Sequence[str]] = None) -> Iterator[tuple]:
    """(topic, msgtype, log_time_ns, raw CDR bytes) of a bag in time order; a corrupt chunk raises BagError."""
    reader = open_reader(path)
    try:
        conns = [c for c in reader.connections if not topic_names or c.topic in topic_names]
        if topic_names:
            missing = set(topic_names) - {c.topic for c in conns}
            if missing:
                raise BagError(f"{path}: topics not in the bag: {sorted(missing)}")
        try:
            for conn, t_ns, raw in reader.messages(connections=conns):
                yield conn.topic, conn.msgtype, t_ns, bytes(raw)
        except BagError:
            raise
        except Exception as exc:
            raise BagError(f"{path}: bag is truncated or corrupt ({exc})") from exc
    finally:
        reader.close()


class BagWriter:
    """An MCAP rosbag2 writer taking raw CDR messages (readable by `ros2 bag` and Foxglove)."""

    def __init__(self, path, max_bytes: int = 0) -> None:
        from rosbags.rosbag2 import StoragePlugin, Writer

        self.path = Path(path)
        if self.path.exists():
            raise BagError(f"{self.path}: already exists; pick a new output folder")
        self._ts = typestore()
        self._writer = Writer(self.path, version=9, storage_plugin=StoragePlugin.MCAP)
        self._writer.open()
        self._conns = {}

    def write(self, topic: str, msgtype: str, t_ns: int, raw: bytes) -> None:
        """Append one message."""
        conn = self._conns.get(topic)
        if conn is None:
            conn = self._conns[topic] = self._writer.add_connection(topic, msgtype, typestore=self._ts)
        self._writer.write(conn, t_ns, raw)

    def close(self) -> None:
        """Finish the bag (writes metadata.yaml and the MCAP summary)."""
        self._writer.close()
