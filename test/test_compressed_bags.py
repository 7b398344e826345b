"""Compressed bags (rosbag2 zstd, file and message mode; MCAP chunks) inflate only as far as a bag can hold.

The hostile bags are made here in milliseconds: zstd frames of run-length blocks written by hand (4 bytes
per 128 KiB inflated, so 20 KB claim 600 MB), put into bags that rosbags' Writer made. The commands run as a
user runs them, as subprocesses, with their disk writes capped (RLIMIT_FSIZE) and their peak memory read.
"""

from __future__ import annotations

import os
import resource
import sqlite3
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from facecoach_bag import compressed
from facecoach_bag.compressed import MAX_MESSAGE_BYTES, frame_sizes, inflate_message
from facecoach_bag.errors import BagError
from facecoach_bag.reader import messages, open_reader
from facecoach_bag.schema import typestore
from facecoach_bag.writer import BagWriter

IMAGE = "sensor_msgs/msg/Image"
TOPIC = "/camera/image_raw"
BLOCK = 128 * 1024  # zstd's largest block
MB = 1024 * 1024


def rle_frame(size: int, declared: bool = True, byte: int = 0) -> bytes:
    """A zstd frame of ``size`` bytes of ``byte`` in run-length blocks; its header declares the size or not."""
    header = b"\x28\xb5\x2f\xfd" + (b"\xc0\x38" + struct.pack("<Q", size) if declared else b"\x00\x38")
    blocks = []
    while size > 0:
        n = min(size, BLOCK)
        size -= n
        blocks.append((int(size == 0) | 1 << 1 | n << 3).to_bytes(3, "little") + bytes([byte]))
    return header + b"".join(blocks)


def _image(i: int) -> bytes:
    ts = typestore()
    cls = ts.types[IMAGE]
    header = ts.types["std_msgs/msg/Header"](
        stamp=ts.types["builtin_interfaces/msg/Time"](sec=1, nanosec=i), frame_id="cam"
    )
    pixels = np.full(32 * 24 * 3, i % 256, np.uint8)
    msg = cls(header=header, height=24, width=32, encoding="bgr8", is_bigendian=0, step=96, data=pixels)
    return ts.serialize_cdr(msg, IMAGE)


def compressed_bag(path: Path, mode: str, n: int = 5) -> Path:
    """A small bag of ``n`` images that rosbags' Writer compressed in ``mode`` ('file' or 'message')."""
    from rosbags.rosbag2 import CompressionFormat, CompressionMode, Writer

    writer = Writer(path, version=8)
    writer.set_compression(getattr(CompressionMode, mode.upper()), CompressionFormat.ZSTD)
    with writer:
        conn = writer.add_connection(TOPIC, IMAGE, typestore=typestore())
        for i in range(n):
            writer.write(conn, 1_000_000_000 + i * 33_000_000, _image(i))
    return path


def _storage_file(bag: Path) -> Path:
    return next(p for p in bag.iterdir() if p.name != "metadata.yaml")


def file_bomb(path: Path, size: int, declared: bool = True) -> Path:
    """A file-compressed bag whose storage file is ``size`` zero bytes in a few KB of zstd."""
    bag = compressed_bag(path, "file")
    _storage_file(bag).write_bytes(rle_frame(size, declared))
    return bag


def message_bomb(path: Path, size: int, declared: bool = True) -> Path:
    """A message-compressed bag whose first image inflates to ``size`` bytes."""
    bag = compressed_bag(path, "message")
    db = sqlite3.connect(str(_storage_file(bag)))
    with db:
        db.execute(
            "UPDATE messages SET data = ? WHERE id = (SELECT min(id) FROM messages)", (rle_frame(size, declared),)
        )
    db.close()
    return bag


def run_facecoach(*args, fsize: int = 64 * MB, tmpdir: Path | None = None) -> tuple:
    """(exit code, output, peak RSS in bytes) of ``facecoach ARGS``, its file writes capped at ``fsize``."""

    def child():
        resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))

    env = dict(os.environ, **({"TMPDIR": str(tmpdir)} if tmpdir else {}))
    cmd = [sys.executable, "-m", "facecoach_cli.cli", *map(str, args)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, preexec_fn=child, env=env)
    out = proc.stdout.read().decode()
    _pid, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    proc.stdout.close()
    return proc.returncode, out, usage.ru_maxrss * 1024


def _error_lines(out: str) -> list:
    return [line for line in out.splitlines() if line.startswith("facecoach ")]


