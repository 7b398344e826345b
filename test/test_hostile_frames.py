"""Decoder bombs sent to a running face_detector (issue 20, item 2), started by its console script as a user does.

Small compressed frames that claim 20000x20000 pixels, in the forms that got past the header check: a JPEG
with junk bytes before its frame header (libjpeg skips them), and a TIFF (any format OpenCV decodes). Each is
followed by a good frame: the good ones are all answered, the bombs refused in one line each, and the
node's peak memory stays where it was (each bomb used to cost ~800 MB and seconds of CPU).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np

from facecoach_cli.children import executable_path
from facecoach_common.stopping import wait_until

sys.path.insert(0, str(Path(__file__).parent))  # pytest runs with --import-mode=importlib: test/ is not on the path
from hostile_inputs import jpeg_claiming, tiff_claiming  # noqa: E402

NS = f"/hostile_frames_{os.getpid()}"


def _peak_mib(pid: int) -> float:
    """The process's peak resident memory (VmHWM), MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmHWM for pid {pid}")


class _Output:
    """A process's output lines, collected in a thread."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.lines: list = []
        self._thread = threading.Thread(target=self._pump, args=(proc,), daemon=True)
        self._thread.start()

    def _pump(self, proc) -> None:
        for line in proc.stdout:
            self.lines.append(line)

    def text(self) -> str:
        return "".join(self.lines)


def test_decoder_bombs_are_refused_from_their_header_and_good_frames_keep_flowing(ros_node):
    from sensor_msgs.msg import CompressedImage

    from facecoach_common.image_conversions import numpy_to_compressed
    from facecoach_common.qos import IMAGE_QOS, OBSERVER_QOS
    from facecoach_msgs.msg import Face

    bombs = {
        "jpeg, junk before its frame header": jpeg_claiming(20000, 20000),
        "tiff": tiff_claiming(20000, 20000),
    }
    faces = {}
    ros_node.create_subscription(Face, f"{NS}/face", lambda m: faces.setdefault(m.header.stamp.sec, m), OBSERVER_QOS)
    pub = ros_node.create_publisher(CompressedImage, f"{NS}/image_raw/compressed", IMAGE_QOS)
    cmd = [executable_path("face_detector", "face_detector"), "--ros-args", "-r", f"__ns:={NS}"]
    cmd += ["-p", "input:=compressed", "-p", "mode:=fast"]
    env = dict(os.environ, PYTHONUNBUFFERED="1", RCUTILS_LOGGING_BUFFERED_STREAM="0")
    env = {k: v for k, v in env.items() if not k.startswith("OPENCV_IO_MAX")}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    out = _Output(proc)
    good = np.random.default_rng(2).integers(0, 256, (120, 160, 3), dtype=np.uint8)
    stamp = [0]

    def send(data: bytes | None) -> int:
        msg = numpy_to_compressed(good) if data is None else CompressedImage(format="jpeg", data=data)
        stamp[0] += 1
        msg.header.stamp.sec = stamp[0]
        pub.publish(msg)
        return stamp[0]

    def answered(timeout: float = 20.0) -> bool:
        """A good frame is answered (sent again, newly stamped, while a best-effort copy could be lost)."""
        sent = []
        for _ in range(int(timeout)):
            sent.append(send(None))
            if wait_until(ros_node, lambda: any(s in faces for s in sent), 1.0):
                return True
        return False

    try:
        assert wait_until(ros_node, lambda: pub.get_subscription_count() > 0, 60), out.text()
        assert answered(60), "no answer to a good frame:\n" + out.text()
        before = _peak_mib(proc.pid)
        refused = []
        for i in range(20):
            what = list(bombs)[i % len(bombs)]
            refused.append(send(bombs[what]))
            assert answered(), f"round {i}: the good frame after the {what} bomb got no answer:\n" + out.text()
            grown = _peak_mib(proc.pid) - before
            assert grown < 150, f"round {i}: the {what} bomb raised the node's peak memory by {grown:.0f} MiB"
        assert proc.poll() is None, out.text()
        assert not set(refused) & set(faces), "a bomb was decoded and answered"
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(20)
    text = out.text()
    assert code == 0, text
    assert "is larger than the 8192x8192 limit" in text and "is not JPEG or PNG" in text, text
    assert "Traceback" not in text and "has no size limit" not in text, text
