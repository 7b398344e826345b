"""rosbag2 bags that every ROS 2 distribution plays: writing, reading, recovering (plain Python, no rclpy).

Writing (``BagWriter``): metadata version 5, the version ROS 2 Humble writes and the newest it reads
(``offered_qos_profiles`` a YAML string; version 9 made it a list, which Humble's reader rejects);
sqlite3 storage by default (Humble's default; MCAP needs ros-humble-rosbag2-storage-mcap there),
MCAP on request. The sqlite3 file has the topics/messages columns Humble's plugin reads plus the
message definitions Iron and later add, so rosbags' AnyReader can decode it without a typestore.
A writer survives being killed or a full disk: metadata.yaml is written at the start, whenever a
topic appears and every few seconds (atomically); sqlite3 commits, MCAP closes a chunk, every
``commit_s``. A full disk raises BagFullError and leaves every committed message readable.

Reading: rosbags reads metadata versions 5-9 in sqlite3 and MCAP. When metadata.yaml is missing,
unreadable or behind its storage (a recorder that was killed), the storage file is read instead;
when the storage itself is cut short or corrupt, every readable message is yielded and then
PartialBag (a BagError) says what was lost. Raw CDR bytes are exactly what rclpy publishes and
receives with ``raw=True``, so replay and record need no per-field conversion.
"""

from __future__ import annotations

import errno
import importlib
import logging
import os
import shutil
import sqlite3
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence

import yaml

IMAGE_TYPES = ("sensor_msgs/msg/Image", "sensor_msgs/msg/CompressedImage")
FACECOACH_MSGS = ("Face", "Emotion", "Feedback")
METADATA_VERSION = 5  # Humble's; see the module docstring
STORAGES = ("sqlite3", "mcap")
DEFAULT_STORAGE = "sqlite3"
STORAGE_SUFFIX = {"sqlite3": ".db3", "mcap": ".mcap"}
INFINITE = {"sec": 2147483647, "nsec": 4294967295}  # how Humble writes an infinite QoS duration

log = logging.getLogger("facecoach.bags")


class BagError(ValueError):
    """A bag is missing, unreadable, or lacks what was asked for."""


class PartialBag(BagError):
    """Raised after the readable part of a bag was read: the rest is cut off or corrupt."""


class BagFullError(BagError):
    """The disk (or a file size limit) is full: writing stopped, what was committed stays readable."""


@dataclass(frozen=True)
class Topic:
    """A topic of a bag."""

    name: str
    msgtype: str
    count: int


def qos_profile(
    reliable: bool = True, transient_local: bool = False, depth: int = 10, keep_all: bool = False
) -> Dict[str, Any]:
    """One offered QoS profile as rosbag2 metadata stores it (rmw enum values, as Humble writes them)."""
    return {
        "history": 2 if keep_all else 1,  # rmw: 1 keep last, 2 keep all
        "depth": depth,
        "reliability": 1 if reliable else 2,  # 1 reliable, 2 best effort
        "durability": 1 if transient_local else 2,  # 1 transient local, 2 volatile
        "deadline": dict(INFINITE),
        "lifespan": dict(INFINITE),
        "liveliness": 1,  # automatic
        "liveliness_lease_duration": dict(INFINITE),
        "avoid_ros_namespace_conventions": False,
    }


DEFAULT_QOS = qos_profile()  # what `ros2 bag play` then offers: reliable, volatile, depth 10


def qos_profiles_yaml(profiles: Sequence[Dict[str, Any]]) -> str:
    """``offered_qos_profiles`` of metadata versions 4-8: a YAML list dumped into one string.

    Never empty: Humble's player parses the string as a list of profiles and fails on ''.
    """
    return yaml.safe_dump(list(profiles) or [DEFAULT_QOS], default_flow_style=False, sort_keys=False).strip()


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


# ---------------------------------------------------------------------------------------------- writing