# ------------------------------------------------------------------------------------------ zstd frames


def test_frame_headers_give_the_declared_sizes_without_inflating():
    from backports import zstd

    data = rle_frame(600 * MB) + rle_frame(5, declared=False) + zstd.compress(b"x" * 1000)
    import io

    assert list(frame_sizes(io.BytesIO(data))) == [600 * MB, None, 1000]
    assert len(rle_frame(600 * MB)) < 20_000
    assert zstd.decompress(rle_frame(300_000, byte=7)) == b"\x07" * 300_000  # the hand-made frames are valid


def test_a_message_is_inflated_only_up_to_its_limit():
    assert inflate_message(rle_frame(1000, declared=False)) == bytes(1000)
    with pytest.raises(BagError, match="declares 3221225472 bytes"):
        inflate_message(rle_frame(3 * 1024 * MB))
    with pytest.raises(BagError, match="inflates past"):
        inflate_message(rle_frame(MAX_MESSAGE_BYTES + 1, declared=False))
    with pytest.raises(BagError, match="cannot be inflated"):
        inflate_message(b"\x00\x01\x00\x00 plain CDR")


# ------------------------------------------------------------------------------------ good compressed bags


@pytest.mark.parametrize("mode", ["file", "message"])
def test_compressed_bags_rosbags_writes_are_read_whole(tmp_path, mode):
    bag = compressed_bag(tmp_path / "bag", mode)
    got = [raw for _t, _m, _ns, raw in messages(bag)]
    assert got == [_image(i) for i in range(5)]


def test_a_file_compressed_bag_that_does_not_fit_the_temporary_folder_is_refused(tmp_path, monkeypatch):
    bag = compressed_bag(tmp_path / "bag", "file")
    usage = compressed.shutil.disk_usage(tmp_path)
    monkeypatch.setattr(compressed.shutil, "disk_usage", lambda _p: usage._replace(free=compressed.TEMP_RESERVE_BYTES))
    with pytest.raises(BagError, match="bytes free"):
        open_reader(bag)


# ------------------------------------------------------------------------------------------- the bombs


@pytest.mark.parametrize("declared", [True, False])
def test_a_file_compressed_bomb_is_refused_before_a_byte_is_inflated(tmp_path, declared):
    """20 KB of zstd that inflate to 600 MB of zeros: one line, nothing written to the temporary folder."""
    bag = file_bomb(tmp_path / "bag", 600 * MB, declared)
    assert sum(p.stat().st_size for p in bag.iterdir()) < 25_000
    (tmp_path / "tmp").mkdir()
    code, out, _rss = run_facecoach("eval-bag", bag, "--out", tmp_path / "r.jsonl", tmpdir=tmp_path / "tmp")
    assert code == 2 and _error_lines(out) == [_error_lines(out)[0]], out
    assert "not a compressed sqlite3 bag file" in out and "Traceback" not in out, out
    assert not list((tmp_path / "tmp").iterdir())


def test_a_file_compressed_bag_larger_than_its_messages_can_fill_is_refused(tmp_path):
    """A storage file of a valid sqlite3 header that claims 600 MB for 5 messages of 3 KB."""
    bag = compressed_bag(tmp_path / "bag", "file")
    page_size, pages = 4096, 600 * MB // 4096
    head = bytearray(b"SQLite format 3\x00" + bytes(84))
    head[16:18] = page_size.to_bytes(2, "big")
    head[28:32] = pages.to_bytes(4, "big")
    _storage_file(bag).write_bytes(_frame_with_head(bytes(head), pages * page_size))
    meta = yaml.safe_load((bag / "metadata.yaml").read_text())
    assert meta["rosbag2_bagfile_information"]["message_count"] == 5
    with pytest.raises(BagError, match="more than its 5 messages can fill"):
        open_reader(bag)


def _frame_with_head(head: bytes, size: int) -> bytes:
    """A zstd frame of ``size`` bytes: ``head`` in a raw block, then zeros in run-length blocks."""
    out = b"\x28\xb5\x2f\xfd\xc0\x38" + struct.pack("<Q", size)
    out += (0 | 0 << 1 | len(head) << 3).to_bytes(3, "little") + head
    rest = size - len(head)
    while rest > 0:
        n = min(rest, BLOCK)
        rest -= n
        out += (int(rest == 0) | 1 << 1 | n << 3).to_bytes(3, "little") + b"\x00"
    return out


