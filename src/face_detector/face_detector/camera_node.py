"""The `camera` node: frames from a device, a video file or a GStreamer pipeline, as sensor_msgs/Image.

Frames are grabbed in a worker thread (a device's read() blocks until its next frame), so the executor
stays free for parameter services. Publishes ``image_raw`` (bgr8) and, when asked, ``image_raw/compressed``.
"""

import threading
import time
import traceback
from typing import Any, Callable, Dict, Optional, Tuple

import numpy as np
import rclpy
from rclpy.node import Node
from rclpy.time import Time
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header

from face_detector.capture import CameraConfig, CaptureError, FileTimeline, FrameSource
from facecoach_common import ros_params
from facecoach_common.image_conversions import ImageConversionError, numpy_to_compressed, numpy_to_image
from facecoach_common.qos import IMAGE_QOS, STATE_QOS
from facecoach_common.settings import from_values, settings_of

SETTINGS = settings_of(CameraConfig)
FrameSink = Callable[[np.ndarray, Header], None]


def _build(values: Dict[str, Any]) -> CameraConfig:
    return from_values(CameraConfig, values)


class CameraNode(Node):
    """Publishes camera frames; survives the source disappearing."""

    def __init__(self, **kwargs: Any) -> None:
        """Declare parameters, create publishers and start the grab thread."""
        super().__init__("camera", **kwargs)
        self._values = ros_params.declare(self, SETTINGS)
        self._config = _build(self._values)  # CaptureError/ValueError: main() reports it
        self._image_pub = self.create_publisher(Image, "image_raw", IMAGE_QOS)
        self._compressed_pub = self.create_publisher(CompressedImage, "image_raw/compressed", IMAGE_QOS)
        # Latched: a video file's end, so the alert node tells the silence after it from a stopped classifier.
        self._end_pub = self.create_publisher(Header, "stream_end", STATE_QOS)
        self.add_on_set_parameters_callback(
            ros_params.on_set(self, SETTINGS, lambda: self._values, _build, self._apply)
        )
        self._sink: Optional[FrameSink] = None
        self._stop = threading.Event()
        self._reopen = threading.Event()
        self._thread = threading.Thread(target=self._run, name="camera-grab", daemon=True)
        self._thread.start()
        c = self._config.capture
        self.get_logger().info(f"camera: source {c.source!r} ({c.kind}), {c.width}x{c.height} @ {c.fps:g} fps")

    def _apply(self, config: CameraConfig, changed: Dict[str, Any]) -> None:
        self._values.update(changed)
        reopen = config.capture != self._config.capture
        self._config = config  # one reference swap: the grab thread reads it once per frame
        if reopen:
            self._reopen.set()
        self.get_logger().info(f"parameters changed: {changed}{' (reopening the source)' if reopen else ''}")

    def _log(self, level: str, message: str) -> None:
        # FrameSource already rate-limits its repeated warnings, so no throttle here. One call per severity:
        # rclpy raises when the severity of one call site changes between calls.
        logger = self.get_logger()
        if level == "info":
            logger.info(message)
        elif level == "error":
            logger.error(message)
        else:
            logger.warning(message)

    def _run(self) -> None:
        source: Optional[FrameSource] = None
        timeline: Optional[FileTimeline] = None
        try:
            while not self._stop.is_set():
                try:
                    source, timeline = self._grab(source, timeline)
                except Exception:  # noqa: BLE001 - one frame's failure (a bug) must not end the camera
                    if not rclpy.ok():
                        return
                    self.get_logger().error(f"a frame failed:\n{traceback.format_exc()}", throttle_duration_sec=5.0)
                    self._stop.wait(0.1)
        finally:
            if source is not None:
                source.close()

    def _grab(
        self, source: Optional[FrameSource], timeline: Optional[FileTimeline]
    ) -> Tuple[FrameSource, Optional[FileTimeline]]:
        """Read, stamp and hand on one frame (opening the source first when needed); pace a file."""
        config = self._config
        if source is None or self._reopen.is_set():
            self._reopen.clear()
            if source is not None:
                source.close()
            source = FrameSource(config.capture, self._log)
            timeline = FileTimeline(config.capture.fps) if config.capture.kind == "file" else None
        was_finished = source.finished
        frame = source.read(time.monotonic())
        if source.finished and not was_finished:
            self._end_pub.publish(Header(stamp=self.get_clock().now().to_msg(), frame_id=config.frame_id))
        if frame is None:
            # Waiting for a retry or a finished file: poll the stop/reopen flags, not a busy loop.
            self._stop.wait(0.5 if source.finished else min(0.05, config.capture.reconnect_s))
            return source, timeline
        stamp_ns = self.get_clock().now().nanoseconds
        if timeline is None:
            self._publish(frame, config, stamp_ns)  # a device or pipeline delivers at its own rate
            return source, timeline
        stamp_ns, lag = timeline.stamp(time.monotonic(), stamp_ns)
        if lag:
            self._log("warn", f"fell {lag:.1f} s behind the file's {config.capture.fps:g} fps: a new timeline")
        self._publish(frame, config, stamp_ns)
        delay = timeline.due() - time.monotonic()
        if delay > 0:
            self._stop.wait(delay)
        return source, timeline

    def connect(self, sink: FrameSink) -> None:
        """Hand every frame to ``sink`` (a face detector in this process) besides publishing it to subscribers."""
        self._sink = sink

    def _publish(self, frame: np.ndarray, config: CameraConfig, stamp_ns: int) -> None:
        header = Header(stamp=Time(nanoseconds=stamp_ns).to_msg(), frame_id=config.frame_id)
        try:
            if self._sink is not None:
                self._sink(frame, header)  # in process: the full frame is never serialized
            # Converting and serializing a 640x480 frame costs ~10 ms: only for someone listening.
            if self._image_pub.get_subscription_count() > 0:
                self._image_pub.publish(numpy_to_image(frame, "bgr8", header))
            if config.publish_compressed and self._compressed_pub.get_subscription_count() > 0:
                self._compressed_pub.publish(numpy_to_compressed(frame, "jpeg", config.jpeg_quality, header))
        except ImageConversionError as exc:
            self.get_logger().warning(f"cannot publish a frame: {exc}", throttle_duration_sec=5.0)
        except Exception:  # noqa: BLE001 - publishing after shutdown began; the thread ends just below
            if not rclpy.ok():
                self._stop.set()
                return
            raise

    def stop(self) -> None:
        """Stop the grab thread and release the source."""
        self._stop.set()
        self._thread.join(timeout=5.0)

    def destroy_node(self) -> None:
        """Stop grabbing before the publishers go away."""
        if hasattr(self, "_thread"):
            self.stop()
        super().destroy_node()


def main(args: Optional[list] = None) -> None:
    """Console script `camera`."""
    ros_params.run_node(CameraNode, "camera", (CaptureError, ValueError), args)


if __name__ == "__main__":
    main()