def _write_error(exc: BaseException) -> str:
    """Why a write failed, in words."""
    name = getattr(exc, "sqlite_errorname", "")
    if name == "SQLITE_FULL" or getattr(exc, "errno", None) == errno.ENOSPC:
        return "no space left on device"
    if getattr(exc, "errno", None) == errno.EFBIG:
        return "file size limit reached"
    if name.startswith("SQLITE_IOERR"):
        return f"write failed ({exc}: the disk is full or a file size limit was reached)"
    return f"write failed ({exc})"


class _Sqlite3Storage:
    """A rosbag2 sqlite3 file: Humble's topics/messages tables, plus Iron's message definitions."""

    SCHEMA = """
    CREATE TABLE schema(schema_version INTEGER PRIMARY KEY, ros_distro TEXT NOT NULL);
    CREATE TABLE metadata(id INTEGER PRIMARY KEY, metadata_version INTEGER NOT NULL, metadata TEXT NOT NULL);
    CREATE TABLE topics(id INTEGER PRIMARY KEY, name TEXT NOT NULL, type TEXT NOT NULL,
      serialization_format TEXT NOT NULL, offered_qos_profiles TEXT NOT NULL, type_description_hash TEXT NOT NULL);
    CREATE TABLE message_definitions(id INTEGER PRIMARY KEY, topic_type TEXT NOT NULL, encoding TEXT NOT NULL,
      encoded_message_definition TEXT NOT NULL, type_description_hash TEXT NOT NULL);
    CREATE TABLE messages(id INTEGER PRIMARY KEY, topic_id INTEGER NOT NULL, timestamp INTEGER NOT NULL,
      data BLOB NOT NULL);
    CREATE INDEX timestamp_idx ON messages (timestamp ASC);
    INSERT INTO schema(schema_version, ros_distro) VALUES (4, 'facecoach');
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.conn = sqlite3.connect(str(path))
        # A rollback journal (not WAL): a killed writer leaves a file that readers opening it read-only
        # (rosbags, `ros2 bag play`) see at its last commit once the hot journal is rolled back.
        self.conn.execute("PRAGMA journal_mode=DELETE")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.executescript(self.SCHEMA)
        self.conn.commit()

    def add_topic(self, cid: int, topic: str, msgtype: str, qos: str, msgdef: str, digest: str, new_type: bool):
        if new_type:
            self.conn.execute(
                "INSERT INTO message_definitions(topic_type, encoding, encoded_message_definition,"
                " type_description_hash) VALUES (?, 'ros2msg', ?, ?)",
                (msgtype, msgdef, digest),
            )
        self.conn.execute("INSERT INTO topics VALUES (?, ?, ?, 'cdr', ?, ?)", (cid, topic, msgtype, qos, digest))

    def write(self, cid: int, t_ns: int, raw: bytes) -> None:
        self.conn.execute("INSERT INTO messages(topic_id, timestamp, data) VALUES (?, ?, ?)", (cid, t_ns, raw))

    def commit(self) -> None:
        self.conn.commit()

    def rollback(self) -> None:
        try:
            self.conn.rollback()
        except sqlite3.Error:
            pass

    def close(self, metadata: str) -> None:
        self.conn.execute(
            "INSERT INTO metadata(metadata_version, metadata) VALUES (?, ?)", (METADATA_VERSION, metadata)
        )
        self.conn.commit()
        self.conn.close()

    def abort(self) -> None:
        self.rollback()
        self.conn.close()


class _McapStorage:
    """An MCAP file through rosbags' writer, with a chunk closed and flushed at every commit."""

    def __init__(self, path: Path) -> None:
        from rosbags.rosbag2.enums import CompressionMode
        from rosbags.rosbag2.storage_mcap import McapWriter

        # McapWriter names its file after the folder; it is renamed to `path` right away.
        self.writer = McapWriter(path.parent, CompressionMode.NONE)
        os.replace(self.writer.path, path)
        self.path = path
        # Unbuffered from here: after a failed write nothing is left in a buffer to reach the file later.
        self.writer.bio.close()
        self.writer.bio = path.open("r+b", buffering=0)
        self.writer.bio.seek(0, os.SEEK_END)
        self.conns: Dict[int, Any] = {}
        self._good = self.writer.bio.tell()  # the end of the last chunk known to be on disk

    def add_topic(self, cid: int, topic: str, msgtype: str, qos: str, msgdef: str, digest: str, new_type: bool):
        from rosbags.interfaces import Connection, ConnectionExtRosbag2, MessageDefinition, MessageDefinitionFormat

        conn = Connection(
            cid,
            topic,
            msgtype,
            MessageDefinition(MessageDefinitionFormat.MSG, msgdef),
            digest,
            0,
            ConnectionExtRosbag2("cdr", []),
            None,
        )
        if new_type:
            self.writer.add_msgtype(conn)
        self.writer.add_connection(conn, qos)
        self.conns[cid] = conn

    def write(self, cid: int, t_ns: int, raw: bytes) -> None:
        self.writer.write(self.conns[cid], t_ns, raw)

    def commit(self) -> None:
        if self.writer.chunk.bio.tell():
            self.writer.close_chunk()
        self.writer.bio.flush()
        self._good = self.writer.bio.tell()

    def rollback(self) -> None:
        # Cut a chunk that only partly reached the disk: the file ends in whole records again.
        try:
            os.ftruncate(self.writer.bio.fileno(), self._good)
            self.writer.bio.seek(self._good)
        except OSError:
            pass

    def close(self, metadata: str) -> None:
        self.writer.close(METADATA_VERSION, metadata)

    def abort(self) -> None:
        self.writer.abort()


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
            self._storage = _Sqlite3Storage(self.file) if storage == "sqlite3" else _McapStorage(self.file)
            self._write_metadata()
        except (OSError, sqlite3.Error) as exc:
            raise BagFullError(f"{self.path}: cannot start the bag: {_write_error(exc)}") from None

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
        if self._ts is None:
            self._ts = typestore()
        if msgtype not in self._ts.types:
            raise BagError(f"{topic}: unknown message type {msgtype}")
        msgdef, _ = self._ts.generate_msgdef(msgtype, ros_version=2)
        digest = self._ts.hash_rihs01(msgtype)
        info = {"id": len(self._topics) + 1, "type": msgtype, "qos": qos_profiles_yaml(qos or [])}
        self._storage.add_topic(info["id"], topic, msgtype, info["qos"], msgdef, digest, msgtype not in self._types)
        self._types.add(msgtype)
        self._topics[topic] = info
        self._counts.setdefault(topic, 0)
        self.sync(force=True)  # a new topic is in metadata.yaml before its first message is
        return info

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
            f"{self.path}: recording stopped: {_write_error(exc)}; the bag keeps the "
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
                f"{self.path}: closing the bag failed: {_write_error(exc)}; its {self.message_count} "
                "committed messages stay readable"
            ) from None


