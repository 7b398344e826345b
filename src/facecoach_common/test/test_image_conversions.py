"""image_conversions: every encoding, step padding, and every rejection."""

import array
import resource
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header

from facecoach_common.image_conversions import (
    MAX_SIDE,
    ImageConversionError,
    compressed_to_numpy,
    encoded_size,
    frame_to_bgr,
    frame_to_detect,
    image_to_numpy,
    numpy_to_compressed,
    numpy_to_image,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "test"))  # the repository's shared test helpers
from hostile_inputs import jpeg_claiming, tiff_claiming  # noqa: E402


def _bgr(h: int = 5, w: int = 7) -> np.ndarray:
    rng = np.random.default_rng(1)
    return rng.integers(0, 256, (h, w, 3), dtype=np.uint8)


def _msg(pixels: np.ndarray, encoding: str, pad: int = 0) -> Image:
    """An Image with ``pad`` extra bytes at the end of every row."""
    h, w = pixels.shape[:2]
    rows = pixels.reshape(h, -1)
    padded = np.concatenate([rows, np.full((h, pad), 0xAB, np.uint8)], axis=1)
    m = Image(height=h, width=w, encoding=encoding, step=rows.shape[1] + pad)
    m.data = array.array("B", padded.tobytes())
    return m


@pytest.mark.parametrize("pad", [0, 3])
@pytest.mark.parametrize(
    "encoding,to_native",
    [
        ("bgr8", lambda b: b),
        ("rgb8", lambda b: cv2.cvtColor(b, cv2.COLOR_BGR2RGB)),
        ("bgra8", lambda b: cv2.cvtColor(b, cv2.COLOR_BGR2BGRA)),
        ("rgba8", lambda b: cv2.cvtColor(b, cv2.COLOR_BGR2RGBA)),
    ],
)
def test_colour_encodings_give_bgr(encoding, to_native, pad):
    bgr = _bgr()
    out = image_to_numpy(_msg(to_native(bgr), encoding, pad))
    assert out.dtype == np.uint8 and out.shape == bgr.shape
    np.testing.assert_array_equal(out, bgr)


@pytest.mark.parametrize("pad", [0, 1])
def test_mono8_is_2d_or_bgr(pad):
    gray = _bgr()[:, :, 0].copy()
    np.testing.assert_array_equal(image_to_numpy(_msg(gray, "mono8", pad)), gray)
    bgr = image_to_numpy(_msg(gray, "mono8", pad), to_bgr=True)
    assert bgr.shape == gray.shape + (3,)
    np.testing.assert_array_equal(bgr[:, :, 2], gray)


def test_result_is_writable_and_contiguous():
    out = image_to_numpy(_msg(_bgr(), "bgr8", pad=2))
    assert out.flags.c_contiguous and out.flags.writeable


def test_big_endian_flag_is_irrelevant_for_8_bit():
    m = _msg(_bgr(), "bgr8")
    m.is_bigendian = 1
    np.testing.assert_array_equal(image_to_numpy(m), _bgr())


def test_round_trip_every_encoding():
    bgr = _bgr()
    header = Header(frame_id="cam")
    header.stamp.sec = 12
    for encoding, arr in [
        ("bgr8", bgr),
        ("rgb8", bgr),
        ("bgra8", np.dstack([bgr, bgr[:, :, :1]])),
        ("mono8", bgr[:, :, 0]),
    ]:
        m = numpy_to_image(arr, encoding, header)
        assert m.header.stamp.sec == 12 and m.header.frame_id == "cam"
        assert m.step == arr.shape[1] * (1 if arr.ndim == 2 else arr.shape[2])
        back = np.frombuffer(m.data, np.uint8).reshape(arr.shape)
        np.testing.assert_array_equal(back, arr)
    np.testing.assert_array_equal(image_to_numpy(numpy_to_image(bgr)), bgr)


def _packed_yuv(bgr: np.ndarray, order: str) -> np.ndarray:
    """BGR -> packed YUV 4:2:2 (H x W x 2; BT.601 video range, as cameras send), chroma from each pair's first pixel."""
    b, g, r = (bgr[:, :, i].astype(float) for i in range(3))
    yuv = np.stack(
        [
            16 + 0.257 * r + 0.504 * g + 0.098 * b,
            128 - 0.148 * r - 0.291 * g + 0.439 * b,
            128 + 0.439 * r - 0.368 * g - 0.071 * b,
        ],
        axis=2,
    )
    yuv = np.clip(np.round(yuv), 0, 255).astype(np.uint8)
    y, u, v = yuv[:, :, 0], yuv[:, 0::2, 1], yuv[:, 0::2, 2]
    out = np.empty(bgr.shape[:2] + (2,), np.uint8)
    luma, chroma = (0, 1) if order == "yuyv" else (1, 0)
    out[:, :, luma] = y
    out[:, 0::2, chroma], out[:, 1::2, chroma] = u, v
    return out


