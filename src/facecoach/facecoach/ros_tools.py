"""rclpy helpers of the facecoach command: replay a bag, record topics, watch the graph, set parameters."""

from __future__ import annotations

import threading
import time
from typing import Callable, Dict, List, Optional, Sequence

import rclpy
from rcl_interfaces.msg import Parameter as ParameterMsg
from rcl_interfaces.msg import ParameterType, ParameterValue
from rcl_interfaces.srv import GetParameters, SetParameters
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy

from .bags import IMAGE_TYPES, BagError, BagWriter, messages, open_reader, ros_class


def wait_until(node: Node, condition: Callable[[], bool], timeout: float, spin: bool = True) -> bool:
    """Spin ``node`` until ``condition()`` holds or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        if spin:
            rclpy.spin_once(node, timeout_sec=0.05)
        else:
            time.sleep(0.05)
    return condition()


class Replayer:
    """Publishes a bag's messages over DDS with their original timing (a stand-in for `ros2 bag play`)."""

    def __init__(self, node: Node, bag, rate: float = 1.0, loop: bool = False, topics: Optional[Sequence[str]] = None):
        if rate <= 0:
            raise BagError("rate must be > 0")
        self.bag, self.rate, self.loop, self.topics = bag, rate, loop, topics
        reader = open_reader(bag)
        conns = [c for c in reader.connections if not topics or c.topic in topics]
        reader.close()
        if not conns:
            raise BagError(f"{bag}: no messages to replay" + (f" on {list(topics)}" if topics else ""))
        # Reliable like `ros2 bag play`; best-effort subscribers (the image topics) still match.
        qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        self.publishers = {c.topic: node.create_publisher(ros_class(c.msgtype), c.topic, qos) for c in conns}
        self.published = 0
        self.stop_event = threading.Event()

    def wait_for_subscribers(self, node: Node, timeout: float) -> bool:
        """Wait until every replayed topic has a subscriber (messages sent before that are lost)."""
        return wait_until(
            node, lambda: all(p.get_subscription_count() > 0 for p in self.publishers.values()), timeout, spin=False
        )

    def warm_up(self, node: Node, received: Callable[[], int], timeout: float, settle_s: float = 1.0) -> bool:
        """Send the first image again and again, stamped 10 s before the bag, until ``received()`` grows.

        Discovery between every pair of processes takes a while; without this, the first seconds of
        a replay can cross a stage whose publisher has not yet matched the next stage's subscriber.
        The early stamp keeps the warm-up frame out of the replayed stretch of time.
        """
        from rclpy.serialization import deserialize_message

        topic, msgtype, _t, raw = next(
            (m for m in messages(self.bag, self.topics) if m[1] in IMAGE_TYPES), (None, None, None, None)
        )
        if topic is None:
            return True
        msg = deserialize_message(raw, ros_class(msgtype))
        msg.header.stamp.sec -= 10
        start = received()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg.header.stamp.nanosec = (msg.header.stamp.nanosec + 1_000_000) % 1_000_000_000  # a new frame each time
            self.publishers[topic].publish(msg)
            if wait_until(node, lambda: received() > start, 0.3):
                # Earlier copies may still be crossing the graph: let them all come out first, so
                # that what arrives after this returns is the replay's own.
                while wait_until(node, lambda n=received(): received() > n, settle_s):
                    pass
                return True
        return False

    def play(self) -> int:
        """Publish everything (blocking; run it in a thread beside the executor); return the count."""
        while True:
            start_wall, first_t = time.monotonic(), None
            for topic, _msgtype, t_ns, raw in messages(self.bag, self.topics):
                if self.stop_event.is_set():
                    return self.published
                first_t = t_ns if first_t is None else first_t
                delay = start_wall + (t_ns - first_t) / 1e9 / self.rate - time.monotonic()
                if delay > 0:
                    self.stop_event.wait(delay)
                self.publishers[topic].publish(raw)
                self.published += 1
            if not self.loop or self.stop_event.is_set():
                return self.published


