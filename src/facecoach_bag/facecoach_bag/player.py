"""`facecoach_player`: plays a bag into the graph once the graph is ready (replay.launch.py's player).

    ros2 run facecoach_bag facecoach_player BAG [--rate R] [--loop] [--topics T ...] [--start-paused]
    ros2 run facecoach_bag facecoach_player --ready-only    # only wait for the graph (then `ros2 bag play`)

Ready means: the face detector subscribes to an image topic, the classifier (once its weights are
loaded) and the alert node to theirs, a warm-up frame has gone through the whole graph to the feedback
topic, and the bag's own publishers have matched their subscribers, so no message of the bag is lost to
discovery. The warm-up frames are black, stamped at time 0 + n ns with frame_id ``facecoach_warm_up``:
their Face/Emotion/Feedback messages carry that header, so a reader tells them from the bag's. With
--start-paused it then waits for a call of its ``~/resume`` service (std_srvs/Trigger), as
``ros2 bag play --start-paused`` does: a tool of your own (``ros2 topic echo``, a recorder) can connect
first and miss none of the bag.

It runs on the device's Python 3.6: where rosbags is not installed (it does not install there) a sqlite3
bag, the default FaceCoach and Humble write, is read with the standard library and its CDR bytes are
published as they are; an MCAP or compressed bag then ends the player with one line saying so (exit code 2),
as does a missing or unreadable bag.
"""

import argparse
import sys
import time
from typing import Callable, List, Optional, Sequence

from facecoach_common.stopping import wait_until

from .schema import WARM_UP_FRAME_ID

IMAGE_TOPICS = ("/camera/image_raw", "/camera/image_raw/compressed")
PIPELINE_TOPICS = ("/facecoach/face", "/facecoach/emotion")
READY_TOPIC = "/facecoach/feedback"
EXIT_NOT_READY, EXIT_BAD_BAG = 1, 2


def build_parser() -> argparse.ArgumentParser:
    """The player's options (ROS arguments after --ros-args are rclpy's)."""
    p = argparse.ArgumentParser(prog="facecoach_player", description=__doc__.splitlines()[0])
    p.add_argument("bag", nargs="?", help="the bag to play (a rosbag2 folder); not with --ready-only")
    p.add_argument("--rate", type=float, default=1.0, help="playback speed factor (> 0)")
    p.add_argument(
        "--loop", nargs="?", const="true", default="false", choices=["true", "false"], help="play it again and again"
    )
    p.add_argument("--topics", nargs="+", help="play only these topics")
    p.add_argument(
        "--start-paused",
        nargs="?",
        const="true",
        default="false",
        choices=["true", "false"],
        help="once the graph is ready, wait for a call of ~/resume (std_srvs/srv/Trigger) before playing",
    )
    p.add_argument("--ready-only", action="store_true", help="exit 0 once the graph is ready, play nothing")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for the graph (exit 1 after)")
    return p


def _missing(node) -> List[str]:
    """What the graph still lacks before a frame can go all the way through, in words."""
    missing = []
    if not any(node.count_subscribers(t) for t in IMAGE_TOPICS):
        missing.append(f"a subscriber of {' or '.join(IMAGE_TOPICS)} (the face detector)")
    for topic in PIPELINE_TOPICS:
        if not node.count_subscribers(topic):
            missing.append(f"a subscriber of {topic}")
    if not node.count_publishers(READY_TOPIC):
        missing.append(f"a publisher of {READY_TOPIC} (the alert node)")
    return missing


def _warm_up_frame(topic: str, n: int):
    """A black 640x480 frame for ``topic`` (raw or JPEG), stamped 0 + n ns with the warm-up frame_id."""
    import numpy as np
    from std_msgs.msg import Header

    from facecoach_common.image_conversions import numpy_to_compressed, numpy_to_image

    header = Header(frame_id=WARM_UP_FRAME_ID)
    header.stamp.nanosec = n
    frame = np.zeros((480, 640, 3), np.uint8)
    if topic.endswith("compressed"):
        return numpy_to_compressed(frame, "jpeg", 80, header)
    return numpy_to_image(frame, "bgr8", header)


def warm_up_publisher(node, topic: str):
    """A publisher of warm-up frames on the image ``topic`` (raw or JPEG), reliable as the bag is played."""
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import CompressedImage, Image

    qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
    return node.create_publisher(CompressedImage if topic.endswith("compressed") else Image, topic, qos)


def send_warm_ups(node, pub, topic: str, came_out: Callable[[], int], timeout: float, first: int = 1) -> int:
    """Send warm-up frames (stamped ``first``, ``first`` + 1 ... ns) until ``came_out()`` grows; how many (0: none).

    Earlier warm-up frames may still be on their way then: they are let out before this returns, so that what
    comes after is the bag's.
    """
    deadline = time.monotonic() + timeout
    start = came_out()
    n = 0
    while time.monotonic() < deadline:
        pub.publish(_warm_up_frame(topic, first + n))
        n += 1
        if wait_until(node, lambda: came_out() > start, min(0.5, max(0.0, deadline - time.monotonic()))):
            while wait_until(node, lambda k=came_out(): came_out() > k, 0.3):
                pass
            return n
    return 0