@pytest.mark.parametrize("encoding", ["yuv422_yuy2", "yuyv", "uyvy", "yuv422"])
@pytest.mark.parametrize("pad", [0, 4])
def test_packed_yuv_422_cameras_give_bgr(encoding, pad):
    """Issue 22 B: a USB camera's YUYV / UYVY frames (2 bytes a pixel) are read, any step padding too."""
    bgr = np.zeros((6, 8, 3), np.uint8)
    bgr[:, :4], bgr[:, 4:] = (30, 160, 220), (200, 60, 90)  # colour constant over each pixel pair
    order = "yuyv" if encoding in ("yuv422_yuy2", "yuyv") else "uyvy"
    out = image_to_numpy(_msg(_packed_yuv(bgr, order), encoding, pad))
    assert out.shape == bgr.shape and out.dtype == np.uint8
    assert np.abs(out.astype(int) - bgr).max() <= 3, (out[0, :2], bgr[0, :2])
    assert np.abs(frame_to_detect(_msg(_packed_yuv(bgr, order), encoding)).astype(int) - bgr).max() <= 3


@pytest.mark.parametrize("bigendian", [0, 1])
def test_mono16_is_scaled_to_8_bits_in_either_byte_order(bigendian):
    gray = np.arange(35, dtype=np.uint8).reshape(5, 7) * 7
    words = (gray.astype(np.uint16) << 8) | 0x7F  # the low byte must not matter
    m = _msg(words.astype(">u2" if bigendian else "<u2").view(np.uint8).reshape(5, 14), "mono16")
    m.width, m.is_bigendian = 7, bigendian
    np.testing.assert_array_equal(image_to_numpy(m), gray)
    np.testing.assert_array_equal(image_to_numpy(m, to_bgr=True), cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR))


def test_an_unsupported_encoding_is_one_line_naming_the_supported_ones():
    m = _msg(_bgr(), "bgr8")
    m.encoding = "32FC1"
    with pytest.raises(ImageConversionError) as err:
        image_to_numpy(m)
    text = str(err.value)
    assert "\n" not in text and "'32FC1'" in text
    for name in ("bgr8", "rgb8", "mono8", "mono16", "yuv422_yuy2", "yuyv", "uyvy", "bgra8", "rgba8"):
        assert name in text, name


def test_cv_bridge_and_the_own_converter_agree(monkeypatch):
    """Where cv_bridge imports (a ROS 2 install) it converts raw images; it must give what the own converter gives."""
    pytest.importorskip(
        "cv_bridge", reason="cv_bridge is not installed here (ros-<distro>-cv-bridge): nothing to compare"
    )
    import facecoach_common.image_conversions as conv

    assert conv._bridge() is not None, "cv_bridge imports but cannot be used"
    bgr = np.zeros((6, 8, 3), np.uint8)
    bgr[:, :4], bgr[:, 4:] = (30, 160, 220), (200, 60, 90)
    gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    mono16 = _msg(((gray.astype(np.uint16) << 8) | 0x7F).astype("<u2").view(np.uint8).reshape(6, 16), "mono16")
    mono16.width = 8
    msgs = [
        _msg(bgr, "bgr8", 3),
        _msg(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), "rgb8"),
        _msg(gray, "mono8"),
        mono16,
        _msg(_packed_yuv(bgr, "yuyv"), "yuyv"),
        _msg(_packed_yuv(bgr, "yuyv"), "yuv422_yuy2"),
        _msg(_packed_yuv(bgr, "uyvy"), "uyvy"),
        _msg(cv2.cvtColor(bgr, cv2.COLOR_BGR2BGRA), "bgra8"),
        _msg(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGBA), "rgba8"),
    ]
    for m in msgs:
        for to_bgr in (False, True):
            theirs = image_to_numpy(m, to_bgr=to_bgr)
            monkeypatch.setattr(conv, "_BRIDGE", [None])
            ours = image_to_numpy(m, to_bgr=to_bgr)
            monkeypatch.undo()
            assert theirs.shape == ours.shape, m.encoding
            assert np.abs(theirs.astype(int) - ours).max() <= 1, m.encoding


