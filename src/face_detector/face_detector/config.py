"""The face detector node's configuration: which frame topics, and the detector's own settings."""

from dataclasses import dataclass

from facecoach_common.settings import check_settings, group, setting

from .detector import DetectorConfig

INPUTS = ("raw", "compressed", "both", "direct")


@dataclass(frozen=True)
class DetectorNodeConfig:
    """Every face_detector parameter: ``input`` plus the detector's settings (flat, same names)."""

    input: str = setting(
        "both",
        "frame topics to subscribe: image_raw, image_raw/compressed, both, or direct: no topic, frames handed over "
        "by a camera node in the same process (full frames never leave the process)",
        choices=INPUTS,
        read_only=True,
    )
    image_topic: str = setting(
        "",
        "your own camera's topic, subscribed instead of image_raw / image_raw/compressed (input is then ignored): "
        "a sensor_msgs/Image topic, or a CompressedImage one when it ends in /compressed; '' = the image_raw topics",
        read_only=True,
    )
    detector: DetectorConfig = group(DetectorConfig)
    debug_image: bool = setting(
        False, "publish debug_image/compressed: the frame with box, label and category (off: costs nothing)"
    )
    debug_image_hz: float = setting(5.0, "most debug images a second", 0.1, 30.0)

    def __post_init__(self) -> None:
        check_settings(self)
        if self.image_topic and (" " in self.image_topic or self.image_topic.endswith("/")):
            raise ValueError(f"image_topic {self.image_topic!r} is not a topic name (e.g. /my_cam/image_raw)")
