"""What a rosbag2 bag is made of, as every ROS 2 distribution reads it: storages, metadata version, QoS, types.

Metadata version 5 is the version ROS 2 Humble writes and the newest it reads (``offered_qos_profiles`` a YAML
string; version 9 made it a list, which Humble's reader rejects); sqlite3 storage is Humble's default (MCAP
needs ros-humble-rosbag2-storage-mcap there). Raw CDR bytes are exactly what rclpy publishes and receives with
``raw=True``, so replay and record need no per-field conversion.
"""

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Sequence

import yaml

from .errors import BagError

IMAGE_TYPES = ("sensor_msgs/msg/Image", "sensor_msgs/msg/CompressedImage")
FACECOACH_MSGS = ("Face", "Emotion", "Feedback")
METADATA_VERSION = 5  # Humble's; see the module docstring
STORAGES = ("sqlite3", "mcap")
DEFAULT_STORAGE = "sqlite3"
STORAGE_SUFFIX = {"sqlite3": ".db3", "mcap": ".mcap"}
WARM_UP_FRAME_ID = "facecoach_warm_up"  # header.frame_id of warm-up frames: a reader leaves them out of a session
INFINITE = {"sec": 2147483647, "nsec": 4294967295}  # how Humble writes an infinite QoS duration


@dataclass(frozen=True)
class Topic:
    """A topic of a bag."""

    name: str
    msgtype: str
    count: int


def qos_profile(
    reliable: bool = True, transient_local: bool = False, depth: int = 10, keep_all: bool = False
) -> Dict[str, Any]:
    """One offered QoS profile as rosbag2 metadata stores it (rmw enum values, as Humble writes them)."""
    return {
        "history": 2 if keep_all else 1,  # rmw: 1 keep last, 2 keep all
        "depth": depth,
        "reliability": 1 if reliable else 2,  # 1 reliable, 2 best effort
        "durability": 1 if transient_local else 2,  # 1 transient local, 2 volatile
        "deadline": dict(INFINITE),
        "lifespan": dict(INFINITE),
        "liveliness": 1,  # automatic
        "liveliness_lease_duration": dict(INFINITE),
        "avoid_ros_namespace_conventions": False,
    }


DEFAULT_QOS = qos_profile()  # what `ros2 bag play` then offers: reliable, volatile, depth 10


def qos_profiles_yaml(profiles: Sequence[Dict[str, Any]]) -> str:
    """``offered_qos_profiles`` of metadata versions 4-8: a YAML list dumped into one string.

    Never empty: Humble's player parses the string as a list of profiles and fails on ''.
    """
    return yaml.safe_dump(list(profiles) or [DEFAULT_QOS], default_flow_style=False, sort_keys=False).strip()


def typestore():
    """A rosbags typestore with the ROS 2 standard types and facecoach_msgs registered."""
    from rosbags.typesys import Stores, get_types_from_msg, get_typestore

    ts = get_typestore(Stores.ROS2_KILTED)
    types = {}
    for name in FACECOACH_MSGS:
        types.update(get_types_from_msg(msg_file(name).read_text(encoding="utf-8"), f"facecoach_msgs/msg/{name}"))
    ts.register(types)
    return ts


def msg_file(name: str) -> Path:
    """A facecoach_msgs definition as installed: share/facecoach_msgs/msg/<name>.msg."""
    from facecoach_common.paths import resource

    return resource("facecoach_msgs", "msg", f"{name}.msg")


def ros_class(msgtype: str):
    """The rclpy message class of a type string such as ``sensor_msgs/msg/Image``.

    BagError when this ROS 2 install lacks it (a bag of another robot's topics, a package not built or sourced).
    """
    try:
        pkg, kind, name = msgtype.split("/")
        return getattr(importlib.import_module(f"{pkg}.{kind}"), name)
    except (ValueError, ImportError, AttributeError) as exc:
        raise BagError(f"message type {msgtype!r} is not installed here ({exc}); source its package") from None
