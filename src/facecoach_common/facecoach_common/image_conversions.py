"""sensor_msgs Image / CompressedImage <-> NumPy, with cv_bridge's semantics (imports messages, not rclpy).

This is the one conversion path of every FaceCoach package. A raw Image's pixels go through cv_bridge where
it can be imported (a ROS 2 install's), else through this module's own converter (the PyPI cv-bridge is
broken on NumPy 2 and the Jetson's ROS 2 may lack it); the checks before (encoding, size, step, length) are
this module's either way, and a test compares the two where both exist. Compressed frames are never handed
to cv_bridge: only a JPEG or PNG whose header passed the size check reaches a decoder.
"""

import array
from typing import Dict, Optional

from .image_headers import PNG_SIGNATURE, encoded_size
from .opencv_limits import MAX_SIDE, bound_decoder

bound_decoder()  # before cv2 is imported: OpenCV reads its limits then (opencv_limits)

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from sensor_msgs.msg import CompressedImage, Image  # noqa: E402
from std_msgs.msg import Header  # noqa: E402

# encoding -> channels; all 8-bit, so byte order (is_bigendian) does not matter. What numpy_to_image writes.
CHANNELS: Dict[str, int] = {"bgr8": 3, "rgb8": 3, "mono8": 1, "bgra8": 4, "rgba8": 4}
# What image_to_numpy reads besides: encoding -> (bytes a pixel, what it is). mono16 is scaled to 8 bits (>> 8,
# as cv_bridge does); the packed YUV 4:2:2 cameras (two pixels in 4 bytes) are converted to BGR.
_PACKED = {"mono16": 2, "yuv422_yuy2": 2, "yuyv": 2, "uyvy": 2, "yuv422": 2}
READABLE = sorted(set(CHANNELS) | set(_PACKED))
# Colour conversions to BGR; bgr8 needs none.
_TO_BGR = {
    "rgb8": cv2.COLOR_RGB2BGR,
    "mono8": cv2.COLOR_GRAY2BGR,
    "bgra8": cv2.COLOR_BGRA2BGR,
    "rgba8": cv2.COLOR_RGBA2BGR,
    "yuv422_yuy2": cv2.COLOR_YUV2BGR_YUY2,  # Y0 U Y1 V
    "yuyv": cv2.COLOR_YUV2BGR_YUY2,
    "uyvy": cv2.COLOR_YUV2BGR_UYVY,  # U Y0 V Y1; ROS's "yuv422" is this one
    "yuv422": cv2.COLOR_YUV2BGR_UYVY,
}
# cv_bridge's names for what image_transport / cameras call yuyv and uyvy.
_BRIDGE_NAMES = {"yuyv": "yuv422_yuy2", "uyvy": "yuv422"}
# A frame larger than MAX_SIDE a side is refused before any allocation: a corrupt header must not cost gigabytes.
_FORMATS = {"jpeg": ".jpg", "jpg": ".jpg", "png": ".png"}


class ImageConversionError(ValueError):
    """An image message that cannot be converted; ``reason`` is a short code (e.g. 'encoding', 'step')."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def _check_size(width: int, height: int, max_side: int) -> None:
    if width <= 0 or height <= 0:
        raise ImageConversionError("size", f"image has zero size ({width}x{height})")
    if width > max_side or height > max_side:
        raise ImageConversionError(
            "too_large", f"image {width}x{height} is larger than the {max_side}x{max_side} limit"
        )


def image_to_numpy(msg: Image, to_bgr: bool = False, max_side: int = MAX_SIDE) -> np.ndarray:
    """Image -> uint8 array: BGR HxWx3 for colour (alpha dropped), HxW for mono8/mono16; ``to_bgr`` always gives BGR.

    Reads rgb8, bgr8, mono8, mono16, yuv422_yuy2 (yuyv), uyvy (yuv422), bgra8 and rgba8; anything else is
    refused with reason 'encoding' and the list.
    """
    encoding = msg.encoding.lower()
    channels = CHANNELS.get(encoding) or _PACKED.get(encoding)
    if channels is None:
        raise ImageConversionError(
            "encoding", f"unsupported encoding {msg.encoding!r} (supported: {', '.join(READABLE)})"
        )
    width, height, step = int(msg.width), int(msg.height), int(msg.step)
    _check_size(width, height, max_side)
    row = width * channels
    if encoding in ("yuv422_yuy2", "yuyv", "uyvy", "yuv422") and width % 2:
        raise ImageConversionError(
            "size", f"a {encoding} image needs an even width (two pixels share 4 bytes), not {width}"
        )
    if step < row:
        raise ImageConversionError("step", f"step {step} is shorter than width*channels = {width}*{channels} = {row}")
    data = np.frombuffer(msg.data, dtype=np.uint8)
    if data.size < step * height:
        raise ImageConversionError(
            "truncated",
            f"data has {data.size} bytes, a {width}x{height} {encoding} image with step {step} needs {step * height}",
        )
    bridge = _bridge() if isinstance(msg, Image) else None
    if bridge is not None:
        return _bridge_convert(bridge, msg, encoding, to_bgr)
    pixels = data[: step * height].reshape(height, step)[:, :row]
    if encoding == "mono16":
        words = np.ascontiguousarray(pixels).view(">u2" if msg.is_bigendian else "<u2")
        gray = (words >> 8).astype(np.uint8)
        return cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR) if to_bgr else gray
    if encoding in _PACKED:  # packed YUV: 2 bytes a pixel
        return cv2.cvtColor(np.ascontiguousarray(pixels.reshape(height, width, 2)), _TO_BGR[encoding])
    image = pixels.reshape(height, width) if channels == 1 else pixels.reshape(height, width, channels)
    if encoding == "bgr8" or (encoding == "mono8" and not to_bgr):
        # Copy: the message's buffer may be read-only, and padded rows are not contiguous.
        return np.array(image, copy=True, order="C")
    return cv2.cvtColor(np.ascontiguousarray(image), _TO_BGR[encoding])


_BRIDGE: Optional[list] = None  # [CvBridge or None], once


def _bridge():
    """cv_bridge's CvBridge where it imports and works (a ROS 2 install), else None (this module converts)."""
    global _BRIDGE
    if _BRIDGE is None:
        try:
            from cv_bridge import CvBridge

            _BRIDGE = [CvBridge()]
        except Exception:  # noqa: BLE001 - absent, or built against another NumPy: the own converter serves
            _BRIDGE = [None]
    return _BRIDGE[0]


