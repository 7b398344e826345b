"""Compressed bags (rosbag2's zstd, file or message mode), inflated only as far as a FaceCoach bag can hold.

A few KB of zstd inflate to gigabytes. rosbags inflates a file-compressed bag's storage files into the
temporary folder when it opens the bag, and each message of a message-compressed bag into memory, with no
limit. So before a byte is inflated: a message may hold at most ``MAX_MESSAGE_BYTES``; a storage file what
its messages and tables can take, and all of them must fit in the temporary folder's free space. A zstd
frame's header declares its size (libzstd refuses to inflate past it); a frame that declares none (rosbags'
Writer streams its files) is measured by inflating it into nothing, up to the bound.
"""

import io
import shutil
import tempfile
from pathlib import Path
from typing import BinaryIO, Iterator, List, Optional, Sequence

from .errors import BagError

MAX_MESSAGE_BYTES = 64 * 1024 * 1024  # a 4K bgr8 frame is 25 MB: no FaceCoach message comes near
FILE_OVERHEAD_BYTES = 64 * 1024 * 1024  # a storage file's tables, indexes and schemas beside its messages
TEMP_RESERVE_BYTES = 256 * 1024 * 1024  # left free in the temporary folder for everything else
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
SQLITE_MAGIC = b"SQLite format 3\x00"
MCAP_MAGIC = b"\x89MCAP0\r\n"
_CHUNK = 1 << 20


def zstd_module():
    """The zstd module rosbags uses (Python 3.14's own, else backports.zstd)."""
    try:
        from compression import zstd  # type: ignore[import-not-found]
    except ImportError:
        from backports import zstd  # type: ignore[import-not-found,no-redef]
    return zstd


def _read(f: BinaryIO, n: int) -> bytes:
    data = f.read(n)
    if len(data) != n:
        raise ValueError("the zstd data ends inside a frame")
    return data


def frame_sizes(f: BinaryIO) -> Iterator[Optional[int]]:
    """The content size each zstd frame of ``f`` declares (None: it declares none), read from headers only.

    Walks the frame and block headers (RFC 8878) without inflating anything; ValueError when ``f`` is not
    zstd data. Skippable frames are passed over.
    """
    first = True
    while True:
        magic = f.read(4)
        if not magic and not first:
            return
        first = False
        if len(magic) == 4 and 0x184D2A50 <= int.from_bytes(magic, "little") <= 0x184D2A5F:
            f.seek(int.from_bytes(_read(f, 4), "little"), 1)
            continue
        if magic != ZSTD_MAGIC:
            raise ValueError("not zstd data (no zstd frame where one should start)")
        fhd = _read(f, 1)[0]
        fcs_flag, single_segment, checksum, dict_flag = fhd >> 6, fhd >> 5 & 1, fhd >> 2 & 1, fhd & 3
        if fhd & 0x08:
            raise ValueError("a zstd frame header with its reserved bit set")
        fcs_bytes = (1 if single_segment else 0, 2, 4, 8)[fcs_flag]
        _read(f, (0 if single_segment else 1) + (0, 1, 2, 4)[dict_flag])
        size: Optional[int] = None
        if fcs_bytes:
            size = int.from_bytes(_read(f, fcs_bytes), "little") + (256 if fcs_bytes == 2 else 0)
        while True:
            header = int.from_bytes(_read(f, 3), "little")
            last, kind, block_size = header & 1, header >> 1 & 3, header >> 3
            if kind == 3:
                raise ValueError("a zstd block of the reserved type")
            f.seek(1 if kind == 1 else block_size, 1)  # an RLE block stores one byte
            if last:
                break
        if checksum:
            f.seek(4, 1)
        yield size


def measure_zstd(f: BinaryIO, bound: int) -> int:
    """The inflated size of the zstd data in ``f``, inflated into nothing; stops once it passes ``bound``."""
    zstd = zstd_module()
    total, decomp = 0, zstd.ZstdDecompressor()
    while total <= bound:
        if decomp.eof:
            rest = decomp.unused_data
            decomp = zstd.ZstdDecompressor()
            data = rest or f.read(_CHUNK)
        else:
            data = f.read(_CHUNK) if decomp.needs_input else b""
        if not data and decomp.needs_input:
            return total
        total += len(decomp.decompress(data, max_length=_CHUNK))
    return total


def _head(f: BinaryIO, n: int = 100) -> bytes:
    """The first ``n`` inflated bytes (at most) of the zstd data in ``f``."""
    return zstd_module().ZstdDecompressor().decompress(f.read(_CHUNK), max_length=n)