@pytest.mark.parametrize("declared", [True, False])
def test_a_message_compressed_bomb_stops_eval_bag_in_bounded_memory(tmp_path, declared):
    """A 48 KB message that inflates to 1.5 GB: eval-bag says so in one line and stays small."""
    bag = message_bomb(tmp_path / "bag", 1536 * MB, declared)
    code, out, rss = run_facecoach("eval-bag", bag, "--out", tmp_path / "r.jsonl", "--no-progress")
    assert code == 2 and len(_error_lines(out)) == 1 and "Traceback" not in out, out
    assert "a message may hold" in out, out
    assert rss < 1024 * MB, f"peak RSS {rss / MB:.0f} MB"


def test_a_message_compressed_bomb_stops_replay_in_bounded_memory(tmp_path):
    bag = message_bomb(tmp_path / "bag", 1536 * MB)
    code, out, rss = run_facecoach("replay", bag, "--wait", "0.1")
    assert code == 2 and len(_error_lines(out)) == 1 and "Traceback" not in out, out
    assert "a message may hold" in out, out
    assert rss < 1024 * MB, f"peak RSS {rss / MB:.0f} MB"


# ------------------------------------------------------------------------------------ lying metadata


def lying_bag(path: Path, true: str, lie: str) -> Path:
    """A bag of 30 images whose metadata.yaml says ``lie`` where its storage holds ``true``."""
    w = BagWriter(path)
    for i in range(30):
        w.write(TOPIC, IMAGE, 1_000_000_000 + i * 33_000_000, _image(i))
    w.close()
    meta = path / "metadata.yaml"
    meta.write_text(meta.read_text().replace(true, lie))
    return path


def test_a_bag_whose_metadata_lies_about_its_types_is_refused_when_opened(tmp_path):
    bag = lying_bag(tmp_path / "bag", IMAGE, "sensor_msgs/msg/CompressedImage")
    with pytest.raises(BagError, match="lies about its topics: .* is sensor_msgs/msg/CompressedImage, its storage"):
        open_reader(bag)


def test_a_replay_of_a_bag_whose_metadata_lies_about_its_types_fails_in_one_line(tmp_path):
    """metadata.yaml says CompressedImage, the storage holds Image: not "replayed 0 messages" and exit 0."""
    bag = lying_bag(tmp_path / "bag", IMAGE, "sensor_msgs/msg/CompressedImage")
    code, out, _rss = run_facecoach("replay", bag, "--wait", "0.1")
    assert code != 0 and len(_error_lines(out)) == 1 and "replayed 0" not in out, out
    assert "sensor_msgs/msg/Image" in out, out


def test_a_replay_that_plays_nothing_of_a_bag_that_lists_messages_fails_in_one_line(tmp_path):
    """metadata.yaml names a topic the storage does not hold (rosbags reads it as empty): exit 2, one line."""
    bag = lying_bag(tmp_path / "bag", TOPIC, "/camera/other")
    code, out, _rss = run_facecoach("replay", bag, "--wait", "0.1")
    assert code == 2 and len(_error_lines(out)) == 1 and "replayed 0" not in out, out
    assert "nothing replayed: it lists 30 messages" in out, out


def test_a_message_compressed_bag_read_from_its_storage_alone_is_inflated_too(tmp_path):
    """A stale metadata.yaml (5 messages stored, 3 listed) sends the bag to the salvage reader: still inflated."""
    bag = compressed_bag(tmp_path / "bag", "message")
    meta = yaml.safe_load((bag / "metadata.yaml").read_text())
    meta["rosbag2_bagfile_information"]["message_count"] = 3
    (bag / "metadata.yaml").write_text(yaml.safe_dump(meta))
    assert [raw for _t, _m, _ns, raw in messages(bag)] == [_image(i) for i in range(5)]


# ------------------------------------------------------------------------------------- MCAP chunk compression


