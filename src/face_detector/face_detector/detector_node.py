"""The `face_detector` node: camera frames in, one facecoach_msgs/Face per frame out ("no face" included).

Subscribes ``image_raw`` (sensor_msgs/Image) and/or ``image_raw/compressed`` (sensor_msgs/CompressedImage),
publishes ``face``. A frame that cannot be decoded is skipped with a throttled warning naming the problem.
"""

import time
from typing import Any, Dict, Optional, Tuple

import numpy as np
from rclpy.node import Node
from sensor_msgs.msg import CompressedImage, Image, RegionOfInterest
from std_msgs.msg import Header

from face_detector.annotate import annotate
from face_detector.config import DetectorNodeConfig
from face_detector.detector import (
    DetectorConfig,
    DetectorError,
    FaceDetector,
    RawDetect,
    cascade_detector,
    load_cascade,
)
from face_detector.stage import DetectStage, FaceResult, FrameError
from facecoach_common import ros_params
from facecoach_common.image_conversions import numpy_to_compressed, numpy_to_image, opencv_decoder_bounded
from facecoach_common.qos import IMAGE_QOS, STREAM_QOS
from facecoach_common.settings import from_values, settings_of
from facecoach_common.stamps import stamp_to_ns
from facecoach_common.throttle import PerKindThrottle
from facecoach_msgs.msg import Face, Feedback

WARN_EVERY_S = 5.0
SETTINGS = settings_of(DetectorNodeConfig)