@pytest.mark.parametrize(
    "mutate,reason",
    [
        (lambda m: setattr(m, "encoding", "bayer_rggb8"), "encoding"),
        (lambda m: setattr(m, "encoding", "16UC1"), "encoding"),
        (lambda m: setattr(m, "step", m.width * 3 - 1), "step"),
        (lambda m: setattr(m, "data", m.data[:-1]), "truncated"),
        (lambda m: setattr(m, "data", array.array("B")), "truncated"),
        (lambda m: setattr(m, "width", 0), "size"),
        (lambda m: setattr(m, "height", 0), "size"),
        (lambda m: (setattr(m, "width", MAX_SIDE + 1), setattr(m, "step", (MAX_SIDE + 1) * 3)), "too_large"),
        (lambda m: setattr(m, "height", 100000), "too_large"),
    ],
)
def test_rejections_name_the_problem(mutate, reason):
    m = _msg(_bgr(), "bgr8")
    mutate(m)
    with pytest.raises(ImageConversionError) as err:
        image_to_numpy(m)
    assert err.value.reason == reason
    assert isinstance(err.value, ValueError) and str(err.value)


def test_numpy_to_image_rejections():
    with pytest.raises(ImageConversionError, match="uint8"):
        numpy_to_image(np.zeros((4, 4, 3), np.float32))
    with pytest.raises(ImageConversionError, match="shape"):
        numpy_to_image(np.zeros((4, 4), np.uint8), "bgr8")
    with pytest.raises(ImageConversionError, match="encoding"):
        numpy_to_image(np.zeros((4, 4, 3), np.uint8), "nv12")
    with pytest.raises(ImageConversionError, match="zero size"):
        numpy_to_image(np.zeros((0, 4, 3), np.uint8))


def test_compressed_round_trip_jpeg_and_png():
    bgr = np.zeros((32, 40, 3), np.uint8)
    bgr[8:24, 10:30] = (40, 160, 220)
    header = Header(frame_id="cam")
    jpeg = numpy_to_compressed(bgr, "jpeg", 95, header)
    assert jpeg.format == "bgr8; jpeg compressed bgr8" and jpeg.header.frame_id == "cam"  # image_transport's string
    assert numpy_to_compressed(bgr, "png").format == "bgr8; png compressed bgr8"
    assert numpy_to_compressed(bgr[:, :, 0], "jpeg").format == "mono8; jpeg compressed mono8"
    out = compressed_to_numpy(jpeg)
    assert out.shape == bgr.shape and np.abs(out.astype(int) - bgr).mean() < 3
    np.testing.assert_array_equal(compressed_to_numpy(numpy_to_compressed(bgr, "png")), bgr)
    with pytest.raises(ImageConversionError, match="format"):
        numpy_to_compressed(bgr, "webp2")


def test_compressed_rejections():
    with pytest.raises(ImageConversionError) as err:
        compressed_to_numpy(CompressedImage(format="jpeg"))
    assert err.value.reason == "empty"
    bad = CompressedImage(format="jpeg")
    bad.data = array.array("B", b"\xff\xd8\xff\xe0 definitely not a jpeg" * 4)
    with pytest.raises(ImageConversionError) as err:
        compressed_to_numpy(bad)
    assert err.value.reason == "header"
    jpeg = bytes(numpy_to_compressed(_bgr(8, 8), "jpeg").data)
    sof = jpeg.index(b"\xff\xc0")
    bad.data = array.array("B", jpeg[: sof + 2 + 17] + b"\xff\xd9")  # a frame header, then no scan
    with pytest.raises(ImageConversionError) as err:
        compressed_to_numpy(bad)
    assert err.value.reason == "decode"
    big = numpy_to_compressed(np.zeros((8, 40, 3), np.uint8), "png")
    with pytest.raises(ImageConversionError) as err:
        compressed_to_numpy(big, max_side=32)
    assert err.value.reason == "too_large"


def test_frame_to_bgr_decodes_raw_and_compressed_frames():
    img = _bgr(16, 24)
    np.testing.assert_array_equal(frame_to_bgr(numpy_to_image(img[:, :, ::-1].copy(), "rgb8")), img)
    png = numpy_to_compressed(img, fmt="png")
    np.testing.assert_array_equal(frame_to_bgr(png), compressed_to_numpy(png))
    np.testing.assert_array_equal(frame_to_bgr(png), img)


