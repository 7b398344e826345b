"""The size of a compressed image read from its header, without decoding it (JPEG and PNG only).

A decoder bomb declares a huge image in a few bytes: the size is checked before anything is decoded. Plain
Python (no cv2, no ROS); runs on the device (Python 3.6).
"""

import re
import struct
from typing import Optional, Tuple

# JPEG markers: the frame headers SOF0..SOF15 (0xC4 DHT, 0xC8 JPG and 0xCC DAC share their range) and the ones
# without a length field (TEM, RST0..RST7).
_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_STANDALONE = frozenset([0x01] + list(range(0xD0, 0xD8)))
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# libjpeg's next marker: fill bytes (0xFF...), then a byte that is neither 0xFF nor 0x00 (0xFF 0x00 is a stuffed
# 0xFF in data); whatever comes before it is skipped, as libjpeg skips it.
_NEXT_MARKER = re.compile(b"\xff+([^\x00\xff])")
_MAX_SEGMENTS = 4096


def _png_size(data: bytes) -> Optional[Tuple[int, int]]:
    # The first chunk must be the 13-byte IHDR (libpng refuses anything else): width, height.
    if len(data) < 24 or data[8:16] != b"\x00\x00\x00\x0dIHDR":
        return None
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)


def _jpeg_size(data: bytes) -> Optional[Tuple[int, int]]:
    """The first SOFn's size, found the way libjpeg walks the markers before it; None when there is none.

    libjpeg skips any bytes that are not a marker between two segments (it only warns "extraneous bytes
    before marker"), so they are skipped here too: a frame header hidden behind junk is still read. libjpeg
    stops with an error at a scan, the end or a second SOI before a frame header: so does this (None), and
    after _MAX_SEGMENTS segments (a real file has a few dozen; the walk must stay cheap on a crafted one).
    """
    if data[:3] != b"\xff\xd8\xff":  # SOI, then a marker: OpenCV's signature for its JPEG decoder
        return None
    i, n = 2, len(data)
    for _ in range(_MAX_SEGMENTS):
        found = _NEXT_MARKER.search(data, i)
        if found is None:
            return None
        marker, i = found.group(1)[0], found.end()
        if marker in _STANDALONE:
            continue
        if marker in (0xD8, 0xD9, 0xDA):  # a second SOI, EOI or SOS before any frame header
            return None
        if i + 2 > n:
            return None
        (length,) = struct.unpack(">H", data[i : i + 2])
        if length < 2:
            return None
        if marker in _SOF:  # length, precision, height, width
            if length < 8 or i + 7 > n:
                return None
            height, width = struct.unpack(">HH", data[i + 3 : i + 7])
            return int(width), int(height)
        i += length
    return None


def encoded_size(data: bytes) -> Optional[Tuple[int, int]]:
    """(width, height) from a PNG or JPEG header without decoding it, or None when it is neither / unreadable."""
    if data[:8] == PNG_SIGNATURE:
        return _png_size(data)
    return _jpeg_size(data)