class FaceDetectorNode(Node):
    """Finds the largest face of every frame and publishes it with a 48x48 crop."""

    def __init__(self, **kwargs: Any) -> None:
        """Declare parameters, load the cascade, wire topics."""
        super().__init__("face_detector", **kwargs)
        self._values = ros_params.declare(self, SETTINGS)
        self._config: Optional[DetectorConfig] = None
        config, raw = self._build(self._values)  # DetectorError/ValueError: main() reports it and exits
        self._stage = DetectStage(FaceDetector(config, raw))
        self._config, self._raw = config, raw
        self.add_on_set_parameters_callback(
            ros_params.on_set(self, SETTINGS, lambda: self._values, self._build, self._apply)
        )
        self._pub = self.create_publisher(Face, "face", STREAM_QOS)
        node_config = from_values(DetectorNodeConfig, self._values)
        source, topic = node_config.input, node_config.image_topic
        if topic:  # the user's own camera: one topic, its type from its name (image_transport's convention)
            source = "compressed" if topic.endswith("/compressed") else "raw"
            kind = CompressedImage if source == "compressed" else Image
            self.create_subscription(kind, topic, lambda m: self._process(m, topic), IMAGE_QOS)
        elif source in ("raw", "both"):
            self.create_subscription(Image, "image_raw", self._on_raw, IMAGE_QOS)
        if not topic and source in ("compressed", "both"):
            self.create_subscription(CompressedImage, "image_raw/compressed", self._on_compressed, IMAGE_QOS)
        self._throttle = PerKindThrottle(WARN_EVERY_S)
        # The debug picture: off by default, and then no feedback subscription, no drawing, no encoding.
        self._debug_pub = self.create_publisher(CompressedImage, "debug_image/compressed", IMAGE_QOS)
        self._feedback_sub = None
        self._feedback: Optional[Feedback] = None
        self._next_debug = 0.0
        self._configure_debug()
        where = f" from {topic}" if topic else ""
        cascade = config.cascade_path or "OpenCV default"
        self.get_logger().info(f"face_detector: input {source}{where}, mode {config.mode}, cascade {cascade}")
        if source in ("compressed", "both") and not opencv_decoder_bounded():
            self.get_logger().warning(
                "OpenCV's decoder has no size limit in this process (cv2 was imported before facecoach_common "
                "could set it): only the frame header check guards against oversized compressed frames"
            )

    def _build(self, values: Dict[str, Any]) -> Tuple[DetectorConfig, RawDetect]:
        config = from_values(DetectorNodeConfig, values).detector
        if self._config is not None and config.cascade_path == self._config.cascade_path:
            return config, self._raw  # same cascade: no reload
        try:
            return config, cascade_detector(load_cascade(config.cascade_path))
        except DetectorError as exc:
            raise ValueError(str(exc)) from exc  # on_set refuses the change; the old detector stays

    def _apply(self, built: Tuple[DetectorConfig, RawDetect], changed: Dict[str, Any]) -> None:
        config, raw = built
        self._values.update(changed)
        self._config, self._raw = config, raw
        self._stage.detector = FaceDetector(config, raw)  # one reference swap, between two frames
        self._configure_debug()
        self.get_logger().info(f"detector parameters changed: {changed}")

    def _configure_debug(self) -> None:
        """Follow the debug_image parameter: subscribe to the feedback (for the labels) only while it is on."""
        node_config = from_values(DetectorNodeConfig, self._values)
        self._debug_period = 1.0 / node_config.debug_image_hz
        if node_config.debug_image and self._feedback_sub is None:
            self._feedback_sub = self.create_subscription(Feedback, "feedback", self._on_feedback, STREAM_QOS)
        elif not node_config.debug_image and self._feedback_sub is not None:
            self.destroy_subscription(self._feedback_sub)
            self._feedback_sub, self._feedback = None, None

    def _on_feedback(self, msg: Feedback) -> None:
        self._feedback = msg  # the latest decision: its label and category go on the next debug picture

    def _publish_debug(self, frame: np.ndarray, result: FaceResult, header: Header) -> None:
        now = time.monotonic()
        if now < self._next_debug:
            return
        self._next_debug = now + self._debug_period
        fb = self._feedback
        decided = (fb.emotion, fb.category_name, fb.confidence) if fb is not None else ()
        picture = annotate(frame, result.box, *decided)
        self._debug_pub.publish(numpy_to_compressed(picture, "jpeg", 80, header))

    def _on_raw(self, msg: Image) -> None:
        self._process(msg, "image_raw")

    def _on_compressed(self, msg: CompressedImage) -> None:
        self._process(msg, "image_raw/compressed")

    def _process(self, msg: Any, topic: str) -> None:
        if self._stage.is_duplicate(stamp_to_ns(msg.header.stamp), msg.header.frame_id):
            return
        start = time.perf_counter()
        try:
            frame = self._stage.decode(msg)
        except FrameError as exc:
            self._warn(exc.reason, f"skipping a frame on {topic}: {exc}")
            return
        self.on_frame(frame, msg.header, start)

    def on_frame(self, frame: np.ndarray, header: Header, start: Optional[float] = None) -> None:
        """Detect on a decoded frame (BGR or gray) and publish its Face; a camera in this process calls it directly."""
        start = time.perf_counter() if start is None else start
        try:
            result = self._stage.detect(frame)
        except FrameError as exc:
            self._warn(exc.reason, f"skipping a frame: {exc}")
            return
        face = Face(header=header, frame_width=result.width, frame_height=result.height)
        if result.box is not None:
            box = result.box
            face.has_face = True
            face.roi = RegionOfInterest(x_offset=box.x, y_offset=box.y, width=box.w, height=box.h)
            face.crop = numpy_to_image(result.crop, "bgr8", header)
        face.detect_ms = float((time.perf_counter() - start) * 1000.0)
        self._pub.publish(face)
        if self._feedback_sub is not None:
            self._publish_debug(frame, result, header)

    def _warn(self, reason: str, message: str) -> None:
        if self._throttle.due(reason):  # per kind of problem: one bad stream cannot hide a different one
            self.get_logger().warning(message)


def main(args: Optional[list] = None) -> None:
    """Console script `face_detector`."""
    ros_params.run_node(FaceDetectorNode, "face_detector", (DetectorError, ValueError), args)


if __name__ == "__main__":
    main()
