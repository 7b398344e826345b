"""The two storage files a bag writer writes into: sqlite3 (Humble's tables) and MCAP (chunks flushed at commit)."""

import errno
import os
import sqlite3
from pathlib import Path
from typing import Any, Dict

from .schema import METADATA_VERSION


def write_error(exc: BaseException) -> str:
    """Why a write failed, in words."""
    name = getattr(exc, "sqlite_errorname", "")
    if name == "SQLITE_FULL" or getattr(exc, "errno", None) == errno.ENOSPC:
        return "no space left on device"
    if getattr(exc, "errno", None) == errno.EFBIG:
        return "file size limit reached"
    if name.startswith("SQLITE_IOERR"):
        return f"write failed ({exc}: the disk is full or a file size limit was reached)"
    return f"write failed ({exc})"


class Sqlite3Storage:
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
        """Add a topic (and its type's definition when ``new_type``) under connection id ``cid``."""
        if new_type:
            self.conn.execute(
                "INSERT INTO message_definitions(topic_type, encoding, encoded_message_definition,"
                " type_description_hash) VALUES (?, 'ros2msg', ?, ?)",
                (msgtype, msgdef, digest),
            )
        self.conn.execute("INSERT INTO topics VALUES (?, ?, ?, 'cdr', ?, ?)", (cid, topic, msgtype, qos, digest))

    def write(self, cid: int, t_ns: int, raw: bytes) -> None:
        """Append one message (committed at the next ``commit``)."""
        self.conn.execute("INSERT INTO messages(topic_id, timestamp, data) VALUES (?, ?, ?)", (cid, t_ns, raw))

    def commit(self) -> None:
        """Make what was written since the last commit durable."""
        self.conn.commit()

    def rollback(self) -> None:
        """Drop what was written since the last commit (after a failed write)."""
        try:
            self.conn.rollback()
        except sqlite3.Error:
            pass

    def close(self, metadata: str) -> None:
        """Commit, store the final metadata and close the file."""
        self.conn.execute(
            "INSERT INTO metadata(metadata_version, metadata) VALUES (?, ?)", (METADATA_VERSION, metadata)
        )
        self.conn.commit()
        self.conn.close()

    def abort(self) -> None:
        """Close the file without committing more."""
        self.rollback()
        self.conn.close()


class McapStorage:
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
        """Add a topic (and its type's definition when ``new_type``) under connection id ``cid``."""
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
        """Append one message (committed at the next ``commit``)."""
        self.writer.write(self.conns[cid], t_ns, raw)

    def commit(self) -> None:
        """Make what was written since the last commit durable."""
        if self.writer.chunk.bio.tell():
            self.writer.close_chunk()
        self.writer.bio.flush()
        self._good = self.writer.bio.tell()

    def rollback(self) -> None:
        """Drop what was written since the last commit (after a failed write)."""
        # Cut a chunk that only partly reached the disk: the file ends in whole records again.
        try:
            os.ftruncate(self.writer.bio.fileno(), self._good)
            self.writer.bio.seek(self._good)
        except OSError:
            pass

    def close(self, metadata: str) -> None:
        """Commit, store the final metadata and close the file."""
        self.writer.close(METADATA_VERSION, metadata)

    def abort(self) -> None:
        """Close the file without committing more."""
        self.writer.abort()
