"""A practice session folder written without a graph: a designed feedback stream in a real session bag."""

from pathlib import Path
from typing import List, Optional, Sequence, Tuple

import yaml

STEP_NS = 100_000_000  # 10 frames a second
T0_NS = 1_700_000_000 * 10**9
CATEGORY = {"happy": "good", "neutral": "acceptable", "sad": "bad", "fear": "bad", "": "none"}
# (emotion, frames, cue on the frame with this index in the run or None)
STREAM: Tuple[Tuple[str, int, Optional[int]], ...] = (
    ("neutral", 20, None),
    ("sad", 15, 12),
    ("happy", 10, None),
    ("", 5, None),
    ("fear", 25, 12),
    ("neutral", 5, None),
)


def feedback_msgs(stream: Sequence = STREAM, warm_up: bool = True, end: bool = True) -> List:
    """Feedback messages as the alert node publishes them (a warm-up frame first, the stream-end notice last)."""
    from facecoach_msgs.msg import Feedback

    out, i = [], 0
    if warm_up:
        out.append(Feedback(has_face=True, emotion="neutral", category_name="acceptable", reason="below_threshold"))
        out[-1].header.frame_id = "facecoach_warm_up"
        out[-1].header.stamp.sec = T0_NS // 10**9 - 10
    for emotion, n, cue in stream:
        for k in range(n):
            m = Feedback(
                has_face=bool(emotion),
                emotion=emotion,
                confidence=0.8 if emotion else 0.0,
                category_name=CATEGORY[emotion],
                bad_share=0.7 if CATEGORY[emotion] == "bad" else 0.0,
                cue_played=cue == k,
                reason="played" if cue == k else ("no_face" if not emotion else "below_threshold"),
                model_variant="baseline",
            )
            ns = T0_NS + i * STEP_NS
            m.header.stamp.sec, m.header.stamp.nanosec = divmod(ns, 10**9)
            m.header.frame_id = "camera"
            out.append(m)
            i += 1
    if end:
        out.append(Feedback(reason="stream_ended"))
    return out


def face_msg(feedback):
    """The Face message of a feedback's frame, with a 48x48 crop (a grey level by the frame's stamp)."""
    import numpy as np

    from facecoach_msgs.msg import Face

    m = Face(header=feedback.header, has_face=feedback.has_face, frame_width=640, frame_height=480)
    if feedback.has_face:
        level = (feedback.header.stamp.nanosec // STEP_NS) * 20 % 200 + 30
        img = np.full((48, 48, 3), level, np.uint8)
        img[12:20, 10:18] = img[12:20, 30:38] = 0  # two eyes
        m.crop.height, m.crop.width, m.crop.encoding, m.crop.step = 48, 48, "bgr8", 48 * 3
        m.crop.data = img.tobytes()
    return m


def write_session(
    folder: Path, msgs: Optional[List] = None, info: Optional[dict] = None, ended: bool = True, faces: bool = False
) -> Path:
    """A session folder with a bag of these Feedback messages (and their faces) and a session.yaml."""
    from rclpy.serialization import serialize_message

    from facecoach_bag.writer import BagWriter

    folder.mkdir(parents=True)
    writer = BagWriter(folder / "bag")
    for k, m in enumerate(feedback_msgs() if msgs is None else msgs):
        if faces and m.header.stamp.sec:
            writer.write("/facecoach/face", "facecoach_msgs/msg/Face", T0_NS + 2 * k, serialize_message(face_msg(m)))
        writer.write("/facecoach/feedback", "facecoach_msgs/msg/Feedback", T0_NS + 2 * k + 1, serialize_message(m))
    writer.close()
    data = {
        "version": 1,
        "started": "2026-12-06 07:00:00",
        "ended": "2026-12-06 07:00:08" if ended else None,
        "bags": ["bag"],
        "topics": ["/facecoach/feedback", "/facecoach/emotion"] + (["/facecoach/face"] if faces else []),
        "record_images": faces,
        "settings": {"alert_player": {"mapping.sad": "bad", "bad_rule": "probability", "bad_threshold": 0.6}},
    }
    data.update(info or {})
    (folder / "session.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    return folder
