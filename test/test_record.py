"""`facecoach record` as a separate process: killed mid-way, its bags read back."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from facecoach_bag.reader import messages
from facecoach_common.stopping import wait_until

REPO = Path(__file__).resolve().parents[1]


def _record(out, *extra):
    cmd = [sys.executable, "-m", "facecoach_cli.cli", "record", str(out), "--topics", "/rec/feedback", *extra]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def _publish_until_recorded(node, proc, pub, count):
    """Publish ``count`` Feedback messages (20 a second) once the recorder subscribed; until it has them all."""
    from rclpy.duration import Duration

    from facecoach_msgs.msg import Feedback

    assert wait_until(node, lambda: pub.get_subscription_count() > 0 or proc.poll() is not None, 60)
    assert proc.poll() is None, proc.communicate()[0]
    sent = []

    def send() -> None:
        if len(sent) < count:
            msg = Feedback(emotion="sad", category=Feedback.CATEGORY_BAD, category_name="bad")
            msg.header.stamp.sec = len(sent)
            pub.publish(msg)
            sent.append(msg)

    timer = node.create_timer(0.05, send)
    assert wait_until(node, lambda: len(sent) == count, 30), f"{len(sent)} of {count} sent"
    node.destroy_timer(timer)
    pub.wait_for_all_acked(Duration(seconds=10))  # the last messages in flight: the recorder has them all


def test_sigterm_mid_recording_leaves_a_readable_bag(ros_node, tmp_path):
    from facecoach_common.qos import STREAM_QOS
    from facecoach_msgs.msg import Feedback

    pub = ros_node.create_publisher(Feedback, "/rec/feedback", STREAM_QOS)
    proc = _record(tmp_path / "session")
    _publish_until_recorded(ros_node, proc, pub, 20)
    proc.send_signal(signal.SIGTERM)
    out = proc.communicate(timeout=30)[0].decode()
    assert proc.returncode == 0, out
    got = list(messages(tmp_path / "session"))
    assert 15 <= len(got) <= 20 and {m[1] for m in got} == {"facecoach_msgs/msg/Feedback"}


def test_killed_split_recording_keeps_its_closed_parts(ros_node, tmp_path):
    from facecoach_common.qos import STREAM_QOS
    from facecoach_msgs.msg import Feedback

    pub = ros_node.create_publisher(Feedback, "/rec/feedback", STREAM_QOS)
    proc = _record(tmp_path / "session", "--split-mb", "0.0005")  # a part every ~500 bytes
    _publish_until_recorded(ros_node, proc, pub, 40)
    proc.kill()  # no chance to close anything
    proc.wait(timeout=10)
    parts = sorted(tmp_path.glob("session_*"))
    closed = [p for p in parts if (p / "metadata.yaml").exists()]
    assert len(closed) >= 2, parts
    total = sum(len(list(messages(p))) for p in closed)
    assert total >= 20