def test_the_detector_gets_a_compressed_frame_gray_and_a_raw_one_as_it_is():
    img = _bgr(16, 24)
    png = numpy_to_compressed(img, fmt="png")
    # libpng's and OpenCV's BGR -> gray round differently: within one grey level.
    np.testing.assert_allclose(frame_to_detect(png), cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), atol=1)
    jpeg = numpy_to_compressed(img, fmt="jpeg", quality=95)
    gray = frame_to_detect(jpeg)
    assert gray.shape == (16, 24)
    # The JPEG's luma against the gray of its colour decode (chroma upsampled, converted back): close, not equal.
    colour_gray = cv2.cvtColor(compressed_to_numpy(jpeg), cv2.COLOR_BGR2GRAY)
    assert np.abs(gray.astype(int) - colour_gray).mean() < 1.0
    np.testing.assert_array_equal(frame_to_detect(numpy_to_image(img, "bgr8")), img)
    mono = img[:, :, 0].copy()
    np.testing.assert_array_equal(frame_to_detect(numpy_to_image(mono, "mono8")), mono)
    with pytest.raises(ImageConversionError) as err:
        frame_to_detect(png, max_side=8)
    assert err.value.reason == "too_large"


def test_encoded_size_reads_jpeg_and_png_headers():
    img = _bgr(30, 50)
    assert encoded_size(bytes(numpy_to_compressed(img, "jpeg").data)) == (50, 30)
    assert encoded_size(bytes(numpy_to_compressed(img, "png").data)) == (50, 30)
    assert encoded_size(b"GIF89a....") is None and encoded_size(b"\xff\xd8\xff") is None


def test_a_decompression_bomb_is_refused_from_its_header_before_decoding():
    """A small JPEG whose header claims 20000x20000 is refused before decoding (2.7 GB peak in eval-bag otherwise)."""
    import struct

    data = bytearray(numpy_to_compressed(_bgr(16, 16), "jpeg").data)
    sof = next(i for i in range(2, len(data) - 1) if data[i] == 0xFF and data[i + 1] in (0xC0, 0xC2))
    data[sof + 5 : sof + 9] = struct.pack(">HH", 20000, 20000)
    bomb = CompressedImage(format="jpeg")
    bomb.data = array.array("B", bytes(data))
    assert encoded_size(bytes(data)) == (20000, 20000)
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(ImageConversionError) as err:
        compressed_to_numpy(bomb)
    assert err.value.reason == "too_large" and "20000x20000" in str(err.value)
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_kib) / 1024
    assert grown_mib < 200, f"refusing the bomb raised the peak memory by {grown_mib:.0f} MiB"


# ------------------------------------------------------------------ decoder bombs (issue 20, item 2)


def _compressed(data: bytes, fmt: str = "jpeg") -> CompressedImage:
    msg = CompressedImage(format=fmt)
    msg.data = array.array("B", data)
    return msg


def test_a_frame_header_behind_junk_bytes_is_found_and_the_bomb_refused():
    bomb = jpeg_claiming(20000, 20000)
    assert len(bomb) == 335 and encoded_size(bomb) == (20000, 20000)
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(ImageConversionError) as err:
        compressed_to_numpy(_compressed(bomb))
    assert err.value.reason == "too_large" and "20000x20000" in str(err.value)
    assert (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_kib) / 1024 < 100
    # The same junk in a frame that fits: found, decoded at the size the header gave.
    small = jpeg_claiming(8, 8, junk=b"\x12\x34\x00\xff\x00")
    assert encoded_size(small) == (8, 8) and compressed_to_numpy(_compressed(small)).shape == (8, 8, 3)


def test_the_marker_walk_reads_fill_bytes_restart_markers_and_big_segments_as_libjpeg_does():
    jpeg = bytes(numpy_to_compressed(_bgr(30, 50), "jpeg").data)
    sof = jpeg.index(b"\xff\xc0")
    com = b"\xff\xfe\xff\xff" + bytes(65533)  # a 64 KiB comment, such as an EXIF block
    variants = {
        "fill bytes": jpeg[:sof] + b"\xff\xff\xff" + jpeg[sof:],
        "stuffed zero and a restart marker": jpeg[:sof] + b"\xff\x00\xff\xd3" + jpeg[sof:],
        "big segment": jpeg[:sof] + com + jpeg[sof:],
    }
    for what, data in variants.items():
        assert encoded_size(data) == (50, 30), what
        assert compressed_to_numpy(_compressed(data)).shape == (30, 50, 3), what


