"""Bags every ROS 2 distribution plays, and recordings that survive a crash or a full disk.

What FaceCoach writes (BagWriter, `facecoach record`, the bundled sample) is checked field by field
against what ROS 2 Humble's rosbag2 (0.15) reads: its metadata.yaml decoder (rosbag2_storage/yaml.hpp:
`convert<BagMetadata>::decode` and friends, version 5) and the SQL its sqlite3 plugin runs
(sqlite_storage.cpp). Everything FaceCoach reads is read in metadata versions 5-9, sqlite3 and MCAP.
"""

from __future__ import annotations

import os
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from facecoach_bag.errors import BagError, BagFullError, PartialBag
from facecoach_bag.reader import messages, open_reader, topics
from facecoach_bag.schema import METADATA_VERSION, STORAGES, typestore
from facecoach_bag.writer import BagWriter
from facecoach_cli.sample import bundled_sample

STRING = "std_msgs/msg/String"
# The keys Humble's Rosbag2QoS decoder reads from each offered QoS profile (rosbag2_transport/qos.cpp).
QOS_KEYS = {
    "history": int,
    "depth": int,
    "reliability": int,
    "durability": int,
    "deadline": dict,
    "lifespan": dict,
    "liveliness": int,
    "liveliness_lease_duration": dict,
    "avoid_ros_namespace_conventions": bool,
}
# The statements Humble's sqlite3 plugin prepares to list topics, read messages and make metadata.
HUMBLE_SQL = (
    "SELECT name, type, serialization_format FROM topics ORDER BY id;",
    "SELECT data, timestamp, topics.name, messages.id FROM messages JOIN topics ON messages.topic_id = topics.id "
    "WHERE (((timestamp = 0) AND (messages.id >= 0)) OR (timestamp > 0)) ORDER BY messages.timestamp, messages.id;",
    "SELECT name, type, serialization_format, COUNT(messages.id), MIN(messages.timestamp), MAX(messages.timestamp), "
    "offered_qos_profiles FROM messages JOIN topics on topics.id = messages.topic_id GROUP BY topics.name;",
)


def humble_problems(bag: Path) -> list:
    """What ROS 2 Humble's reader would reject in this bag (empty: it plays it), field by field."""
    problems = []

    def need(node, key, kind, where):
        if not isinstance(node, dict) or key not in node:
            problems.append(f"{where}{key}: missing")
            return None
        value = node[key]
        # yaml-cpp's as<uint64_t>/as<int> accept integers only; as<std::string> any scalar, but not a list/map.
        ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
        if kind is str:
            ok = value is not None and not isinstance(value, (list, dict))
        if not ok:
            problems.append(f"{where}{key}: {type(value).__name__} {value!r}, Humble reads a {kind.__name__}")
            return None
        return value

    root = yaml.safe_load((bag / "metadata.yaml").read_text())
    info = need(root, "rosbag2_bagfile_information", dict, "")
    if info is None:
        return problems
    version = need(info, "version", int, "")
    if version is not None and version > 5:
        problems.append(f"version {version}: Humble writes and reads 5 (9 made offered_qos_profiles a list)")
    storage = need(info, "storage_identifier", str, "")
    if storage not in ("sqlite3", "mcap"):
        problems.append(f"storage_identifier {storage!r}")
    for key in ("duration",):
        need(need(info, key, dict, "") or {}, "nanoseconds", int, f"{key}.")
    need(need(info, "starting_time", dict, "") or {}, "nanoseconds_since_epoch", int, "starting_time.")
    total = need(info, "message_count", int, "")
    counted = 0
    for i, t in enumerate(need(info, "topics_with_message_count", list, "") or []):
        where = f"topics_with_message_count[{i}]."
        meta = need(t, "topic_metadata", dict, where) or {}
        for key in ("name", "type", "serialization_format"):
            need(meta, key, str, where + "topic_metadata.")
        qos = need(meta, "offered_qos_profiles", str, where + "topic_metadata.")
        if qos is not None:  # player.cpp: YAML::Load(the string).as<std::vector<Rosbag2QoS>>()
            profiles = yaml.safe_load(qos)
            if not isinstance(profiles, list) or not profiles:
                problems.append(f"{where}offered_qos_profiles: {qos!r} is not a YAML list of profiles")
            for p in profiles or []:
                for key, kind in QOS_KEYS.items():
                    need(p, key, kind, where + "offered_qos_profiles[].")
                for key in ("deadline", "lifespan", "liveliness_lease_duration"):
                    for part in ("sec", "nsec"):
                        need(p.get(key) or {}, part, int, f"{where}offered_qos_profiles[].{key}.")
        counted += need(t, "message_count", int, where) or 0
    if total is not None and total != counted:
        problems.append(f"message_count {total} != the topics' sum {counted}")
    paths = need(info, "relative_file_paths", list, "") or []
    for path in paths:
        if not (bag / Path(str(path)).name).is_file():
            problems.append(f"relative_file_paths: {path} does not exist")
    need(info, "compression_format", str, "")
    need(info, "compression_mode", str, "")
    for i, f in enumerate(need(info, "files", list, "") or []):  # required from version 5 on
        where = f"files[{i}]."
        need(f, "path", str, where)
        need(need(f, "starting_time", dict, where) or {}, "nanoseconds_since_epoch", int, where + "starting_time.")
        need(need(f, "duration", dict, where) or {}, "nanoseconds", int, where + "duration.")
        need(f, "message_count", int, where)
    if storage == "sqlite3":
        for path in paths:
            db = sqlite3.connect(f"file:{bag / Path(str(path)).name}?mode=ro", uri=True)
            try:
                rows = [db.execute(q).fetchall() for q in HUMBLE_SQL]
            except sqlite3.Error as exc:
                problems.append(f"{path}: Humble's SQL fails: {exc}")
                continue
            finally:
                db.close()
            if len(rows[1]) != total:
                problems.append(f"{path}: Humble would play {len(rows[1])} messages, metadata says {total}")
    return problems