# ---------------------------------------------------------------------------------------------- reading


def _storage_files(folder: Path) -> List[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix in (".db3", ".mcap") and p.is_file())


def _roll_back_hot_journal(db: Path) -> None:
    """A writer killed mid-commit leaves ``x.db3-journal``: roll it back, so readers see the last commit.

    Readers that open the file immutable (rosbags) or read-only would otherwise read half a transaction.
    """
    if not (db.with_name(db.name + "-journal").exists() or db.with_name(db.name + "-wal").exists()):
        return
    try:
        conn = sqlite3.connect(str(db))
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()  # a read rolls back the hot journal
        conn.close()
    except sqlite3.Error:
        pass  # a read-only copy or a corrupt file: the salvage reader says what it can read


def _stored_count(reader) -> Optional[int]:
    """Messages the storage files of an open rosbags reader hold (None when it cannot tell)."""
    storages = getattr(getattr(reader, "storage", None), "storages", None)
    if not storages:
        return None
    try:
        return sum(s.metadata.message_count for s in storages)
    except AttributeError:
        return None


def open_reader(path):
    """Open a bag folder (or its .db3/.mcap file) for reading: ``.connections``, ``.messages()``, ``.close()``.

    ``.partial`` is None for a complete bag, else what is wrong with it (its readable part is still read;
    ``messages`` raises PartialBag after it). BagError when nothing of it can be read.
    """
    from rosbags.rosbag2 import Reader

    path = Path(path)
    if not path.exists():
        raise BagError(f"{path}: no such bag")
    if path.is_file():
        if path.suffix not in (".mcap", ".db3"):
            raise BagError(f"{path}: not a bag (a rosbag2 folder, or its .db3 or .mcap file)")
        if (path.parent / "metadata.yaml").exists():
            path = path.parent
        else:
            return _SalvageReader(path.parent, [path], "no metadata.yaml beside it")
    files = _storage_files(path)
    for f in files:
        if f.suffix == ".db3":
            _roll_back_hot_journal(f)
    try:
        reader = Reader(path)
        reader.open()
    except Exception as exc:  # rosbags raises ReaderError, FileNotFoundError and others
        if not files:
            raise BagError(f"{path}: unreadable bag ({exc})") from exc
        return _SalvageReader(path, files, f"it does not open as a whole ({exc})")
    stored = _stored_count(reader)
    if stored is not None and stored != reader.message_count:
        listed = reader.message_count
        reader.close()
        # Every stored message is read: the writer was stopped before it could update metadata.yaml.
        return _SalvageReader(path, files, f"metadata.yaml lists {listed} messages, the storage holds {stored}")
    reader.partial = None
    return reader


