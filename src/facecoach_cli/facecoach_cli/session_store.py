"""A recorded practice session read back: its feedback stream, settings and face crops, and what is missing.

The report is built from what the candidate was given (the alert node's Feedback messages as recorded),
never from a re-run. Warm-up frames (frame_id ``facecoach_warm_up``) are no part of the interview; the
alert node's word that the stream stopped (stamp 0) is kept as an event, not a frame.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence

from facecoach_bag.errors import BagError, PartialBag
from facecoach_bag.schema import WARM_UP_FRAME_ID
from facecoach_bag.session_files import (
    FACE_TOPIC,
    FEEDBACK_TOPIC,
    SESSION_FILE,
    bag_parts,
    is_session,
    read_session_file,
)
from facecoach_common.paths import sessions_dir

from .coaching import feedback_line
from .errors import CommandError

EVENTS = ("classifier_gone", "stream_ended")


@dataclass
class Session:
    """One session folder as read: feedback lines (eval-bag's line format), events, settings, problems."""

    path: Path
    info: Dict[str, Any] = field(default_factory=dict)
    lines: List[Dict[str, Any]] = field(default_factory=list)
    events: List[Dict[str, Any]] = field(default_factory=list)
    missing: List[str] = field(default_factory=list)  # what this session lacks, in words (a partial report)
    has_faces: bool = False

    @property
    def name(self) -> str:
        """The folder's name: its start time."""
        return self.path.name


def _feedback(raw: bytes):
    from rclpy.serialization import deserialize_message

    from facecoach_msgs.msg import Feedback

    return deserialize_message(raw, Feedback)


def _read_part(part: Path, topics: Sequence[str], missing: List[str]) -> Iterable[tuple]:
    """(topic, raw) of a bag of the session; what cannot be read goes into ``missing``."""
    from facecoach_bag.reader import messages
    from facecoach_bag.reader import topics as topics_of

    salvage = logging.getLogger("facecoach_bag.salvage")
    level = salvage.level
    salvage.setLevel(logging.ERROR)  # a killed recorder's bag is read from its storage: the report says so once
    try:
        present = [t.name for t in topics_of(part) if t.name in topics]  # camera frames are never read here
        for topic, _, _, raw in messages(part, present) if present else ():
            yield topic, raw
    except PartialBag as exc:
        missing.append(f"the recording was cut short ({exc}); the report covers what was written before")
    except BagError as exc:
        missing.append(f"{part.name} could not be read ({exc})")
    finally:
        salvage.setLevel(level)


def load_session(path) -> Session:
    """Read a session folder; CommandError (one line) when it is missing, not a session, or from a newer FaceCoach."""
    path = Path(path)
    if not path.exists():
        raise CommandError(f"{path}: no such session (`facecoach sessions` lists them)")
    if not is_session(path):
        raise CommandError(f"{path}: not a FaceCoach session folder (no {SESSION_FILE}, no bag)")
    s = Session(path)
    if (path / SESSION_FILE).is_file():
        try:
            s.info = read_session_file(path)
        except ValueError as exc:
            if "newer than" in str(exc):
                raise CommandError(str(exc)) from None
            s.missing.append(f"the settings are unknown: {exc}")
    else:
        s.missing.append(f"no {SESSION_FILE}: the settings in force are unknown")
    parts = bag_parts(path)
    if not parts:
        s.missing.append("no recording (no bag): nothing to report")
    for i, part in enumerate(parts):
        before = len(s.lines)
        for _, raw in _read_part(part, (FEEDBACK_TOPIC,), s.missing):
            msg = _feedback(raw)
            if msg.header.frame_id == WARM_UP_FRAME_ID:
                continue
            line = feedback_line(msg)
            if msg.reason in EVENTS and line["stamp_ns"] == 0:
                s.events.append({"reason": msg.reason, "after_stamp_ns": s.lines[-1]["stamp_ns"] if s.lines else 0})
                continue
            s.lines.append(line)
        if i and before and len(s.lines) > before:  # the recorder was restarted: the time between was not recorded
            t0, a, b = s.lines[0]["stamp_ns"], s.lines[before - 1]["stamp_ns"], s.lines[before]["stamp_ns"]
            s.missing.append(
                f"the recorder was restarted: the feedback between {(a - t0) / 1e9:.1f} s and {(b - t0) / 1e9:.1f} s "
                "was not recorded (that time counts as the last frame's before it)"
            )
    if parts and not s.lines:
        s.missing.append("no feedback was recorded (the graph never coached a frame)")
    if s.info and s.info.get("ended") is None and parts:
        s.missing.append(
            "the session did not end cleanly (a crash, kill -9 or power loss): its last half second may be lost"
        )
    s.has_faces = FACE_TOPIC in (s.info.get("topics") or [])
    return s


def face_crops(session: Session, stamps_ns: Sequence[int]) -> Dict[int, bytes]:
    """PNG bytes of the recorded 48x48 face crop at each of these frame stamps (those that were recorded)."""
    import cv2
    import numpy as np
    from rclpy.serialization import deserialize_message

    from facecoach_msgs.msg import Face

    wanted, out = set(stamps_ns), {}
    if not wanted:
        return out
    ignore: List[str] = []
    for part in bag_parts(session.path):
        for _, raw in _read_part(part, (FACE_TOPIC,), ignore):
            msg = deserialize_message(raw, Face)
            ns = msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec
            if ns in wanted and msg.has_face and msg.crop.height and msg.crop.width:
                img = np.frombuffer(bytes(msg.crop.data), np.uint8).reshape(msg.crop.height, msg.crop.width, -1)
                ok, png = cv2.imencode(".png", cv2.resize(img, (96, 96), interpolation=cv2.INTER_NEAREST))
                if ok:
                    out[ns] = png.tobytes()
    return out


def all_sessions(folder: Optional[Path] = None) -> List[Path]:
    """The session folders of the sessions directory, oldest first (their names are their start times)."""
    folder = Path(folder) if folder else sessions_dir()
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if is_session(p))


def resolve(name: str, folder: Optional[Path] = None) -> Path:
    """A session given by its name (in the sessions directory) or by its path."""
    p = Path(name)
    if p.is_dir() or "/" in name:
        return p
    return (Path(folder) if folder else sessions_dir()) / name


def delete_sessions(names: Sequence[str], folder: Optional[Path] = None) -> List[Path]:
    """Remove these session folders (and nothing else); CommandError before anything is removed if one is wrong."""
    root = (Path(folder) if folder else sessions_dir()).resolve()
    paths = []
    for name in names:
        p = resolve(name, folder)
        if not p.exists():
            raise CommandError(f"{p}: no such session; nothing deleted")
        if not is_session(p):
            raise CommandError(f"{p}: not a FaceCoach session folder; nothing deleted")
        if p.resolve().parent != root:
            raise CommandError(f"{p}: not in the sessions directory {root}; nothing deleted")
        paths.append(p)
    for p in paths:
        shutil.rmtree(p)
    return paths