def _string(i: int) -> bytes:
    ts = typestore()
    return ts.serialize_cdr(ts.types[STRING](data=f"message {i} " + "x" * 2000), STRING)


def _write(path, storage="sqlite3", n=20, **kw) -> BagWriter:
    w = BagWriter(path, storage=storage, **kw)
    for i in range(n):
        w.write("/chatter" if i % 2 else "/other", STRING, 1_000_000 + i, _string(i))
    return w


@pytest.mark.parametrize("storage", STORAGES)
def test_written_bags_are_what_humbles_reader_requires(tmp_path, storage):
    _write(tmp_path / "bag", storage).close()
    assert humble_problems(tmp_path / "bag") == []
    info = yaml.safe_load((tmp_path / "bag" / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
    assert info["version"] == METADATA_VERSION == 5 and info["storage_identifier"] == storage
    assert [t["message_count"] for t in info["topics_with_message_count"]] == [10, 10]
    assert info["duration"]["nanoseconds"] == 19 and info["starting_time"]["nanoseconds_since_epoch"] == 1_000_000
    assert [m[2] for m in messages(tmp_path / "bag")] == list(range(1_000_000, 1_000_020))


def test_the_bundled_sample_is_a_humble_bag_with_the_same_frames():
    """sample/interview: version 5, sqlite3, 810 frames; the frames are the ones of the former MCAP bag."""
    import hashlib

    sample = bundled_sample()
    assert humble_problems(sample) == []
    info = yaml.safe_load((sample / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
    assert info["storage_identifier"] == "sqlite3" and info["relative_file_paths"] == ["interview_0.db3"]
    digest = hashlib.sha256()
    stamps = []
    for _topic, msgtype, t_ns, raw in messages(sample):
        assert msgtype == "sensor_msgs/msg/CompressedImage"
        digest.update(raw)
        stamps.append(t_ns)
    # sha256 over the 810 raw CDR frames as the MCAP bag (commit 441e0e7) held them: converted, not regenerated.
    assert digest.hexdigest() == SAMPLE_FRAMES_SHA256
    assert len(stamps) == 810 and stamps == sorted(stamps) and stamps[0] == 1_700_000_000_000_000_000


SAMPLE_FRAMES_SHA256 = "d28236b1119480ef1275b7cb9c2c0b27b6f5c0291c1a4757662328275304dd59"


def _other_version(src: Path, dst: Path, version: int, storage: str) -> Path:
    """The bag of ``src`` as metadata version 6..9 writes it (rosbags writes 8 and 9 itself)."""
    if version >= 8:
        from rosbags.rosbag2 import StoragePlugin, Writer

        ts = typestore()
        plugin = StoragePlugin.MCAP if storage == "mcap" else StoragePlugin.SQLITE3
        with Writer(dst, version=version, storage_plugin=plugin) as w:
            conns = {}
            for topic, msgtype, t_ns, raw in messages(src):
                if topic not in conns:
                    conns[topic] = w.add_connection(topic, msgtype, typestore=ts)
                w.write(conns[topic], t_ns, raw)
        return dst
    shutil.copytree(src, dst)
    meta = yaml.safe_load((dst / "metadata.yaml").read_text())
    info = meta["rosbag2_bagfile_information"]
    info["version"] = version
    info["custom_data"] = {}  # required from version 6 on
    if version >= 7:
        for t in info["topics_with_message_count"]:
            t["topic_metadata"]["type_description_hash"] = ""
    (dst / "metadata.yaml").write_text(yaml.safe_dump(meta))
    return dst


@pytest.mark.parametrize("storage", STORAGES)
@pytest.mark.parametrize("version", [5, 6, 7, 8, 9])
def test_every_metadata_version_and_storage_is_read(tmp_path, version, storage):
    _write(tmp_path / "v5", storage).close()
    bag = (
        tmp_path / "v5" if version == 5 else _other_version(tmp_path / "v5", tmp_path / f"v{version}", version, storage)
    )
    assert yaml.safe_load((bag / "metadata.yaml").read_text())["rosbag2_bagfile_information"]["version"] == version
    assert [(t.name, t.count) for t in topics(bag)] == [("/other", 10), ("/chatter", 10)]
    got = list(messages(bag))
    assert [m[2] for m in got] == list(range(1_000_000, 1_000_020))
    assert got[3][3] == _string(3)


def _killed_writer(path, storage, n, commit_every):
    """A child process writes ``n`` messages and is killed without closing (kill -9 leaves no clean-up either)."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        clock = [0.0]
        w = BagWriter(path, storage=storage, clock=lambda: clock[0])
        for i in range(n):
            w.write("/chatter", STRING, 1_000_000 + i, _string(i))
            clock[0] += commit_every
        os.kill(os.getpid(), signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL


@pytest.mark.parametrize("storage", STORAGES)
def test_a_killed_writer_leaves_a_readable_bag_with_every_committed_message(tmp_path, storage, caplog):
    # The writer commits when commit_s (0.5 s) has passed: each message here is 0.5 s after the last.
    _killed_writer(tmp_path / "bag", storage, 30, 0.5)
    reader = open_reader(tmp_path / "bag")
    assert reader.partial is None  # nothing lost: only metadata.yaml (or MCAP's summary) lags behind
    reader.close()
    assert [m[2] for m in messages(tmp_path / "bag")] == list(range(1_000_000, 1_000_030))
    assert "reading the storage file: every stored message is there" in caplog.text


def _full_disk_writer(path, storage, limit):
    """A child process writes until RLIMIT_FSIZE (a file size limit: a full disk without root) stops it."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.close(r)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
        clock = [0.0]
        writer = BagWriter(path, storage=storage, clock=lambda: clock[0])
        try:
            for i in range(10_000):
                writer.write("/chatter", STRING, 1_000_000 + i, _string(i))
                clock[0] += 0.25
        except BagFullError as exc:
            os.write(w, f"{exc}|{writer.message_count}".encode())
            writer.close()
        os._exit(0)
    os.close(w)
    os.waitpid(pid, 0)
    with os.fdopen(r) as f:
        message, kept = f.read().rsplit("|", 1)
    return message, int(kept)


@pytest.mark.parametrize("storage", STORAGES)
def test_a_full_disk_stops_the_writer_with_one_line_and_a_readable_bag(tmp_path, storage):
    message, kept = _full_disk_writer(tmp_path / "bag", storage, 120_000)
    assert "\n" not in message and "recording stopped" in message and f"keeps the {kept} messages" in message
    assert 10 < kept < 60
    got = list(messages(tmp_path / "bag"))  # no PartialBag: the bag ends at its last commit
    assert [m[2] for m in got] == list(range(1_000_000, 1_000_000 + kept))
    assert humble_problems(tmp_path / "bag") == []


@pytest.mark.parametrize("storage", STORAGES)
def test_a_bag_cut_in_half_is_read_up_to_the_cut(tmp_path, storage):
    clock = [0.0]

    def tick() -> float:  # time passes with each write, as in a recording: commits (MCAP chunks) along the way
        clock[0] += 0.1
        return clock[0]

    _write(tmp_path / "bag", storage, n=100, clock=tick).close()
    file = next(p for p in (tmp_path / "bag").iterdir() if p.suffix in (".db3", ".mcap"))
    os.truncate(file, file.stat().st_size // 2)
    got = []
    with pytest.raises(PartialBag, match="partial bag: .* messages read"):
        for m in messages(tmp_path / "bag"):
            got.append(m[2])
    assert 10 < len(got) < 100 and got == list(range(1_000_000, 1_000_000 + len(got)))


def test_random_bytes_are_no_bag(tmp_path):
    (tmp_path / "bag").mkdir()
    (tmp_path / "bag" / "x.mcap").write_bytes(os.urandom(4096))
    (tmp_path / "bag" / "y.db3").write_bytes(os.urandom(4096))
    with pytest.raises(BagError, match="unreadable bag"):
        open_reader(tmp_path / "bag")


# ------------------------------------------------------------------------------------- without rosbags
# The Jetson's Python 3.6 has no rosbags: the standard library reads sqlite3 bags (facecoach_bag.sqlite3_reader).
# test_device_profile.py reads the sample there; here the same code runs with rosbags made unimportable.


@pytest.fixture
def block_rosbags(monkeypatch):
    """A function that makes rosbags unimportable from then on (``import rosbags`` raises ModuleNotFoundError)."""
    from facecoach_bag.sqlite3_reader import no_rosbags

    def block() -> None:
        for name in [n for n in sys.modules if n == "rosbags" or n.startswith("rosbags.")]:
            monkeypatch.delitem(sys.modules, name)
        monkeypatch.setitem(sys.modules, "rosbags", None)
        assert no_rosbags()

    return block


def _read_all(bag) -> tuple:
    """(the reader's class name, its partial, the topics, every message) of a bag."""
    reader = open_reader(bag)
    kind, partial = type(reader).__name__, reader.partial
    reader.close()
    return kind, partial, topics(bag), list(messages(bag))


def test_without_rosbags_the_sample_reads_as_rosbags_reads_it(block_rosbags):
    with_rosbags = _read_all(bundled_sample())
    block_rosbags()
    without = _read_all(bundled_sample())
    assert with_rosbags[0] == "Reader" and without[0] == "Sqlite3Reader"
    assert without[1:] == with_rosbags[1:]
    assert len(without[3]) == 810


@pytest.mark.parametrize("version", [5, 6, 7, 8, 9])
def test_without_rosbags_every_metadata_version_of_a_sqlite3_bag_reads_the_same(tmp_path, version, block_rosbags):
    w = BagWriter(tmp_path / "v5")
    for i in range(20):  # two topics, stamps interleaved and out of order: read by timestamp as rosbags does
        w.write("/chatter" if i % 2 else "/other", STRING, 1_000_000 + (i * 7) % 20, _string(i))
    w.close()
    bag = tmp_path / "v5" if version == 5 else _other_version(tmp_path / "v5", tmp_path / f"v{version}", version, "")
    expected = _read_all(bag)
    block_rosbags()
    assert _read_all(bag) == ("Sqlite3Reader",) + expected[1:]
    assert [m[2] for m in expected[3]] == list(range(1_000_000, 1_000_020))
    assert [m[0] for m in messages(bag, ["/chatter"])] == ["/chatter"] * 10


def test_without_rosbags_a_killed_or_cut_bag_reads_as_with_rosbags(tmp_path, block_rosbags):
    _killed_writer(tmp_path / "killed", "sqlite3", 30, 0.5)
    killed = _read_all(tmp_path / "killed")
    _write(tmp_path / "cut", n=100).close()
    db = next((tmp_path / "cut").glob("*.db3"))
    os.truncate(db, db.stat().st_size // 2)

    def cut_read() -> list:
        got = []
        with pytest.raises(PartialBag, match="partial bag: .* messages read") as err:
            for m in messages(tmp_path / "cut"):
                got.append(m)
        return got, str(err.value)

    cut = cut_read()
    block_rosbags()
    assert _read_all(tmp_path / "killed") == killed and killed[1] is None and len(killed[3]) == 30
    assert cut_read() == cut and 10 < len(cut[0]) < 100


def test_without_rosbags_a_bag_that_needs_it_is_refused_with_the_reason(tmp_path, block_rosbags):
    _write(tmp_path / "mcap", "mcap").close()
    _write(tmp_path / "plain").close()
    file_mode = tmp_path / "file_mode"
    shutil.copytree(tmp_path / "plain", file_mode)
    meta = yaml.safe_load((file_mode / "metadata.yaml").read_text())
    meta["rosbag2_bagfile_information"].update(compression_mode="FILE", compression_format="zstd")
    (file_mode / "metadata.yaml").write_text(yaml.safe_dump(meta))
    lies = tmp_path / "lies"
    shutil.copytree(tmp_path / "plain", lies)
    meta = yaml.safe_load((lies / "metadata.yaml").read_text())
    meta["rosbag2_bagfile_information"]["topics_with_message_count"][0]["topic_metadata"]["type"] = "std_msgs/msg/Int8"
    (lies / "metadata.yaml").write_text(yaml.safe_dump(meta))
    block_rosbags()
    for bag, reason in (
        (tmp_path / "mcap", "an MCAP bag: reading it needs rosbags, which is not installed here"),
        (next((tmp_path / "mcap").glob("*.mcap")), "an MCAP bag: reading it needs rosbags"),
        (file_mode, "a compressed bag (zstd, file mode): inflating it needs rosbags"),
        (lies, "metadata.yaml lies about its topics: metadata.yaml says /other is std_msgs/msg/Int8"),
        (tmp_path / "missing", "no such bag"),
    ):
        with pytest.raises(BagError) as err:
            open_reader(bag)
        assert reason in str(err.value) and "\n" not in str(err.value), str(err.value)
    (tmp_path / "plain" / "metadata.yaml").unlink()  # the storage file alone is still read
    assert [m[2] for m in messages(tmp_path / "plain")] == list(range(1_000_000, 1_000_020))


# ------------------------------------------------------------------------------------- facecoach record


def _record(out, *extra, limit=None):
    def child():
        if limit:
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    cmd = [sys.executable, "-m", "facecoach_cli.cli", "record", str(out), "--topics", "/rec/image", *extra]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=child)


def _publish(node, proc, count, size=8000):
    """Publish ``count`` JPEG-sized CompressedImages to the recorder once it subscribed, as a real stream does."""
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import CompressedImage

    from facecoach_common.stopping import wait_until

    pub = node.create_publisher(
        CompressedImage, "/rec/image", QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)
    )
    assert wait_until(node, lambda: pub.get_subscription_count() > 0 or proc.poll() is not None, 60)
    assert proc.poll() is None, proc.communicate()
    sent = []

    def send() -> None:
        if len(sent) < count:
            i = len(sent)
            msg = CompressedImage(format="jpeg", data=bytes([i % 256]) * size)
            msg.header.stamp.sec = i + 1
            pub.publish(msg)
            sent.append(i)

    # A camera's stream, 20 frames a second (160 kB/s): the recorder commits some before the file size limit.
    timer = node.create_timer(0.05, send)
    assert wait_until(node, lambda: len(sent) == count, 30), f"{len(sent)} of {count} sent"
    node.destroy_timer(timer)
    return pub


def _recorded_count(bag: Path) -> int:
    meta = bag / "metadata.yaml"
    return yaml.safe_load(meta.read_text())["rosbag2_bagfile_information"]["message_count"] if meta.exists() else 0


def test_kill_9_during_record_keeps_every_message_written(ros_node, tmp_path):
    from facecoach_common.stopping import wait_until

    proc = _record(tmp_path / "session")
    _publish(ros_node, proc, 40)
    # metadata.yaml follows the commits (every 0.5 s, rewritten every 2 s): wait for all 40, then kill -9.
    assert wait_until(ros_node, lambda: _recorded_count(tmp_path / "session") == 40, 30)
    proc.kill()
    proc.wait(10)
    bag = tmp_path / "session"
    assert humble_problems(bag) == []
    got = list(messages(bag))
    assert len(got) == 40 and [m[1] for m in got] == ["sensor_msgs/msg/CompressedImage"] * 40


def test_a_full_disk_during_record_is_one_line_and_leaves_a_readable_bag(ros_node, tmp_path):
    proc = _record(tmp_path / "session", limit=200_000)
    _publish(ros_node, proc, 60)  # 480 kB into a 200 kB file size limit
    out, err = proc.communicate(timeout=60)
    # Under a file size limit Fast DDS cannot size its shared-memory segments and says so (RTPS_...; on a
    # real full disk /dev/shm is a tmpfs of its own): what the recorder prints is the rest.
    err = [line for line in err.decode().splitlines() if "RTPS_" not in line]
    assert proc.returncode == 1, err
    assert len(err) == 1 and err[0].startswith("facecoach record: ") and "recording stopped" in err[0], err
    got = list(messages(tmp_path / "session"))
    assert 5 < len(got) < 60
    assert humble_problems(tmp_path / "session") == []


def test_ctrl_c_during_replay_ends_it_quietly(ros_node, tmp_path):
    """Ctrl-C while `facecoach replay` publishes (as in `run --bag`): exit 0, no RCLError traceback."""
    from sensor_msgs.msg import CompressedImage

    from facecoach_common.qos import IMAGE_QOS
    from facecoach_common.stopping import wait_until

    got = []
    ros_node.create_subscription(CompressedImage, "/camera/image_raw/compressed", got.append, IMAGE_QOS)
    cmd = [sys.executable, "-m", "facecoach_cli.cli", "replay", str(bundled_sample()), "--wait", "30"]
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # a terminal's Ctrl-C goes to the whole group
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        assert wait_until(ros_node, lambda: len(got) >= 20 or proc.poll() is not None, 60), "nothing replayed"
        os.killpg(proc.pid, signal.SIGINT)
        out = proc.communicate(timeout=30)[0].decode()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0 and "Traceback" not in out and "RCLError" not in out, out


def test_without_rosbags_the_writer_stores_the_definitions_rosbags_would(tmp_path, monkeypatch):
    """The device has no rosbags: the session recorder's bag takes its definitions from the installed .msg files."""
    import sqlite3

    from rclpy.serialization import serialize_message

    import facecoach_bag.writer as writer_module
    from facecoach_bag.msgdef import definition
    from facecoach_bag.schema import typestore
    from facecoach_msgs.msg import Feedback

    ts = typestore()
    for msgtype in (
        "facecoach_msgs/msg/Feedback",
        "facecoach_msgs/msg/Emotion",
        "facecoach_msgs/msg/Face",
        "rcl_interfaces/msg/ParameterEvent",
        "sensor_msgs/msg/CompressedImage",
    ):
        assert definition(msgtype) == (ts.generate_msgdef(msgtype, ros_version=2)[0], ts.hash_rihs01(msgtype))

    def no_rosbags():
        raise ImportError("No module named 'rosbags'")

    monkeypatch.setattr(writer_module, "typestore", no_rosbags)
    w = writer_module.BagWriter(tmp_path / "bag")
    w.write("/facecoach/feedback", "facecoach_msgs/msg/Feedback", 5, serialize_message(Feedback(emotion="sad")))
    w.close()
    db = next((tmp_path / "bag").glob("*.db3"))
    stored = sqlite3.connect(str(db)).execute("SELECT encoded_message_definition FROM message_definitions").fetchone()
    assert stored[0] == ts.generate_msgdef("facecoach_msgs/msg/Feedback", ros_version=2)[0]
    ((_, msgtype, t_ns, raw),) = list(messages(tmp_path / "bag"))
    assert t_ns == 5 and ts.deserialize_cdr(raw, msgtype).emotion == "sad"
