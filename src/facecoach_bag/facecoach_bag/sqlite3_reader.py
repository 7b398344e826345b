"""A sqlite3 bag read with the standard library alone: the reader where rosbags is not installed.

rosbags does not install on the Jetson Nano's Python 3.6, and the bags FaceCoach writes by default are
sqlite3 (Humble's default): metadata.yaml (versions 5-9) plus ``.db3`` files whose ``messages`` table holds
each message's CDR bytes as recorded. This reads them the way rosbags does (the files in metadata order,
each file's messages by timestamp), so a player publishes the same bytes in the same order with either.
MCAP and compressed bags need rosbags: ``Unsupported`` says so.
"""

import sqlite3
from collections import namedtuple
from pathlib import Path, PurePath
from typing import Any, Dict, Iterator, List, Optional, Sequence

import yaml

from .errors import BagError

# What the rest of facecoach_bag uses of a rosbags Connection (same field names; ``_replace`` works alike).
Connection = namedtuple("Connection", "id topic msgtype msgcount")
MAX_VERSION = 9  # the newest metadata version rosbags (and so this reader) knows
WHY_ROSBAGS = "rosbags, which is not installed here (it does not install on Python 3.6: the Jetson Nano)"


class Unsupported(BagError):
    """A bag this reader cannot read without rosbags (MCAP, compressed, another serialization)."""


class NotWhole(Exception):
    """metadata.yaml or a storage file is not what a complete bag has: read the storage files instead."""


def _info(folder: Path) -> Dict[str, Any]:
    """metadata.yaml's ``rosbag2_bagfile_information``; NotWhole when it is missing or unreadable."""
    path = folder / "metadata.yaml"
    try:
        info = yaml.safe_load(path.read_text(encoding="utf-8"))["rosbag2_bagfile_information"]
    except FileNotFoundError:
        raise NotWhole("no metadata.yaml") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError, TypeError, KeyError) as exc:
        raise NotWhole(f"metadata.yaml is unreadable ({type(exc).__name__}: {str(exc).splitlines()[0]})") from None
    if not isinstance(info, dict):
        raise NotWhole("metadata.yaml holds no rosbag2_bagfile_information mapping")
    return info


def check_readable(folder: Path, files: Sequence[Path]) -> None:
    """Unsupported when the bag needs rosbags: MCAP files, compression, or other than CDR messages."""
    if any(f.suffix == ".mcap" for f in files) or _storage(folder) == "mcap":
        raise Unsupported(
            f"{folder}: an MCAP bag: reading it needs {WHY_ROSBAGS}; play it with `ros2 bag play` "
            "(use_ros2_bag:=true, with ros-humble-rosbag2-storage-mcap), or record with --storage sqlite3"
        )
    try:
        info = _info(folder)
    except NotWhole:
        return  # the storage files alone are read (sqlite3: the standard library does)
    mode = str(info.get("compression_mode") or "").lower()
    if mode not in ("", "none"):
        raise Unsupported(
            f"{folder}: a compressed bag ({info.get('compression_format') or 'zstd'}, {mode} mode): inflating it "
            f"needs {WHY_ROSBAGS}; play it with `ros2 bag play` (use_ros2_bag:=true), or record it uncompressed"
        )


def _storage(folder: Path) -> str:
    try:
        return str(_info(folder).get("storage_identifier") or "")
    except NotWhole:
        return ""