def mcap_bag(path: Path, n: int = 6) -> Path:
    """An MCAP bag of ``n`` noise images (about 9 KB each: the chunk is larger than a bomb), its chunks compressed
    with zstd by rosbags' Writer."""
    from rosbags.rosbag2 import CompressionFormat, CompressionMode, StoragePlugin, Writer

    ts = typestore()
    writer = Writer(path, version=8, storage_plugin=StoragePlugin.MCAP)
    writer.set_compression(CompressionMode.STORAGE, CompressionFormat.ZSTD)
    rng = np.random.default_rng(0)
    with writer:
        conn = writer.add_connection(TOPIC, IMAGE, typestore=ts)
        for i in range(n):
            header = ts.types["std_msgs/msg/Header"](
                stamp=ts.types["builtin_interfaces/msg/Time"](sec=1, nanosec=i), frame_id="cam"
            )
            pixels = rng.integers(0, 256, 64 * 48 * 3, dtype=np.uint8)
            msg = ts.types[IMAGE](
                header=header, height=48, width=64, encoding="bgr8", is_bigendian=0, step=192, data=pixels
            )
            writer.write(conn, 1_000_000_000 + i * 33_000_000, ts.serialize_cdr(msg, IMAGE))
    return path


def mcap_bomb(path: Path, size: int, declared: bool = True) -> Path:
    """An MCAP bag whose first chunk's records are ``size`` zero bytes in a zstd frame of a few KB, padded with a
    skippable frame to the length rosbags wrote: every offset of the file stays true, its header keeps its size."""
    bag = mcap_bag(path)
    mcap = _storage_file(bag)
    data = bytearray(mcap.read_bytes())
    pos = 8
    while data[pos] != 0x06:  # the first Chunk record
        pos += 9 + struct.unpack_from("<Q", data, pos + 1)[0]
    name_len = struct.unpack_from("<I", data, pos + 9 + 28)[0]
    at = pos + 9 + 32 + name_len
    records_len = struct.unpack_from("<Q", data, at)[0]
    bomb = rle_frame(size, declared)
    pad = records_len - len(bomb) - 8
    assert pad >= 0, f"the chunk holds {records_len} bytes, the bomb needs {len(bomb) + 8}"
    data[at + 8 : at + 8 + records_len] = bomb + struct.pack("<II", 0x184D2A50, pad) + bytes(pad)
    mcap.write_bytes(bytes(data))
    return bag


def test_mcap_bags_with_compressed_chunks_are_read_whole(tmp_path):
    bag = mcap_bag(tmp_path / "bag")
    assert len(list(messages(bag))) == 6


def test_lz4_chunks_are_sized_by_inflating_into_nothing_up_to_the_bound():
    """rosbags writes zstd chunks only; ros2 bag record's MCAP writes lz4 ones too, which rosbags inflates whole."""
    from lz4.frame import compress

    from facecoach_bag.mcap_chunks import inflated_chunk_size

    data = np.random.default_rng(0).integers(0, 256, 100_000, dtype=np.uint8).tobytes()
    assert inflated_chunk_size("lz4", compress(data) + compress(data[:10]), 10 * MB) == 100_010
    assert inflated_chunk_size("lz4", compress(bytes(64 * MB)), 10 * MB) > 10 * MB
    with pytest.raises(RuntimeError):
        inflated_chunk_size("lz4", b"not lz4 at all", 10 * MB)


@pytest.mark.parametrize("declared", [True, False])
def test_an_mcap_chunk_bomb_stops_eval_bag_in_bounded_memory(tmp_path, declared):
    """A 50 KB chunk that inflates to 1.5 GB: one line, no inflation (old code: rosbags inflated it whole)."""
    bag = mcap_bomb(tmp_path / "bag", 1536 * MB, declared)
    code, out, rss = run_facecoach("eval-bag", bag, "--out", tmp_path / "r.jsonl", "--no-progress")
    assert code == 2 and len(_error_lines(out)) == 1 and "Traceback" not in out, out
    assert "the MCAP chunk at byte" in out and "inflates to over" in out, out
    assert rss < 1024 * MB, f"peak RSS {rss / MB:.0f} MB"


def test_an_mcap_chunk_bomb_read_as_a_lone_file_is_refused_too(tmp_path):
    bag = mcap_bomb(tmp_path / "bag", 1536 * MB)
    with pytest.raises(BagError, match="inflates to over"):
        open_reader(_storage_file(bag))


def test_an_mcap_file_cut_anywhere_in_its_first_chunk_leaves_the_cut_to_the_readers(tmp_path):
    """Old code: a cut inside the chunk's size field raised struct.error out of the check (a traceback)."""
    from facecoach_bag.mcap_chunks import check_mcap_chunks

    mcap = _storage_file(mcap_bag(tmp_path / "bag"))
    data = mcap.read_bytes()
    for cut in range(8, 120):
        mcap.write_bytes(data[:cut])
        check_mcap_chunks(mcap)  # returns: the readers say what is cut
