"""Reading what is left of a bag from its storage files alone: a killed writer, a file cut short or corrupt."""

import logging
import shutil
import sqlite3
import tempfile
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence

from .compressed import MCAP_MAGIC
from .errors import BagError, PartialBag
from .sqlite3_reader import Connection

log = logging.getLogger("facecoach_bag.salvage")


class SalvageReader:
    """Reads a bag from its storage files alone, as far as they are readable (the rosbags Reader's interface)."""

    def __init__(self, folder: Path, files: Sequence[Path], why: str) -> None:
        self.folder = folder
        self.why = why
        self.connections: List[Any] = []
        self._sources: List[Any] = []
        problems = []
        for f in files:
            try:
                source = Sqlite3Salvage(f) if f.suffix == ".db3" else McapSalvage(f)
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


class Sqlite3Salvage:
    """The rows of a sqlite3 storage file in insertion order, as far as its pages are readable."""

    def __init__(self, path: Path) -> None:
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
        self.topics = {cid: (name, msgtype) for cid, name, msgtype in rows}
        # The standard library's sqlite3 reads it: with or without rosbags (the Jetson's Python 3.6).
        self.connections = [
            Connection(cid, name, msgtype, counts.get(cid, 0)) for cid, (name, msgtype) in self.topics.items()
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
        """(topic, msgtype, log time ns, raw) of the readable messages; ``error`` says where reading stopped."""
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
        """Release the file (and a repaired copy of it)."""
        self.conn.close()
        if self._copy is not None:
            self._copy.cleanup()


class McapSalvage:
    """The records of an MCAP file up to its last complete one (a writer killed before the summary)."""

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
        if bio.read(8) != MCAP_MAGIC or bio.read(1) != b"\x01":
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
        """The file's connections with their message counts."""
        return self.reader.connections

    def messages(self) -> Iterator[tuple]:
        """(topic, msgtype, log time ns, raw) of the readable messages; ``error`` says where reading stopped."""
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
        """Release the file."""
        self.reader.close()


def _read_at(bio, offset: int, size: int) -> bytes:
    bio.seek(offset)
    return bio.read(size)