class _SalvageReader:
    """Reads a bag from its storage files alone, as far as they are readable (the rosbags Reader's interface)."""

    def __init__(self, folder: Path, files: Sequence[Path], why: str) -> None:
        self.folder = folder
        self.why = why
        self.connections: List[Any] = []
        self._sources: List[Any] = []
        problems = []
        for f in files:
            try:
                source = _Sqlite3Salvage(f) if f.suffix == ".db3" else _McapSalvage(f)
            except BagError as exc:
                problems.append(str(exc))
                continue
            self._sources.append(source)
        if not self._sources:
            raise BagError(f"{folder}: unreadable bag ({why}; {'; '.join(problems)})")
        # One connection per (topic, type) across the files, numbered like rosbags does.
        index: Dict[tuple, Any] = {}
        for source in self._sources:
            for conn in source.connections:
                key = (conn.topic, conn.msgtype)
                if key in index:
                    index[key] = index[key]._replace(msgcount=index[key].msgcount + conn.msgcount)
                else:
                    index[key] = conn._replace(id=len(index) + 1)
        self.connections = list(index.values())
        self._index = index
        lost = [s.cut for s in self._sources if s.cut] + problems
        self.partial: Optional[str] = "; ".join(lost) or None  # None: every stored message is readable
        log.warning(
            "%s: %s; reading the storage file%s: %s",
            folder,
            why,
            "s" if len(self._sources) > 1 else "",
            "every stored message is there" if not self.partial else "a partial bag",
        )

    @property
    def message_count(self) -> int:
        """Messages the readable part holds."""
        return sum(c.msgcount for c in self.connections)

    def messages(self, connections: Sequence[Any] = ()) -> Iterator[tuple]:
        """(connection, log time ns, raw) of the readable part; PartialBag at the first unreadable place."""
        wanted = {(c.topic, c.msgtype) for c in connections} if connections else set(self._index)
        n = 0
        for source in self._sources:
            for topic, msgtype, t_ns, raw in source.messages():
                if (topic, msgtype) in wanted:
                    n += 1
                    yield self._index[(topic, msgtype)], t_ns, raw
            if source.error:
                raise PartialBag(f"{self.folder}: partial bag: {n} messages read, then {source.error}")
        if self.partial:
            raise PartialBag(f"{self.folder}: partial bag: {n} messages read ({self.partial})")

    def close(self) -> None:
        """Release the files."""
        for source in self._sources:
            source.close()