class Recorder:
    """Records topics as raw CDR into MCAP bags (a stand-in for `ros2 bag record`).

    With ``split_bytes`` the recording is a series of complete bags ``OUT_0000``, ``OUT_0001``...:
    each part is closed (readable) when it reaches the size, so even a killed recorder loses at
    most the part it was writing. Without it, OUT is one bag, closed on Ctrl-C or SIGTERM.
    """

    def __init__(self, node: Node, out, topics: Sequence[str], split_bytes: int = 0) -> None:
        self.node, self.topics, self.out, self.split_bytes = node, list(topics), str(out), split_bytes
        self.parts: List[str] = []
        self.counts: Dict[str, int] = {t: 0 for t in self.topics}
        self._lock = threading.Lock()
        self._subscribed: Dict[str, str] = {}
        self._bytes = 0
        self.writer = self._open_part()

    def _open_part(self) -> BagWriter:
        path = f"{self.out}_{len(self.parts):04d}" if self.split_bytes else self.out
        self.parts.append(path)
        self._bytes = 0
        return BagWriter(path)

    def subscribe_available(self) -> List[str]:
        """Subscribe to the wanted topics that have appeared in the graph; return those still missing."""
        types = dict(self.node.get_topic_names_and_types())
        for topic in self.topics:
            if topic not in self._subscribed and topic in types:
                msgtype = types[topic][0]
                best_effort = msgtype in IMAGE_TYPES  # matches both best-effort and reliable publishers
                qos = QoSProfile(
                    depth=50, reliability=ReliabilityPolicy.BEST_EFFORT if best_effort else ReliabilityPolicy.RELIABLE
                )
                self.node.create_subscription(
                    ros_class(msgtype), topic, lambda raw, t=topic, m=msgtype: self._write(t, m, raw), qos, raw=True
                )
                self._subscribed[topic] = msgtype
        return [t for t in self.topics if t not in self._subscribed]

    def _write(self, topic: str, msgtype: str, raw: bytes) -> None:
        with self._lock:
            if self.split_bytes and self._bytes >= self.split_bytes:
                self.writer.close()
                self.writer = self._open_part()
            self.writer.write(topic, msgtype, self.node.get_clock().now().nanoseconds, raw)
            self._bytes += len(raw)
            self.counts[topic] += 1

    def close(self) -> None:
        """Finish the current bag."""
        with self._lock:
            self.writer.close()


def _value_msg(value) -> ParameterValue:
    if isinstance(value, bool):
        return ParameterValue(type=ParameterType.PARAMETER_BOOL, bool_value=value)
    if isinstance(value, int):
        return ParameterValue(type=ParameterType.PARAMETER_INTEGER, integer_value=value)
    if isinstance(value, float):
        return ParameterValue(type=ParameterType.PARAMETER_DOUBLE, double_value=value)
    return ParameterValue(type=ParameterType.PARAMETER_STRING, string_value=str(value))


def _call(node: Node, srv_type, name: str, request, timeout: float):
    client = node.create_client(srv_type, name)
    try:
        if not client.wait_for_service(timeout_sec=timeout):
            raise TimeoutError(f"no service {name}: is the node running (same ROS_DOMAIN_ID)?")
        future = client.call_async(request)
        rclpy.spin_until_future_complete(node, future, timeout_sec=timeout)
        if not future.done():
            raise TimeoutError(f"{name} did not answer within {timeout} s")
        return future.result()
    finally:
        node.destroy_client(client)


def set_parameter(node: Node, target: str, name: str, value, timeout: float = 30.0):
    """Set one parameter of a running node through its standard service, as `ros2 param set` does.

    Returns (successful, reason).
    """
    req = SetParameters.Request(parameters=[ParameterMsg(name=name, value=_value_msg(value))])
    result = _call(node, SetParameters, f"{target}/set_parameters", req, timeout).results[0]
    return result.successful, result.reason


def get_parameter(node: Node, target: str, name: str, timeout: float = 10.0):
    """Read one parameter of a running node (None when it is not set)."""
    res = _call(node, GetParameters, f"{target}/get_parameters", GetParameters.Request(names=[name]), timeout)
    v = res.values[0] if res.values else None
    if v is None or v.type == ParameterType.PARAMETER_NOT_SET:
        return None
    return {
        ParameterType.PARAMETER_BOOL: v.bool_value,
        ParameterType.PARAMETER_INTEGER: v.integer_value,
        ParameterType.PARAMETER_DOUBLE: v.double_value,
        ParameterType.PARAMETER_STRING: v.string_value,
    }.get(v.type, v)


PIPELINE_TOPICS = ("/facecoach/face", "/facecoach/emotion")


def wait_for_pipeline(node: Node, procs, replayer: Replayer, timeout: float) -> bool:
    """Wait until every stage subscribes to its input (the classifier only after its model loaded)."""
    return (
        wait_until(
            node,
            lambda: (
                bool(procs.dead())
                or (
                    all(node.count_subscribers(t) > 0 for t in PIPELINE_TOPICS)
                    and all(p.get_subscription_count() > 0 for p in replayer.publishers.values())
                )
            ),
            timeout,
        )
        and not procs.dead()
    )


def start_pipeline(node: Node, procs, replayer: Replayer, received: Callable[[], int], timeout: float) -> bool:
    """Wait for the graph, then warm it up until a frame has come out of its far end."""
    deadline = time.monotonic() + timeout
    return wait_for_pipeline(node, procs, replayer, timeout) and replayer.warm_up(
        node, received, max(1.0, deadline - time.monotonic())
    )


def play_and_drain(node: Node, replayer: Replayer, received: Callable[[], int], idle_s: float = 1.5) -> int:
    """Replay while spinning ``node``; then keep spinning until nothing new arrived for ``idle_s``."""
    player = threading.Thread(target=replayer.play, daemon=True)
    player.start()
    while player.is_alive():
        rclpy.spin_once(node, timeout_sec=0.05)
    last = -1
    while received() != last:
        last = received()
        wait_until(node, lambda last=last: received() > last, idle_s)
    return replayer.published
