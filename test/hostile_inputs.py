"""Hostile inputs the tests make themselves: small files that claim huge images (decoder bombs).

Shared by the unit tests of ``facecoach_common.image_conversions`` and the node tests that send them to a
running face detector. Plain bytes, made with struct/zlib/OpenCV in milliseconds: nothing is downloaded.
"""

import struct
import zlib

import cv2
import numpy as np


def jpeg_claiming(width: int, height: int, junk: bytes = b"\x00\x00") -> bytes:
    """An 8x8 gray JPEG whose frame header claims ``width`` x ``height``, with ``junk`` after its APP0 segment.

    libjpeg skips the junk ("2 extraneous bytes before marker") and decodes the whole claimed size, filling
    what the data lacks: 335 bytes for a 20000x20000 picture (400 MB gray, 1.2 GB colour), over a second.
    """
    data = bytearray(cv2.imencode(".jpg", np.zeros((8, 8), np.uint8))[1].tobytes())
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    app0_end = 4 + struct.unpack(">H", bytes(data[4:6]))[0]
    return bytes(data[:app0_end]) + junk + bytes(data[app0_end:])


def tiff_claiming(width: int, height: int, rows: int = 100) -> bytes:
    """A valid 8-bit gray TIFF of ``width`` x ``height`` zeros in a few KB: all its deflated strips are one."""
    strip = zlib.compress(bytes(width * rows), 9)
    n = -(-height // rows)
    offsets_at = 8 + len(strip)
    counts_at = offsets_at + 4 * n
    ifd_at = counts_at + 4 * n
    fields = [(256, width), (257, height), (258, 8), (259, 8), (262, 1), (277, 1), (278, rows)]  # 259=8: deflate
    entries = [
        struct.pack("<HHIHH", tag, 3, 1, value, 0) if value < 65536 else struct.pack("<HHII", tag, 4, 1, value)
        for tag, value in fields
    ]
    entries += [struct.pack("<HHII", 273, 4, n, offsets_at), struct.pack("<HHII", 279, 4, n, counts_at)]
    entries.sort(key=lambda e: struct.unpack("<H", e[:2])[0])  # TIFF wants its tags in order
    return (
        b"II*\x00"
        + struct.pack("<I", ifd_at)
        + strip
        + struct.pack(f"<{n}I", *([8] * n))
        + struct.pack(f"<{n}I", *([len(strip)] * n))
        + struct.pack("<H", len(entries))
        + b"".join(entries)
        + struct.pack("<I", 0)
    )