class Sqlite3Reader:
    """A complete sqlite3 bag (the rosbags Reader's interface: connections, message_count, messages, close).

    NotWhole when metadata.yaml and the storage files disagree or a file does not open (the caller then reads
    the storage files alone); BagError when metadata.yaml lists other types than the files hold.
    """

    def __init__(self, folder: Path) -> None:
        info = _info(folder)
        try:
            version = int(info["version"])
            storage = str(info["storage_identifier"])
            paths = [folder / PurePath(str(p)).name for p in info["relative_file_paths"]]
            listed = int(info["message_count"])
            topics = [t["topic_metadata"] for t in info["topics_with_message_count"]]
            counts = [int(t["message_count"]) for t in info["topics_with_message_count"]]
            formats = {str(t["serialization_format"]) for t in topics}
            self.connections = [
                Connection(i + 1, str(t["name"]), str(t["type"]), n) for i, (t, n) in enumerate(zip(topics, counts))
            ]
        except (KeyError, TypeError, ValueError) as exc:
            raise NotWhole(f"metadata.yaml lacks what a bag lists ({type(exc).__name__}: {exc})") from None
        if version > MAX_VERSION:
            raise BagError(f"{folder}: metadata version {version} is newer than this reader knows ({MAX_VERSION})")
        if storage != "sqlite3":
            raise Unsupported(f"{folder}: storage {storage!r}: reading it needs {WHY_ROSBAGS}")
        if formats - {"cdr"}:
            raise Unsupported(f"{folder}: serialization {sorted(formats - {'cdr'})}: only cdr is read here")
        missing = [p.name for p in paths if not p.is_file()]
        if missing:
            raise NotWhole(f"metadata.yaml lists storage files that are not there: {missing}")
        self.folder, self.partial = folder, None
        self._files: List[sqlite3.Connection] = []
        self._topics: List[Dict[int, Connection]] = []  # per file: its topic id -> the connection
        by_name = {(c.topic, c.msgtype): c for c in self.connections}
        stored = 0
        try:
            for path in paths:
                db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
                self._files.append(db)
                ids = {}
                for cid, name, msgtype in db.execute("SELECT id, name, type FROM topics ORDER BY id"):
                    conn = by_name.get((name, msgtype))
                    if conn is None:
                        said = [c.msgtype for c in self.connections if c.topic == name]
                        if said:
                            self.close()
                            raise BagError(
                                f"{folder}: metadata.yaml lies about its topics: metadata.yaml says {name} is "
                                f"{said[0]}, its storage file holds {msgtype}"
                            )
                        continue  # a topic metadata.yaml does not list: rosbags leaves it out too
                    ids[cid] = conn
                self._topics.append(ids)
                stored += db.execute("SELECT count(*) FROM messages").fetchone()[0]
        except sqlite3.Error as exc:
            self.close()
            raise NotWhole(f"it does not open as a whole ({exc})") from None
        if stored != listed:
            self.close()
            raise NotWhole(f"metadata.yaml lists {listed} messages, the storage holds {stored}")
        self.message_count = listed

    def messages(self, connections: Sequence[Any] = ()) -> Iterator[tuple]:
        """(connection, log time ns, raw CDR bytes): each file in metadata order, its messages by timestamp."""
        wanted = {(c.topic, c.msgtype) for c in connections} if connections else None
        for db, ids in zip(self._files, self._topics):
            keep = [cid for cid, c in ids.items() if wanted is None or (c.topic, c.msgtype) in wanted]
            if not keep:
                continue
            query = "SELECT topic_id, timestamp, data FROM messages WHERE topic_id IN ({}) ORDER BY timestamp".format(
                ",".join("?" * len(keep))
            )
            for cid, t_ns, raw in db.execute(query, keep):
                yield ids[cid], t_ns, bytes(raw)

    def close(self) -> None:
        """Release the files."""
        for db in self._files:
            db.close()
        self._files = []


def open_sqlite3(folder: Path, files: Sequence[Path]) -> Any:
    """A sqlite3 bag without rosbags: a Sqlite3Reader, or the storage files alone when it is not whole."""
    from .salvage import SalvageReader

    check_readable(folder, files)
    try:
        return Sqlite3Reader(folder)
    except NotWhole as exc:
        if not files:
            raise BagError(f"{folder}: unreadable bag ({exc})") from None
        return SalvageReader(folder, files, str(exc))


def no_rosbags() -> Optional[str]:
    """None where rosbags imports, else why not (the readers then use this module)."""
    try:
        import rosbags.rosbag2  # noqa: F401
    except ImportError as exc:
        return str(exc)
    return None