def _bridge_convert(bridge, msg: Image, encoding: str, to_bgr: bool) -> np.ndarray:
    """The checked message's pixels through cv_bridge: BGR, or mono8 for the gray encodings (as ours)."""
    if encoding in _BRIDGE_NAMES:  # cv_bridge knows these under their sensor_msgs names
        renamed = Image(header=msg.header, height=msg.height, width=msg.width, encoding=_BRIDGE_NAMES[encoding])
        renamed.is_bigendian, renamed.step, renamed.data = msg.is_bigendian, msg.step, msg.data
        msg = renamed
    gray = encoding in ("mono8", "mono16") and not to_bgr
    try:
        out = bridge.imgmsg_to_cv2(msg, desired_encoding="mono8" if gray else "bgr8")
    except Exception as exc:  # noqa: BLE001 - cv_bridge raises its own CvBridgeError and cv2.error
        raise ImageConversionError("convert", f"cv_bridge cannot convert this {encoding} image: {exc}") from exc
    return np.array(out, copy=True, order="C")


def numpy_to_image(image: np.ndarray, encoding: str = "bgr8", header: Optional[Header] = None) -> Image:
    """uint8 array (HxW for mono8, HxWxC otherwise) -> Image with a tight step; the pixels are stored as given."""
    channels = CHANNELS.get(encoding)
    if channels is None:
        raise ImageConversionError(
            "encoding", f"unsupported encoding {encoding!r} (supported: {', '.join(sorted(CHANNELS))})"
        )
    if image.dtype != np.uint8:
        raise ImageConversionError("dtype", f"array dtype is {image.dtype}, {encoding} needs uint8")
    shape_ok = image.ndim == 2 if channels == 1 else (image.ndim == 3 and image.shape[2] == channels)
    if channels == 1 and image.ndim == 3 and image.shape[2] == 1:
        image, shape_ok = image[:, :, 0], True
    if not shape_ok:
        raise ImageConversionError(
            "shape", f"array shape {image.shape} does not match {encoding} ({channels} channel(s))"
        )
    height, width = image.shape[:2]
    _check_size(width, height, MAX_SIDE)
    msg = Image()
    if header is not None:
        msg.header = header
    msg.height, msg.width, msg.encoding, msg.is_bigendian = height, width, encoding, 0
    msg.step = width * channels
    # array.array is the message's native storage: assigning it skips a per-byte Python check.
    msg.data = array.array("B", np.ascontiguousarray(image).tobytes())
    return msg