@pytest.mark.parametrize(
    "data",
    [
        b"\xff\xd8\xff\xe0\x00\x10" + bytes(14) + b"\xff\xda\x00\x08" + bytes(6),  # a scan before any frame header
        b"\xff\xd8\xff\xe0\x00\x10" + bytes(14) + b"\xff\xd9",  # the end before any frame header
        b"\xff\xd8\xff\xe0\x00\x10" + bytes(14) + b"\xff\xd8\xff\xc0",  # a second SOI
        b"\xff\xd8\xff\xc0\x00\x11\x08\x00",  # a frame header cut short
        b"\xff\xd8\xff\xe0\x00\x01",  # a segment length below 2
        b"\xff\xd8\xff" + b"\xfe\x00\x02\xff" * 5000 + b"\xc0\x00\x11\x08\x00\x08\x00\x08",  # 5000 segments first
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR\x00\x00",  # IHDR cut short
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dCgBI" + bytes(17),  # IHDR not first
    ],
    ids=["sos", "eoi", "soi", "short-sof", "bad-length", "many-segments", "short-ihdr", "no-ihdr"],
)
def test_an_unreadable_header_is_refused_in_one_line_without_decoding(data):
    assert encoded_size(data) is None
    with pytest.raises(ImageConversionError) as err:
        compressed_to_numpy(_compressed(data))
    assert err.value.reason == "header" and "\n" not in str(err.value)


def test_formats_other_than_jpeg_and_png_are_refused_even_small_ones():
    image = _bgr(16, 16)
    others = {ext: cv2.imencode(ext, image)[1].tobytes() for ext in (".tiff", ".bmp", ".ppm", ".webp")}
    others["tiff bomb"] = tiff_claiming(20000, 20000)
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for what, data in others.items():
        with pytest.raises(ImageConversionError) as err:
            frame_to_detect(_compressed(data, fmt="png"))  # what msg.format says does not matter
        assert err.value.reason == "format" and "not JPEG or PNG" in str(err.value), what
        assert "\n" not in str(err.value)
    assert (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_kib) / 1024 < 100


def test_what_is_decoded_is_the_size_the_header_gave():
    """Mutated JPEGs and PNGs: whatever OpenCV decodes has exactly the size read from the header first."""
    rng = np.random.default_rng(20)
    seeds = [bytes(numpy_to_compressed(_bgr(12, 20), fmt).data) for fmt in ("jpeg", "png")]
    seeds.append(jpeg_claiming(20, 12, junk=b"\x01\x02\x03"))
    checked = 0
    for i in range(600):
        data = bytearray(seeds[i % len(seeds)])
        for _ in range(int(rng.integers(1, 4))):
            at = int(rng.integers(2, min(len(data), 200)))
            if rng.random() < 0.3:
                data[at:at] = bytes(rng.integers(0, 256, int(rng.integers(1, 4)), dtype=np.uint8))
            else:
                data[at] = int(rng.integers(0, 256))
        size = encoded_size(bytes(data))
        try:
            out = compressed_to_numpy(_compressed(bytes(data)), max_side=64, gray=True)
        except ImageConversionError as exc:
            assert exc.reason in ("header", "format", "too_large", "size", "decode"), exc
            continue
        assert size is not None and out.shape == (size[1], size[0]), (i, size, out.shape)
        checked += 1
    assert checked > 100


def test_opencv_is_bounded_when_image_conversions_imports_it_and_says_so_when_it_came_too_late(tmp_path):
    """The second line of defence: OpenCV's own limit, set before cv2 is imported (a fresh interpreter each)."""
    import subprocess

    bomb = tmp_path / "bomb.jpg"
    bomb.write_bytes(jpeg_claiming(20000, 20000))
    decode = (
        "import resource, numpy as np\n"
        f"data = np.fromfile({str(bomb)!r}, np.uint8)\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "try:\n"
        "    out = cv2.imdecode(data, cv2.IMREAD_GRAYSCALE)\n"
        "except cv2.error:\n"
        "    out = 'refused'\n"
        "print(ic.opencv_decoder_bounded(), getattr(out, 'shape', out),"
        " (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)\n"
    )
    first = "import facecoach_common.image_conversions as ic\nimport cv2\n"
    late = "import cv2\nimport facecoach_common.image_conversions as ic\n"
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("OPENCV_IO_MAX")}
    bounded = subprocess.run([sys.executable, "-c", first + decode], capture_output=True, text=True, env=env)
    assert bounded.returncode == 0, bounded.stderr
    ok, out, grown_mib = bounded.stdout.split()
    assert (ok, out) == ("True", "refused") and int(grown_mib) < 50, bounded.stdout
    unbounded = subprocess.run(
        [sys.executable, "-c", late + "print(ic.opencv_decoder_bounded())"], capture_output=True, text=True, env=env
    )
    assert unbounded.stdout.split() == ["False"], unbounded.stderr