class _Sqlite3Salvage:
    """The rows of a sqlite3 storage file in insertion order, as far as its pages are readable."""

    def __init__(self, path: Path) -> None:
        from rosbags.interfaces import Connection, ConnectionExtRosbag2, MessageDefinition, MessageDefinitionFormat

        self.path, self.cut, self.error = path, "", ""
        self._copy: Optional[tempfile.TemporaryDirectory] = None
        try:
            self.conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
            rows = self.conn.execute("SELECT id, name, type FROM topics ORDER BY id").fetchall()
        except sqlite3.DatabaseError as exc:
            rows = self._open_cut_copy(path, exc)
        counts: Dict[int, int] = {}
        try:
            counts = dict(self.conn.execute("SELECT topic_id, count(*) FROM messages GROUP BY topic_id").fetchall())
        except sqlite3.Error as exc:
            self.cut = self.cut or f"{path.name} is damaged ({exc})"
            counts = self._count_readable()
        try:
            defs = dict(
                self.conn.execute("SELECT topic_type, encoded_message_definition FROM message_definitions").fetchall()
            )
        except sqlite3.Error:
            defs = {}  # Humble's own files have no message definitions
        self.topics = {cid: (name, msgtype) for cid, name, msgtype in rows}
        self.connections = [
            Connection(
                cid,
                name,
                msgtype,
                MessageDefinition(
                    MessageDefinitionFormat.MSG if msgtype in defs else MessageDefinitionFormat.NONE,
                    defs.get(msgtype, ""),
                ),
                "",
                counts.get(cid, 0),
                ConnectionExtRosbag2("cdr", []),
                None,
            )
            for cid, (name, msgtype) in self.topics.items()
        ]

    def _count_readable(self) -> Dict[int, int]:
        """Messages per topic up to the first unreadable page (a row's topic_id is at its start: no blob read)."""
        counts: Dict[int, int] = {}
        try:
            for (cid,) in self.conn.execute("SELECT topic_id FROM messages ORDER BY id"):
                counts[cid] = counts.get(cid, 0) + 1
        except sqlite3.Error:
            pass
        return counts

    def _open_cut_copy(self, path: Path, exc: Exception) -> list:
        """A file cut short: sqlite trusts the page count in its header and refuses it whole.

        A copy whose header states the pages actually there reads up to the cut.
        """
        size = path.stat().st_size
        with path.open("rb") as f:
            header = f.read(100)
        page_size = int.from_bytes(header[16:18], "big") if header.startswith(b"SQLite format 3\0") else 0
        page_size = 65536 if page_size == 1 else page_size
        if not page_size or int.from_bytes(header[28:32], "big") * page_size <= size:
            raise BagError(f"{path.name}: not a readable sqlite3 bag ({exc})") from None
        self.conn.close()
        self._copy = tempfile.TemporaryDirectory(prefix="facecoach-salvage-")
        copy = Path(self._copy.name) / path.name
        shutil.copyfile(path, copy)
        with copy.open("r+b") as f:
            f.seek(28)
            f.write((size // page_size).to_bytes(4, "big"))
        stated = int.from_bytes(header[28:32], "big") * page_size
        self.cut = f"{path.name} is cut off after {size} of its {stated} bytes"
        try:
            self.conn = sqlite3.connect(f"file:{copy}?mode=ro", uri=True)
            return self.conn.execute("SELECT id, name, type FROM topics ORDER BY id").fetchall()
        except sqlite3.DatabaseError as exc2:
            raise BagError(f"{path.name}: not a readable sqlite3 bag ({exc2})") from None

    def messages(self) -> Iterator[tuple]:
        last = 0
        try:
            cursor = self.conn.execute("SELECT id, topic_id, timestamp, data FROM messages ORDER BY id")
            for rowid, cid, t_ns, raw in cursor:
                last = rowid
                if cid in self.topics:
                    name, msgtype = self.topics[cid]
                    yield name, msgtype, t_ns, bytes(raw)
        except sqlite3.Error as exc:
            self.error = f"{self.path.name} is unreadable after row {last} ({exc})"

    def close(self) -> None:
        self.conn.close()
        if self._copy is not None:
            self._copy.cleanup()


class _McapSalvage:
    """The records of an MCAP file up to its last complete one (a writer killed before the summary)."""

    MAGIC = b"\x89MCAP0\r\n"

    def __init__(self, path: Path) -> None:
        from rosbags.rosbag2.errors import ReaderError
        from rosbags.rosbag2.storage_mcap import McapReader

        self.path, self.cut, self.error = path, "", ""
        reader = McapReader(path)
        try:
            reader.open()  # a complete file (only its metadata.yaml is missing or stale)
        except ReaderError:
            reader = self._scan(path, McapReader)
        self.reader = reader

    def _scan(self, path: Path, reader_class):
        """Open ``path`` as far as whole records go: rosbags' own scan, stopped before the cut."""
        size = path.stat().st_size
        bio = path.open("rb")
        if bio.read(8) != self.MAGIC or bio.read(1) != b"\x01":
            bio.close()
            raise BagError(f"{path.name}: not an MCAP file (no MCAP header)")
        # Records are opcode (1 byte), length (uint64), content: walk them to the last complete one.
        pos, end = 8, 8
        while pos + 9 <= size:
            op = _read_at(bio, pos, 1)
            length = int.from_bytes(_read_at(bio, pos + 1, 8), "little")
            if pos + 9 + length > size or op in (b"\x02", b"\x0f"):  # cut off, or the footer / data end
                break
            pos = end = pos + 9 + length
        header_end = 8 + 9 + int.from_bytes(_read_at(bio, 9, 8), "little")
        reader = reader_class(path)
        reader.bio = bio
        reader.data_start = header_end
        reader.data_end = end
        try:
            reader.meta_scan()
        except Exception as exc:  # noqa: BLE001 - rosbags raises several kinds on a damaged record
            bio.close()
            raise BagError(f"{path.name}: unreadable MCAP records ({exc})") from None
        reader.connections = [
            c._replace(msgcount=reader.statistics.channel_message_counts.get(c.id, 0)) for c in reader.connections
        ]
        # Whole records to the end: only the summary is missing (its writer was killed), nothing is lost.
        self.cut = f"{path.name} is cut off after byte {end} of {size}" if end < size else ""
        self._scanned = True
        return reader

    @property
    def connections(self) -> List[Any]:
        return self.reader.connections

    def messages(self) -> Iterator[tuple]:
        conns = {c.id: c for c in self.reader.connections}
        try:
            if getattr(self, "_scanned", False):
                source = self.reader.messages_scan(list(conns.values()))
            else:
                source = self.reader.messages(list(conns.values()))
            for conn, t_ns, raw in source:
                yield conn.topic, conn.msgtype, t_ns, bytes(raw)
        except Exception as exc:  # noqa: BLE001 - damaged chunks raise several kinds
            self.error = f"{self.path.name} is damaged ({exc})"

    def close(self) -> None:
        self.reader.close()


def _read_at(bio, offset: int, size: int) -> bytes:
    bio.seek(offset)
    return bio.read(size)


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
    """(topic, msgtype, log_time_ns, raw CDR bytes) of a bag in order.

    A damaged bag yields its readable part, then raises PartialBag (a BagError) saying what was lost.
    """
    reader = open_reader(path)
    try:
        conns = [c for c in reader.connections if not topic_names or c.topic in topic_names]
        if topic_names:
            missing = set(topic_names) - {c.topic for c in conns}
            if missing:
                raise BagError(f"{path}: topics not in the bag: {sorted(missing)}")
        n = 0
        try:
            for conn, t_ns, raw in reader.messages(connections=conns):
                n += 1
                yield conn.topic, conn.msgtype, t_ns, bytes(raw)
        except BagError:
            raise
        except Exception as exc:
            raise PartialBag(
                f"{path}: partial bag: {n} messages read, then it is truncated or corrupt ({exc})"
            ) from exc
    finally:
        reader.close()
