"""Replaying a bag over DDS into a running graph: the one replay loop and the one warm-up.

`facecoach replay`, `run --bag` and `demo`, the bench and the integration tests all replay through
``Replayer``: wait for the graph (``start_pipeline``), warm it up, then ``play_and_drain``.
"""

import sys
import threading
import time
from typing import Callable, Iterable, Iterator, List, Optional, Sequence, Tuple

import rclpy
from rclpy.duration import Duration
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from std_msgs.msg import Header

from facecoach_common.qos import STATE_QOS
from facecoach_common.stopping import wait_until

from .errors import BagError, PartialBag
from .reader import messages, open_reader
from .schema import IMAGE_TYPES, WARM_UP_FRAME_ID, ros_class

PIPELINE_TOPICS = ("/facecoach/face", "/facecoach/emotion")
STREAM_END_TOPIC = "/facecoach/stream_end"  # std_msgs/Header, latched: the replay ended (the alert node reads it)
WARM_UP_EARLY_S = 10  # warm-up copies are stamped this long before the bag, out of the replayed stretch


class Replayer:
    """Publishes a bag's messages over DDS with their original timing (a stand-in for `ros2 bag play`).

    ``preloaded``: the (topic, log time ns, raw CDR) messages to replay, instead of reading the bag on
    each pass (the bench replays frames it has read once). ``on_send(i)`` runs just before the i-th
    message of a pass is published (the bench notes each frame's send time).
    """

    def __init__(
        self,
        node: Node,
        bag,
        rate: float = 1.0,
        loop: bool = False,
        topics: Optional[Sequence[str]] = None,
        preloaded: Optional[Iterable[Tuple[str, int, bytes]]] = None,
        on_send: Optional[Callable[[int], None]] = None,
    ):
        if rate <= 0:
            raise BagError("rate must be > 0")
        self.bag, self.rate, self.loop, self.topics = bag, rate, loop, topics
        self.preloaded: Optional[List[Tuple[str, int, bytes]]] = None if preloaded is None else list(preloaded)
        self.on_send = on_send
        reader = open_reader(bag)
        self.msgtypes = {c.topic: c.msgtype for c in reader.connections if not topics or c.topic in topics}
        self.listed = sum(c.msgcount for c in reader.connections if c.topic in self.msgtypes)  # what it says it holds
        self.partial: Optional[str] = getattr(reader, "partial", None)  # what a damaged bag lost
        reader.close()
        if not self.msgtypes:
            raise BagError(f"{bag}: no messages to replay" + (f" on {list(topics)}" if topics else ""))
        # Reliable like `ros2 bag play`; best-effort subscribers (the image topics) still match.
        qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        self.publishers = {t: node.create_publisher(ros_class(m), t, qos) for t, m in self.msgtypes.items()}
        self._end_pub = node.create_publisher(Header, STREAM_END_TOPIC, STATE_QOS)
        self._clock = node.get_clock()
        self._context = node.context
        self.published = 0
        self.passes = 0  # passes played to their end
        self.stop_event = threading.Event()

    def _pass(self) -> Iterator[Tuple[str, int, bytes]]:
        """One pass over the messages: (topic, log time ns, raw CDR) in time order."""
        if self.preloaded is not None:
            return iter(self.preloaded)
        return ((topic, t_ns, raw) for topic, _msgtype, t_ns, raw in messages(self.bag, self.topics))

    def wait_for_subscribers(self, node: Node, timeout: float) -> bool:
        """Wait until every replayed topic has a subscriber (messages sent before that are lost)."""
        return wait_until(
            node, lambda: all(p.get_subscription_count() > 0 for p in self.publishers.values()), timeout, spin=False
        )

    def warm_up(self, node: Node, received: Callable[[], int], timeout: float, settle_s: float = 1.0) -> bool:
        """Send the first image again and again, stamped 10 s before the bag, until ``received()`` grows.

        Its frame_id is ``WARM_UP_FRAME_ID``, as the player's warm-up frames have.

        Discovery between every pair of processes takes a while; without this, the first seconds of
        a replay can cross a stage whose publisher has not yet matched the next stage's subscriber.
        The early stamp keeps the warm-up frame out of the replayed stretch of time: a reader tells
        warm-up output from the replay's by its stamp.
        """
        from rclpy.serialization import deserialize_message

        topic, raw = next(((t, raw) for t, _, raw in self._pass() if self.msgtypes[t] in IMAGE_TYPES), (None, None))
        if topic is None:
            return True
        msg = deserialize_message(raw, ros_class(self.msgtypes[topic]))
        msg.header.stamp.sec -= WARM_UP_EARLY_S
        msg.header.frame_id = WARM_UP_FRAME_ID  # a recorded session leaves the warm-up out by it
        start = received()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            # A new stamp each time: the detector drops a repeated (stamp, frame_id) as a duplicate.
            msg.header.stamp.nanosec = (msg.header.stamp.nanosec + 1_000_000) % 1_000_000_000
            self.publishers[topic].publish(msg)
            if wait_until(node, lambda: received() > start, 0.3):
                # Earlier copies may still be crossing the graph: let them all come out first, so
                # that what arrives after this returns is the replay's own.
                while wait_until(node, lambda n=received(): received() > n, settle_s):
                    pass
                return True
        return False

    def play(self) -> int:
        """Publish everything (blocking; run it in a thread beside the executor); return the count.

        A damaged bag plays its readable part (``partial`` says what was lost); playing stops quietly
        when rclpy shuts down under it (Ctrl-C).
        """
        while True:
            start_wall, first_t = time.monotonic(), None
            try:
                for i, (topic, t_ns, raw) in enumerate(self._pass()):
                    if self.stop_event.is_set():
                        return self.published
                    first_t = t_ns if first_t is None else first_t
                    delay = start_wall + (t_ns - first_t) / 1e9 / self.rate - time.monotonic()
                    if delay > 0:
                        self.stop_event.wait(delay)
                    if self.on_send is not None:
                        self.on_send(i)
                    try:
                        self.publishers[topic].publish(raw)
                    except Exception:  # noqa: BLE001 - RCLError or InvalidHandle once the node or context is gone
                        if self.stop_event.is_set() or not self._context.ok():
                            return self.published
                        raise
                    self.published += 1
            except PartialBag as exc:
                if self.partial != str(exc):  # once, not on every pass of a loop
                    print(f"[facecoach] warning: {exc}", file=sys.stderr)
                self.partial = str(exc)
            self.passes += 1
            if not self.published:
                return 0  # nothing of it is readable: looping would spin; check_played says so
            if self.stop_event.is_set():
                return self.published
            if not self.loop:
                self._announce_end()
                return self.published

    def _announce_end(self) -> None:
        """Say on the latched end topic that the bag has ended, so the alert node tells its silence as the end."""
        try:
            self._end_pub.publish(Header(stamp=self._clock.now().to_msg(), frame_id=str(self.bag)))
            self._end_pub.wait_for_all_acked(Duration(seconds=1.0))  # `replay` exits next, and its notice with it
        except Exception:  # noqa: BLE001 - RCLError or InvalidHandle once the node or context is gone
            if self._context.ok():
                raise

    def check_played(self) -> None:
        """BagError when a pass played to its end replayed nothing of a bag that lists messages.

        A metadata.yaml that lists other types than its storage holds, or a bag whose every message is
        unreadable, would otherwise "replay 0 messages" and look like success.
        """
        if self.passes and not self.published and self.listed:
            why = self.partial or "none of them could be read"
            raise BagError(f"{self.bag}: nothing replayed: it lists {self.listed} messages ({why})")


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
