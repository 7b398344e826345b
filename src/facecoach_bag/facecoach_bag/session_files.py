"""What a practice session folder holds, written by the session recorder and read by the report (no rclpy).

    <sessions_dir>/2026-12-06_07-30-00/
        session.yaml    version, start and end, what was recorded, the settings in force (the nodes' parameters)
        bag/            the recorded topics (a rosbag2 bag every distribution plays); a recorder that was
        bag_2/ ...      restarted during the session goes on in a new bag beside it

session.yaml is rewritten atomically, so a crash or `kill -9` leaves the previous complete one.
"""

import os
from pathlib import Path
from typing import Any, Dict, List

import yaml

SESSION_FILE = "session.yaml"
SESSION_VERSION = 1  # the layout above; a reader refuses a newer one and says so
BAG = "bag"
FEEDBACK_TOPIC = "/facecoach/feedback"
EMOTION_TOPIC = "/facecoach/emotion"  # the face box, label and probabilities of every frame
FACE_TOPIC = "/facecoach/face"  # the 48x48 face crop: an image of the face, only with record_images
IMAGE_TOPIC = "/camera/image_raw/compressed"  # the camera's frames: only with record_images
PARAMETER_EVENTS = "/parameter_events"  # settings changed while the session ran
TOPICS = (FEEDBACK_TOPIC, EMOTION_TOPIC, PARAMETER_EVENTS)
IMAGE_TOPICS = (FACE_TOPIC, IMAGE_TOPIC)


def is_session(path: Path) -> bool:
    """True for a folder that looks like a session: it has a session.yaml or a bag of its own."""
    return path.is_dir() and ((path / SESSION_FILE).is_file() or bool(bag_parts(path)))


def bag_parts(session: Path) -> List[Path]:
    """The session's bags in the order they were written (bag, bag_2, bag_3 ...)."""

    def order(p: Path) -> int:
        tail = p.name[len(BAG) + 1 :]
        return int(tail) if tail.isdigit() else 1

    found = [p for p in session.iterdir() if p.is_dir() and (p.name == BAG or p.name.startswith(BAG + "_"))]
    return sorted((p for p in found if p.name == BAG or p.name[len(BAG) + 1 :].isdigit()), key=order)


def next_bag(session: Path) -> Path:
    """The folder for a new bag of this session (``bag``, or ``bag_N`` after a restart)."""
    parts = bag_parts(session) if session.is_dir() else []
    return session / (BAG if not parts else f"{BAG}_{len(parts) + 1}")


def write_session_file(session: Path, data: Dict[str, Any]) -> None:
    """Replace session.yaml atomically (a failed write leaves the previous one)."""
    text = yaml.safe_dump(data, default_flow_style=False, sort_keys=False, allow_unicode=True)
    tmp = session / (SESSION_FILE + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(str(tmp), str(session / SESSION_FILE))


def read_session_file(session: Path) -> Dict[str, Any]:
    """session.yaml's content; ValueError (one line) when it is unreadable or from a newer FaceCoach."""
    path = session / SESSION_FILE
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: not a session file (expected a mapping)")
    version = data.get("version")
    if not isinstance(version, int):
        raise ValueError(f"{path}: no version number: not a FaceCoach session file")
    if version > SESSION_VERSION:
        raise ValueError(
            f"{path}: session version {version} is newer than this FaceCoach reads "
            f"({SESSION_VERSION}); update FaceCoach"
        )
    return data
