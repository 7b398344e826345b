"""Reading rosbag2 bags: metadata versions 5-9, sqlite3 and MCAP, whole or cut short (plain Python, no rclpy).

rosbags reads a complete bag; where it is not installed (the Jetson's Python 3.6) the standard library reads a
sqlite3 one (``sqlite3_reader``). When metadata.yaml is missing, unreadable or behind its storage (a recorder that
was killed), the storage files are read instead (``salvage``); when the storage itself is cut short or corrupt,
every readable message is yielded and then PartialBag (a BagError) says what was lost.
"""

import sqlite3
from pathlib import Path, PurePath
from typing import Iterator, List, Optional, Sequence

import yaml

from .compressed import InflatingReader, check_compressed_files
from .errors import BagError, PartialBag
from .mcap_chunks import check_mcap_chunks
from .salvage import SalvageReader
from .schema import IMAGE_TYPES, Topic
from .sqlite3_reader import check_readable, no_rosbags, open_sqlite3


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


def _compression(folder: Path) -> str:
    """The compression mode metadata.yaml states ('' for none); a file-compressed bag is checked first.

    rosbags inflates a file-compressed bag into the temporary folder as it opens it: the sizes are checked
    before (BagError when they are more than its messages can fill or than the disk has free).
    """
    try:
        info = yaml.safe_load((folder / "metadata.yaml").read_text(encoding="utf-8"))["rosbag2_bagfile_information"]
        mode = str(info.get("compression_mode") or "").lower()
    except Exception:  # noqa: BLE001 - no or a broken metadata.yaml: rosbags says what is wrong with it
        return ""
    mode = "" if mode == "none" else mode
    if mode == "file":
        try:
            paths = [folder / PurePath(str(x)).name for x in info["relative_file_paths"]]
            count, storage = int(info["message_count"]), str(info["storage_identifier"])
        except (KeyError, TypeError, ValueError) as exc:
            raise BagError(f"{folder}: unreadable bag (metadata.yaml of a compressed bag: {exc!r})") from None
        check_compressed_files(folder, [p for p in paths if p.is_file()], count, storage)
    return mode


def _type_mismatch(reader) -> str:
    """How metadata.yaml's topic types disagree with the storage files' ('' when they agree).

    rosbags matches messages by type: a topic whose metadata.yaml type is not its storage's reads as empty.
    """
    listed = {c.topic: c.msgtype for c in reader.connections}
    for storage in getattr(getattr(reader, "storage", None), "storages", None) or ():
        for conn in getattr(storage, "connections", ()):
            if conn.topic in listed and listed[conn.topic] != conn.msgtype:
                return f"metadata.yaml says {conn.topic} is {listed[conn.topic]}, its storage file holds {conn.msgtype}"
    return ""


def open_reader(path):
    """Open a bag folder (or its .db3/.mcap file) for reading: ``.connections``, ``.messages()``, ``.close()``.

    ``.partial`` is None for a complete bag, else what is wrong with it (its readable part is still read;
    ``messages`` raises PartialBag after it). BagError when nothing of it can be read. Without rosbags (the
    Jetson's Python 3.6) a sqlite3 bag is read with the standard library (``sqlite3_reader``), and a bag that
    needs rosbags (MCAP, compressed) is a BagError that says so.
    """
    path = Path(path)
    if not path.exists():
        raise BagError(f"{path}: no such bag")
    if path.is_file():
        if path.suffix not in (".mcap", ".db3"):
            raise BagError(f"{path}: not a bag (a rosbag2 folder, or its .db3 or .mcap file)")
        if (path.parent / "metadata.yaml").exists():
            path = path.parent
        else:
            if no_rosbags():
                check_readable(path.parent, [path])
            check_mcap_chunks(path)
            return SalvageReader(path.parent, [path], "no metadata.yaml beside it")
    files = _storage_files(path)
    for f in files:
        if f.suffix == ".db3":
            _roll_back_hot_journal(f)
        else:
            check_mcap_chunks(f)
    if no_rosbags():
        return open_sqlite3(path, files)
    from rosbags.rosbag2 import Reader

    mode = _compression(path)
    try:
        reader = Reader(path)
        reader.open()
    except Exception as exc:  # rosbags raises ReaderError, FileNotFoundError and others
        if not files:
            raise BagError(f"{path}: unreadable bag ({exc})") from exc
        salvage = SalvageReader(path, files, f"it does not open as a whole ({exc})")
        return InflatingReader(salvage) if mode == "message" else salvage
    mismatch = _type_mismatch(reader)
    if mismatch:
        reader.close()
        raise BagError(f"{path}: metadata.yaml lies about its topics: {mismatch}")
    if mode == "message":
        # rosbags would inflate each message without a limit: it hands them over as stored, we inflate them.
        reader.storage.metadata = reader.storage.metadata._replace(compression_mode=None)
    stored = _stored_count(reader)
    if stored is not None and stored != reader.message_count:
        listed = reader.message_count
        reader.close()
        # Every stored message is read: the writer was stopped before it could update metadata.yaml.
        salvage = SalvageReader(path, files, f"metadata.yaml lists {listed} messages, the storage holds {stored}")
        return InflatingReader(salvage) if mode == "message" else salvage
    reader.partial = None
    return InflatingReader(reader) if mode == "message" else reader


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