def compressed_to_numpy(msg: CompressedImage, max_side: int = MAX_SIDE, gray: bool = False) -> np.ndarray:
    """CompressedImage (jpeg/png) -> BGR uint8 HxWx3 (HxW with ``gray``); the size is checked before decoding.

    Only a JPEG or PNG whose header gave its size, within ``max_side``, reaches the decoder: a 300-byte file
    can claim 20000x20000 pixels (1.2 GB decoded), in any format OpenCV reads. Every other format and every
    header that cannot be read are refused (reason 'format' / 'header'), whatever ``msg.format`` says.
    """
    raw = bytes(msg.data)
    if not raw:
        raise ImageConversionError("empty", f"compressed image (format {msg.format!r}) has no data")
    size = encoded_size(raw)
    if size is None:
        if raw[:8] == PNG_SIGNATURE or raw[:2] == b"\xff\xd8":
            raise ImageConversionError(
                "header",
                f"compressed image ({len(raw)} bytes, format {msg.format!r}): no readable image size in "
                "its JPEG/PNG header, not decoded",
            )
        raise ImageConversionError(
            "format",
            f"compressed image ({len(raw)} bytes, format {msg.format!r}, starts {raw[:4].hex()}) is not "
            "JPEG or PNG: only those are decoded",
        )
    _check_size(size[0], size[1], max_side)
    data = np.frombuffer(raw, dtype=np.uint8)
    try:
        image = cv2.imdecode(data, cv2.IMREAD_GRAYSCALE if gray else cv2.IMREAD_COLOR)
    except cv2.error as exc:  # OpenCV's own size limit (opencv_limits), or a decoder that gave up loudly
        raise ImageConversionError(
            "decode",
            f"compressed image ({data.size} bytes, format {msg.format!r}) refused by OpenCV: "
            + (str(exc).strip().splitlines() or ["no reason"])[-1],
        ) from exc
    if image is None:
        raise ImageConversionError(
            "decode", f"compressed image ({data.size} bytes, format {msg.format!r}) cannot be decoded"
        )
    _check_size(image.shape[1], image.shape[0], max_side)
    return image


_BOUNDED: Optional[bool] = None


def opencv_decoder_bounded() -> bool:
    """True when this process's OpenCV refuses to decode a frame beyond MAX_SIDE (its limits were set in time).

    Checked once, on a 1 x (MAX_SIDE + 1) PNG: within OpenCV's default limits, beyond ours.
    """
    global _BOUNDED
    if _BOUNDED is None:
        _, probe = cv2.imencode(".png", np.zeros((1, MAX_SIDE + 1), np.uint8))
        try:
            _BOUNDED = cv2.imdecode(probe, cv2.IMREAD_GRAYSCALE) is None
        except cv2.error:
            _BOUNDED = True
    return _BOUNDED


def frame_to_bgr(msg, max_side: int = MAX_SIDE) -> np.ndarray:
    """The BGR frame of an Image or a CompressedImage message (rclpy's or rosbags' classes alike)."""
    if hasattr(msg, "format"):  # only CompressedImage has a format field
        return compressed_to_numpy(msg, max_side)
    return image_to_numpy(msg, to_bgr=True, max_side=max_side)


def frame_to_detect(msg, max_side: int = MAX_SIDE) -> np.ndarray:
    """The frame the face detector works on: a CompressedImage decoded gray, an Image as it is (BGR or mono).

    The detector and the classifier only use gray levels. A JPEG's gray is its own luma plane, so decoding
    only that skips the chroma upsampling and the colour conversion (``facecoach bench``'s decode stage, a
    640x480 sample frame: 0.5 ms, against 1.2 ms for a colour decode).
    """
    if hasattr(msg, "format"):
        return compressed_to_numpy(msg, max_side, gray=True)
    return image_to_numpy(msg, max_side=max_side)


def numpy_to_compressed(
    image: np.ndarray, fmt: str = "jpeg", quality: int = 90, header: Optional[Header] = None
) -> CompressedImage:
    """BGR (or mono) uint8 array -> CompressedImage; ``fmt`` is 'jpeg' or 'png', as image_transport names them."""
    ext = _FORMATS.get(fmt.lower())
    if ext is None:
        raise ImageConversionError("format", f"unsupported compressed format {fmt!r} (use 'jpeg' or 'png')")
    if image.dtype != np.uint8 or image.ndim not in (2, 3):
        raise ImageConversionError("shape", f"cannot compress an array of shape {image.shape} and dtype {image.dtype}")
    params = [cv2.IMWRITE_JPEG_QUALITY, int(quality)] if ext == ".jpg" else []
    ok, encoded = cv2.imencode(ext, image, params)
    if not ok:
        raise ImageConversionError("encode", f"OpenCV could not encode a {image.shape} array as {fmt}")
    msg = CompressedImage()
    if header is not None:
        msg.header = header
    # image_transport's format string: "<the image's encoding>; <jpeg|png> compressed <what was compressed>"
    encoding = "mono8" if image.ndim == 2 else {1: "mono8", 3: "bgr8", 4: "bgra8"}.get(image.shape[2], "bgr8")
    msg.format = f"{encoding}; {'jpeg' if ext == '.jpg' else 'png'} compressed {encoding}"
    msg.data = array.array("B", encoded.tobytes())
    return msg
