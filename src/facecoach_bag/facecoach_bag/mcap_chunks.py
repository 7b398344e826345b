"""MCAP chunks checked before rosbags inflates them: a few KB of zstd or lz4 must not become gigabytes in memory.

rosbags inflates each compressed chunk of an MCAP file whole, whatever it holds. Before that, every chunk's
records are sized from the compressed frames' headers (or by inflating them into nothing, up to the bound):
a chunk may inflate to at most ``MAX_CHUNK_BYTES``, and to exactly the size its header states.
"""

import io
import struct
from pathlib import Path
from typing import BinaryIO

from .compressed import MAX_MESSAGE_BYTES, MCAP_MAGIC, frame_sizes, measure_zstd, zstd_module
from .errors import BagError

MAX_CHUNK_BYTES = 2 * MAX_MESSAGE_BYTES  # a chunk holds at least one message; writers cut them at ~1 MB
CHUNK = 0x06
FOOTER = 0x02


class _Broken(Exception):
    """A record cut short or with a broken header: the readers stop there and say so, and so does the check."""


def _lz4_size(data: bytes, bound: int) -> int:
    """What lz4 frame data inflates to (more than ``bound`` when it exceeds it), inflated into nothing."""
    from lz4.frame import LZ4FrameDecompressor

    total, rest = 0, data
    while rest and total <= bound:
        decomp = LZ4FrameDecompressor()
        total += len(decomp.decompress(rest, max_length=bound - total + 1))
        while not decomp.eof and total <= bound and not decomp.needs_input:
            total += len(decomp.decompress(b"", max_length=bound - total + 1))
        if not decomp.eof and total <= bound:
            raise ValueError("the lz4 data ends inside a frame")
        rest = decomp.unused_data
    return total


def inflated_chunk_size(compression: str, records: bytes, bound: int) -> int:
    """What a chunk's ``records`` inflate to (more than ``bound`` when they exceed it); ValueError if unreadable."""
    if compression == "":
        return len(records)
    if compression == "zstd":
        declared = list(frame_sizes(io.BytesIO(records)))
        if declared and all(s is not None for s in declared):
            return sum(declared)  # type: ignore[arg-type]
        return measure_zstd(io.BytesIO(records), bound)
    if compression == "lz4":
        return _lz4_size(records, bound)
    raise ValueError(f"unknown chunk compression {compression!r}")


def _chunk(f: BinaryIO, length: int) -> tuple:
    """(stated uncompressed size, compression, compressed records) of the Chunk record whose content is next."""
    head = f.read(32)
    if len(head) < 32:
        raise _Broken()
    stated = struct.unpack_from("<Q", head, 16)[0]
    (name_len,) = struct.unpack_from("<I", head, 28)
    if name_len > 16 or 32 + name_len + 8 > length:
        raise _Broken()
    compression = f.read(name_len).decode("ascii", "replace")
    size_field = f.read(8)
    if len(size_field) < 8:
        raise _Broken()
    (records_len,) = struct.unpack("<Q", size_field)
    if 32 + name_len + 8 + records_len > length:
        raise _Broken()
    if records_len > MAX_CHUNK_BYTES:
        raise BagError(f"refused: an MCAP chunk of {records_len} compressed bytes (a chunk may hold {MAX_CHUNK_BYTES})")
    records = f.read(records_len)
    if len(records) < records_len:
        raise _Broken()
    return stated, compression, records


def check_mcap_chunks(path: Path) -> None:
    """BagError unless every chunk of the MCAP file ``path`` inflates to its stated size, within the bound.

    Only the records before a cut or a broken record are checked: salvage reads no further than that either.
    """
    with Path(path).open("rb") as f:
        if f.read(8) != MCAP_MAGIC:
            return  # not MCAP: the readers say what it is
        while True:
            start = f.tell()
            head = f.read(9)
            if len(head) < 9:
                return
            opcode, length = head[0], struct.unpack_from("<Q", head, 1)[0]
            if opcode == FOOTER:
                return
            if opcode == CHUNK:
                try:
                    stated, compression, records = _chunk(f, length)
                except _Broken:
                    return
                except BagError as exc:
                    raise BagError(f"{path}: {exc}") from None
                try:
                    size = inflated_chunk_size(compression, records, MAX_CHUNK_BYTES)
                except (ValueError, RuntimeError, zstd_module().ZstdError) as exc:
                    raise BagError(f"{path}: unreadable MCAP chunk at byte {start} ({exc})") from None
                if size > MAX_CHUNK_BYTES or size != stated:
                    raise BagError(
                        f"{path}: refused: the MCAP chunk at byte {start} inflates to "
                        f"{'over ' if size > MAX_CHUNK_BYTES else ''}{size} bytes; its header says {stated} "
                        f"(a chunk may hold {MAX_CHUNK_BYTES})"
                    )
            f.seek(start + 9 + length)
