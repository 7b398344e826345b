"""Writing rosbag2 bags that every ROS 2 distribution plays (plain Python, no rclpy).

``BagWriter`` writes metadata version 5 (see ``schema``), sqlite3 storage by default, MCAP on request. The
sqlite3 file has the topics/messages columns Humble's plugin reads plus the message definitions Iron and later
add, so rosbags' AnyReader can decode it without a typestore. A writer survives being killed or a full disk:
metadata.yaml is written at the start, whenever a topic appears and every few seconds (atomically); sqlite3
commits, MCAP closes a chunk, every ``commit_s``. A full disk raises BagFullError and leaves every committed
message readable.
"""

import os
import sqlite3
import time
from pathlib import Path
from typing import Callable, Dict, Optional, Sequence

import yaml

from .errors import BagError, BagFullError
from .schema import DEFAULT_STORAGE, METADATA_VERSION, STORAGE_SUFFIX, STORAGES, qos_profiles_yaml, typestore
from .storage import McapStorage, Sqlite3Storage, write_error


class BagWriter:
    """Writes raw CDR messages into a new rosbag2 bag (metadata version 5; sqlite3 or MCAP).

    ``qos`` of a topic (``qos_profile`` dicts, at its first message) is what `ros2 bag play` will offer.
    """

    def __init__(
        self,
        path,
        storage: str = DEFAULT_STORAGE,
        commit_s: float = 0.5,
        metadata_s: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if storage not in STORAGES:
            raise BagError(f"storage {storage!r}: use one of {list(STORAGES)}")
        self.path = Path(path)
        if self.path.exists():
            raise BagError(f"{self.path}: already exists; pick a new output folder")
        try:
            self.path.mkdir(parents=True)
        except OSError as exc:
            raise BagError(f"{self.path}: cannot create the bag folder ({exc.strerror})") from None
        self.storage_id = storage
        self.file = self.path / f"{self.path.name}_0{STORAGE_SUFFIX[storage]}"
        self.commit_s, self.metadata_s, self._clock = commit_s, metadata_s, clock
        self._ts = None
        self._topics: Dict[str, dict] = {}  # topic -> {id, type, qos}
        self._types: set = set()
        self._pending: Dict[str, int] = {}  # written since the last commit
        self._counts: Dict[str, int] = {}  # committed
        self._first_ns: Optional[int] = None
        self._last_ns: Optional[int] = None
        self._committed_span = (None, None)
        self._last_commit = self._last_metadata = clock()
        self.failed: Optional[str] = None
        self.closed = False
        try:
            self._storage = Sqlite3Storage(self.file) if storage == "sqlite3" else McapStorage(self.file)
            self._write_metadata()
        except (OSError, sqlite3.Error) as exc:
            raise BagFullError(f"{self.path}: cannot start the bag: {write_error(exc)}") from None

    @property
    def message_count(self) -> int:
        """Messages committed to the storage file so far."""
        return sum(self._counts.values())

    def write(self, topic: str, msgtype: str, t_ns: int, raw: bytes, qos: Optional[Sequence[dict]] = None) -> None:
        """Append one message; commits (and rewrites metadata.yaml) when due. BagFullError on a full disk."""
        if self.failed:
            raise BagFullError(self.failed)
        try:
            info = self._topics.get(topic)
            if info is None:
                info = self._add_topic(topic, msgtype, qos)
            elif info["type"] != msgtype:
                raise BagError(f"{topic}: type {msgtype} after {info['type']}; one type per topic")
            self._storage.write(info["id"], t_ns, raw)
        except (OSError, sqlite3.Error) as exc:
            self._fail(exc)
        self._pending[topic] = self._pending.get(topic, 0) + 1
        self._first_ns = t_ns if self._first_ns is None else min(self._first_ns, t_ns)
        self._last_ns = t_ns if self._last_ns is None else max(self._last_ns, t_ns)
        self.sync(force=False)

    def _add_topic(self, topic: str, msgtype: str, qos: Optional[Sequence[dict]]) -> dict:
        msgdef, digest = self._definition(topic, msgtype)
        info = {"id": len(self._topics) + 1, "type": msgtype, "qos": qos_profiles_yaml(qos or [])}
        self._storage.add_topic(info["id"], topic, msgtype, info["qos"], msgdef, digest, msgtype not in self._types)
        self._types.add(msgtype)
        self._topics[topic] = info
        self._counts.setdefault(topic, 0)
        self.sync(force=True)  # a new topic is in metadata.yaml before its first message is
        return info

    def _definition(self, topic: str, msgtype: str):
        """(message definition, type hash): from rosbags, else (the device) from the installed .msg files."""
        if self._ts is None:
            try:
                self._ts = typestore()
            except ImportError:
                self._ts = False
        if self._ts is False:
            from .msgdef import definition

            try:
                return definition(msgtype)
            except (LookupError, OSError, ValueError) as exc:
                raise BagError(f"{topic}: no definition of message type {msgtype} ({exc})") from None
        if msgtype not in self._ts.types:
            raise BagError(f"{topic}: unknown message type {msgtype}")
        msgdef, _ = self._ts.generate_msgdef(msgtype, ros_version=2)
        return msgdef, self._ts.hash_rihs01(msgtype)

    def sync(self, force: bool = True) -> None:
        """Commit what was written (when ``commit_s`` passed, or now with ``force``); metadata when due."""
        if self.failed or self.closed:
            return
        now = self._clock()
        if not force and now - self._last_commit < self.commit_s:
            return
        try:
            self._storage.commit()
        except (OSError, sqlite3.Error) as exc:
            self._fail(exc)
        for topic, n in self._pending.items():
            self._counts[topic] = self._counts.get(topic, 0) + n
        self._pending.clear()
        self._committed_span = (self._first_ns, self._last_ns)
        self._last_commit = now
        if force or now - self._last_metadata >= self.metadata_s:
            self._write_metadata()

    def _fail(self, exc: BaseException) -> None:
        """Stop writing for good: keep what was committed, say so in metadata.yaml if the disk lets us."""
        self._storage.rollback()
        self._pending.clear()
        self.failed = (
            f"{self.path}: recording stopped: {write_error(exc)}; the bag keeps the "
            f"{self.message_count} messages written before it and stays readable"
        )
        try:
            self._write_metadata()
        except OSError:
            pass  # the previous metadata.yaml stays: readers take the counts from the storage file
        raise BagFullError(self.failed) from None

    def metadata(self) -> dict:
        """metadata.yaml's content for what is committed: version 5, every field Humble's reader requires."""
        first, last = self._committed_span
        count = self.message_count
        start = first if count and first is not None else 0
        duration = (last - first) if count and first is not None and last is not None else 0
        return {
            "rosbag2_bagfile_information": {
                "version": METADATA_VERSION,
                "storage_identifier": self.storage_id,
                "duration": {"nanoseconds": duration},
                "starting_time": {"nanoseconds_since_epoch": start},
                "message_count": count,
                "topics_with_message_count": [
                    {
                        "topic_metadata": {
                            "name": topic,
                            "type": info["type"],
                            "serialization_format": "cdr",
                            "offered_qos_profiles": info["qos"],
                        },
                        "message_count": self._counts.get(topic, 0),
                    }
                    for topic, info in self._topics.items()
                ],
                "compression_format": "",
                "compression_mode": "",
                "relative_file_paths": [self.file.name],
                "files": [
                    {
                        "path": self.file.name,
                        "starting_time": {"nanoseconds_since_epoch": start},
                        "duration": {"nanoseconds": duration},
                        "message_count": count,
                    }
                ],
            }
        }

    def _write_metadata(self) -> None:
        """Replace metadata.yaml atomically: a failed write leaves the previous one."""
        text = yaml.safe_dump(self.metadata(), default_flow_style=False, sort_keys=False, width=1 << 20)
        tmp = self.path / "metadata.yaml.tmp"
        try:
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, self.path / "metadata.yaml")
        except OSError:
            try:
                tmp.unlink()
            except OSError:
                pass
            raise
        self._last_metadata = self._clock()

    def close(self) -> None:
        """Commit, write the final metadata.yaml and close the storage file (safe to call twice)."""
        if self.closed:
            return
        if self.failed:
            self.closed = True
            self._storage.abort()
            return
        try:
            self.sync(force=True)
            self._storage.close(
                yaml.safe_dump(self.metadata()["rosbag2_bagfile_information"], default_flow_style=False)
            )
            self.closed = True
        except BagFullError:
            self.closed = True
            raise
        except (OSError, sqlite3.Error) as exc:
            self.closed = True
            self._storage.abort()
            raise BagFullError(
                f"{self.path}: closing the bag failed: {write_error(exc)}; its {self.message_count} "
                "committed messages stay readable"
            ) from None