def wait_for_graph(node, timeout: float) -> str:
    """Wait for the graph's subscribers, then send warm-up frames until one comes out; '' or why not."""
    from facecoach_common.qos import OBSERVER_QOS
    from facecoach_msgs.msg import Feedback

    deadline = time.monotonic() + timeout
    if not wait_until(node, lambda: not _missing(node), timeout):
        return f"the graph is not ready after {timeout:g} s: still no {'; no '.join(_missing(node))}"
    topic = next(t for t in IMAGE_TOPICS if node.count_subscribers(t))
    pub = warm_up_publisher(node, topic)
    through: List[int] = []

    def on_feedback(msg) -> None:
        if msg.header.frame_id == WARM_UP_FRAME_ID:
            through.append(msg.header.stamp.nanosec)

    sub = node.create_subscription(Feedback, READY_TOPIC, on_feedback, OBSERVER_QOS)
    try:
        # A frame sent before the detector matched this publisher is lost: wait for the match first.
        wait_until(node, lambda: pub.get_subscription_count() > 0, max(0.0, deadline - time.monotonic()))
        n = send_warm_ups(node, pub, topic, lambda: len(through), max(0.0, deadline - time.monotonic()))
        if n:
            node.get_logger().info(f"graph ready: warm-up frame {through[0]} of {n} came out on {READY_TOPIC}")
            return ""
        return f"the graph is not ready after {timeout:g} s: no warm-up frame came out on {READY_TOPIC}"
    finally:
        node.destroy_subscription(sub)
        node.destroy_publisher(pub)


def _unmatched(node, replayer) -> List[str]:
    """The bag's topics whose subscribers (in the graph) its publisher has not matched yet.

    The warm-up went through a publisher of its own: the bag's were made before the graph was there, and
    matching is per pair of endpoints.
    """
    return [
        t for t, pub in replayer.publishers.items() if node.count_subscribers(t) and not pub.get_subscription_count()
    ]


def wait_for_resume(node) -> None:
    """Serve ``~/resume`` (std_srvs/Trigger) until it is called (or a stop signal ends the wait)."""
    from std_srvs.srv import Trigger

    called: List[bool] = []

    def on_resume(request, response):
        called.append(True)
        response.success, response.message = True, "playing"
        return response

    service = node.create_service(Trigger, "~/resume", on_resume)
    try:
        name = node.get_fully_qualified_name() + "/resume"
        node.get_logger().info(f"paused: play with `ros2 service call {name} std_srvs/srv/Trigger`")
        wait_until(node, lambda: bool(called), float("inf"))  # the answer went out with the call's spin
    finally:
        node.destroy_service(service)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Console script `facecoach_player`."""
    import rclpy
    from rclpy.executors import ExternalShutdownException
    from rclpy.signals import SignalHandlerOptions
    from rclpy.utilities import remove_ros_args

    from facecoach_common.ros_params import ignore_interrupts
    from facecoach_common.stopping import building, on_stop, stop_requested, take_stop_signals

    argv = list(sys.argv if argv is None else argv)
    args = build_parser().parse_args(remove_ros_args(argv)[1:])
    if bool(args.bag) == args.ready_only:
        build_parser().error("give a bag to play, or --ready-only")
    if not args.rate > 0:
        build_parser().error(f"--rate must be > 0, not {args.rate}")
    # Ctrl-C is kept and ends the waits and the play between two rclpy calls (facecoach_common.stopping).
    take_stop_signals()
    rclpy.init(args=argv, signal_handler_options=SignalHandlerOptions.NO)
    node = None
    try:
        node = rclpy.create_node("facecoach_player")
        logger = node.get_logger()
        replayer = None
        if args.bag:
            with building():  # reading the bag imports rosbags
                from .errors import BagError
                from .replay import Replayer
                from .sqlite3_reader import no_rosbags

                try:
                    replayer = Replayer(node, args.bag, rate=args.rate, loop=args.loop == "true", topics=args.topics)
                except (BagError, OSError) as exc:
                    logger.fatal(f"cannot play: {exc}")
                    return EXIT_BAD_BAG
            if no_rosbags():
                logger.info(f"reading {args.bag} with the standard library's sqlite3 (rosbags is not installed)")
            if replayer.partial:
                logger.warning(f"a damaged bag: its readable part is played ({replayer.partial})")
        logger.info("waiting for the graph (face detector, classifier, alert node)")
        problem = wait_for_graph(node, args.timeout)
        if problem:
            logger.error(problem)
            return EXIT_NOT_READY
        if replayer is not None and not wait_until(node, lambda: not _unmatched(node, replayer), args.timeout):
            logger.warning(f"{', '.join(_unmatched(node, replayer))}: not matched yet, its first messages may be lost")
        if replayer is not None and args.start_paused == "true":
            wait_for_resume(node)
        logger.info("the graph is ready" if replayer is None else f"playing {args.bag} at {args.rate:g}x")
        if replayer is not None:
            with on_stop(replayer.stop_event.set):
                n = replayer.play()
            if stop_requested():
                return 0
            try:
                replayer.check_played()
            except BagError as exc:
                logger.fatal(f"cannot play: {exc}")
                return EXIT_BAD_BAG
            logger.info(f"played {n} messages" + (" (the readable part)" if replayer.partial else ""))
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        ignore_interrupts()
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