def inflated_size(path: Path, bound: int) -> int:
    """What the zstd file ``path`` inflates to (more than ``bound`` when it exceeds it); ValueError if no zstd."""
    with path.open("rb") as f:
        declared = list(frame_sizes(f))
        if declared and all(s is not None for s in declared):
            return sum(declared)  # type: ignore[arg-type]
        f.seek(0)
        return measure_zstd(f, bound)


def _storage_problem(head: bytes, storage: str, size: Optional[int] = None) -> str:
    """Why an inflated start ``head`` is no ``storage`` file (of ``size`` bytes, when known); '' when it may be."""
    if storage == "sqlite3":
        if not head.startswith(SQLITE_MAGIC) or len(head) < 100:
            return "it inflates to no sqlite3 file"
        page_size = int.from_bytes(head[16:18], "big")
        page_size = 65536 if page_size == 1 else page_size
        pages, valid = int.from_bytes(head[28:32], "big"), head[24:28] == head[92:96]
        if size is not None and valid and pages and pages * page_size != size:
            return f"its sqlite3 header says {pages * page_size} bytes, its zstd data {size}"
    elif storage == "mcap" and not head.startswith(MCAP_MAGIC):
        return "it inflates to no MCAP file"
    return ""


def check_compressed_files(folder: Path, paths: Sequence[Path], message_count: int, storage: str) -> None:
    """BagError unless the file-compressed ``paths`` inflate to what their messages can fill, and fit on disk.

    Nothing is written: sizes come from the zstd frame headers (or an inflation into nothing).
    """
    bound = max(0, message_count) * MAX_MESSAGE_BYTES + len(paths) * FILE_OVERHEAD_BYTES
    temp = tempfile.gettempdir()
    free = shutil.disk_usage(temp).free - TEMP_RESERVE_BYTES
    total = 0
    for path in paths:
        try:
            with path.open("rb") as f:
                head = _head(f)
            # The start first (a few bytes): garbage is refused before its size is measured.
            problem = _storage_problem(head, storage)
            size = 0 if problem else inflated_size(path, min(bound, max(free, 0)) - total)
            problem = problem or _storage_problem(head, storage, size)
        except (ValueError, zstd_module().ZstdError) as exc:
            raise BagError(f"{path}: unreadable compressed bag file ({exc})") from None
        if problem:
            raise BagError(f"{path}: not a compressed {storage} bag file ({problem})")
        total += size
        if total > bound:
            raise BagError(
                f"{folder}: refused: its compressed files inflate to over {total} bytes, more than "
                f"its {message_count} messages can fill ({bound} bytes at most)"
            )
        if total > free:
            raise BagError(
                f"{folder}: refused: its compressed files inflate to over {total} bytes; {temp} has "
                f"{max(free, 0)} bytes free (keeping {TEMP_RESERVE_BYTES})"
            )


def inflate_message(data: bytes, limit: int = MAX_MESSAGE_BYTES) -> bytes:
    """A message-compressed message inflated; BagError if it is no zstd or inflates past ``limit`` bytes."""
    zstd = zstd_module()
    parts: List[bytes] = []
    total, rest = 0, bytes(data)
    try:
        declared = sum(s or 0 for s in frame_sizes(io.BytesIO(rest)))
        if declared > limit:
            raise BagError(f"a compressed message declares {declared} bytes, over the {limit} a message may hold")
        while rest:
            decomp = zstd.ZstdDecompressor()
            part = decomp.decompress(rest, max_length=limit - total + 1)
            total += len(part)
            if total > limit:
                raise BagError(f"a compressed message inflates past the {limit} bytes a message may hold")
            if not decomp.eof:
                raise ValueError("the zstd data ends inside a frame")
            parts.append(part)
            rest = decomp.unused_data
    except (ValueError, zstd.ZstdError) as exc:
        raise BagError(f"a compressed message cannot be inflated ({exc})") from None
    return b"".join(parts)


class InflatingReader:
    """A message-compressed bag's reader whose ``messages`` inflates each message within the limit."""

    def __init__(self, reader) -> None:
        self._reader = reader
        self.connections = reader.connections
        self.partial = getattr(reader, "partial", None)

    def __getattr__(self, name: str):
        """Everything else (message_count, duration, ...) is the wrapped reader's."""
        return getattr(self._reader, name)

    def messages(self, connections=()) -> Iterator[tuple]:
        """(connection, log time ns, inflated raw); BagError at a message that inflates too far."""
        for conn, t_ns, raw in self._reader.messages(connections=connections):
            try:
                yield conn, t_ns, inflate_message(raw)
            except BagError as exc:
                raise BagError(f"{conn.topic} at {t_ns} ns: {exc}") from None

    def close(self) -> None:
        """Release the bag."""
        self._reader.close()
