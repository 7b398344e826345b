"""The graph's QoS profiles, defined once for every FaceCoach node."""

from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

# Camera frames: best effort and a queue of 2, so a slow stage drops stale frames instead of lagging.
IMAGE_QOS = QoSProfile(
    history=HistoryPolicy.KEEP_LAST,
    depth=2,
    reliability=ReliabilityPolicy.BEST_EFFORT,
    durability=DurabilityPolicy.VOLATILE,
)
# Faces, emotions and feedback: small messages, every one matters for the decision window.
STREAM_QOS = QoSProfile(
    history=HistoryPolicy.KEEP_LAST,
    depth=10,
    reliability=ReliabilityPolicy.RELIABLE,
    durability=DurabilityPolicy.VOLATILE,
)
# Tools and tests that watch a stream (demo, bench, integration tests): the same reliable stream with a deep
# reader queue, so a watcher busy in Python (the GIL, a replay thread) never loses a message to its own queue.
OBSERVER_QOS = QoSProfile(
    history=HistoryPolicy.KEEP_LAST,
    depth=1000,
    reliability=ReliabilityPolicy.RELIABLE,
    durability=DurabilityPolicy.VOLATILE,
)
# Latched state (the current feedback/alert state): late joiners get the last value.
STATE_QOS = QoSProfile(
    history=HistoryPolicy.KEEP_LAST,
    depth=1,
    reliability=ReliabilityPolicy.RELIABLE,
    durability=DurabilityPolicy.TRANSIENT_LOCAL,
)
