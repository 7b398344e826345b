"""Run by test_device_profile.py inside .venv-device (CPython 3.6, no rosbags, no rclpy): the bag player's side.

    python device_bag_check.py BAG OUT.json [REFUSED_BAG ...]

Reads BAG with facecoach_bag.reader (the standard library's sqlite3, since rosbags is absent), then plays it
with facecoach_bag.replay.Replayer into publishers of a stand-in for rclpy (there is none here) that record
what would go out over DDS, and tries to open each REFUSED_BAG. Writes what it saw to OUT.json. Python 3.6
syntax: this file runs on the device's interpreter.
"""

import hashlib
import json
import sys
import time
import types


class _Anything:
    """Stands in for every rclpy name replay.py touches (QoS policies, Duration, a clock, a context)."""

    def __init__(self, *args, **kwargs):
        pass

    def __getattr__(self, name):
        return _Anything()

    def __call__(self, *args, **kwargs):
        return _Anything()


class _Module(types.ModuleType):
    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return _Anything()


def _stand_in_for_rclpy():
    for name in ("rclpy", "rclpy.duration", "rclpy.node", "rclpy.qos", "rclpy.serialization"):
        sys.modules[name] = _Module(name)
    for package in ("std_msgs", "sensor_msgs"):
        sys.modules[package] = _Module(package)
        sys.modules[package + ".msg"] = _Module(package + ".msg")


class _Publisher:
    def __init__(self, sent, topic):
        self.sent, self.topic = sent, topic

    def publish(self, msg):
        self.sent.append((self.topic, msg))

    def wait_for_all_acked(self, timeout):
        return True

    def get_subscription_count(self):
        return 1


class _Node:
    context = _Anything()

    def __init__(self):
        self.sent = []

    def create_publisher(self, msg_class, topic, qos):
        return _Publisher(self.sent, topic)

    def get_clock(self):
        return _Anything()


def _digest(raw):
    return hashlib.sha256(raw).hexdigest()


def main():
    bag, out, refused = sys.argv[1], sys.argv[2], sys.argv[3:]
    from facecoach_bag.errors import BagError
    from facecoach_bag.reader import messages, open_reader, topics
    from facecoach_bag.sqlite3_reader import no_rosbags

    result = {"python": list(sys.version_info[:2]), "no_rosbags": bool(no_rosbags())}
    reader = open_reader(bag)
    result["reader"] = type(reader).__name__
    result["partial"] = reader.partial
    reader.close()
    result["topics"] = [[t.name, t.msgtype, t.count] for t in topics(bag)]
    result["messages"] = [[topic, msgtype, t_ns, len(raw), _digest(raw)] for topic, msgtype, t_ns, raw in messages(bag)]

    _stand_in_for_rclpy()
    from facecoach_bag.replay import STREAM_END_TOPIC, Replayer

    node = _Node()
    replayer = Replayer(node, bag, rate=100.0)
    start = time.monotonic()
    played = replayer.play()
    result["play_s"] = time.monotonic() - start
    result["played"] = played
    bag_sent = [(t, m) for t, m in node.sent if t != STREAM_END_TOPIC]
    result["all_bytes"] = all(type(m) is bytes for _, m in bag_sent)  # CDR as stored: no message objects
    result["sent"] = [[topic, len(raw), _digest(raw)] for topic, raw in bag_sent]
    result["stream_end"] = sum(1 for t, _ in node.sent if t == STREAM_END_TOPIC)

    result["refused"] = {}
    for path in refused:
        try:
            open_reader(path).close()
            result["refused"][path] = ""
        except BagError as exc:
            result["refused"][path] = str(exc)
    with open(out, "w", encoding="utf-8") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main()
