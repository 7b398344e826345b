"""Makes the bundled sample interview: FER2013 test-split faces on a 640x480 scene, as a rosbag2 bag.

`bin/facecoach make-sample --data fer2013.npz` regenerates sample/interview from the data, with a
face whose expression goes through all five emotions (and a short stretch with no face). Each
segment's face is the first test-split image (in a seeded order) that OpenCV's Haar cascade finds
in the rendered, JPEG-compressed frames and, when --model is given, that the model labels correctly:
the demo shows the coaching, not the model's mistakes on hard images. The segment table is written beside the bag.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional, Tuple

import numpy as np

from facecoach_bag.writer import BagWriter

# (emotion or None for "no face", seconds): an interview that goes through all five emotions.
SCRIPT: Tuple[Tuple[Optional[str], float], ...] = (
    ("neutral", 4.0),
    ("happy", 4.0),
    ("sad", 5.0),
    (None, 2.0),
    ("surprise", 4.0),
    ("fear", 5.0),
    ("neutral", 3.0),
)
SAMPLE_BAG = "sample/interview"  # relative to the repository, and to the facecoach_cli package's share folder
WIDTH, HEIGHT, FACE_PX = 640, 480, 200
TOPIC = "/camera/image_raw/compressed"
START_NS = 1_700_000_000_000_000_000  # fixed stamps: the bag is byte-for-byte reproducible
# A face is kept only if the paper's detector finds it at all these times of the drift (a borderline face,
# found in a few frames only, makes a poor demo and a noisy detector benchmark).
USABLE_CHECK_S = tuple(np.round(np.linspace(0.0, 7.0, 15), 2))


def bundled_sample() -> Path:
    """The bundled sample interview, installed in share/facecoach_cli/sample/interview (ResourceNotFound if not)."""
    from facecoach_common.paths import resource

    return resource("facecoach_cli", *SAMPLE_BAG.split("/"))


def background(seed: int = 0) -> np.ndarray:
    """A quiet office-like scene: a vertical gradient wall with a couple of soft shapes."""
    import cv2

    y = np.linspace(0, 1, HEIGHT, dtype=np.float32)[:, None]
    wall = (170 + 40 * y) * np.ones((1, WIDTH), np.float32)
    img = np.dstack([wall * 0.95, wall, wall * 0.9]).astype(np.uint8)
    cv2.rectangle(img, (40, 60), (150, 200), (120, 140, 150), -1)  # a picture frame
    cv2.rectangle(img, (0, 400), (WIDTH, HEIGHT), (90, 100, 110), -1)  # a desk
    return cv2.GaussianBlur(img, (9, 9), 0)


def face_box(t: float) -> Tuple[int, int, int]:
    """Where the face is at time t: a slow drift, as a person sitting still moves (x, y, size)."""
    size = int(FACE_PX * (1 + 0.04 * np.sin(t * 0.7)))
    x = int(WIDTH / 2 - size / 2 + 25 * np.sin(t * 0.9))
    y = int(HEIGHT / 2 - size / 2 - 20 + 10 * np.sin(t * 1.3))
    return x, y, size


def render(bg: np.ndarray, face: Optional[np.ndarray], t: float) -> np.ndarray:
    """One frame: the background with the gray 48x48 face scaled in (soft edges), or no face."""
    import cv2

    frame = bg.copy()
    if face is None:
        return frame
    x, y, size = face_box(t)
    big = cv2.resize(face, (size, size), interpolation=cv2.INTER_CUBIC)
    big = cv2.cvtColor(big, cv2.COLOR_GRAY2BGR).astype(np.float32)
    ramp = np.minimum(np.arange(size), np.arange(size)[::-1]).astype(np.float32)
    alpha = np.clip(np.minimum(ramp[:, None], ramp[None, :]) / 12.0, 0, 1)[:, :, None]
    roi = frame[y : y + size, x : x + size].astype(np.float32)
    frame[y : y + size, x : x + size] = (alpha * big + (1 - alpha) * roi).astype(np.uint8)
    return frame


def _usable(face: np.ndarray, label: int, bg: np.ndarray, detector, classifier, quality: int) -> bool:
    """The Haar cascade finds the face (after the bag's JPEG round trip) wherever its drift takes it."""
    import cv2

    from face_detector.detector import crop_face

    for t in USABLE_CHECK_S:
        _, jpeg = cv2.imencode(".jpg", render(bg, face, t), [cv2.IMWRITE_JPEG_QUALITY, quality])
        frame = cv2.imdecode(jpeg, cv2.IMREAD_COLOR)
        box = detector.detect(frame)
        x, y, size = face_box(t)
        if box is None or _iou(box, (x, y, size, size)) < 0.5:
            return False
        if classifier is not None:
            p = classifier.predict_batch([crop_face(frame, box)])[0]
            if int(p.argmax()) != label or p[label] < 0.6:
                return False
    return True


def _iou(box, ref) -> float:
    ax, ay, aw, ah = box.x, box.y, box.w, box.h
    bx, by, bw, bh = ref
    iw = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    ih = max(0, min(ay + ah, by + bh) - max(ay, by))
    inter = iw * ih
    return inter / float(aw * ah + bw * bh - inter)


def make_sample(data, out: Path, fps: float = 30.0, quality: int = 80, model=None, seed: int = 0) -> List[dict]:
    """Write the sample bag to ``out`` and ``<out>.segments.json``; return the segment table."""
    from builtin_interfaces.msg import Time
    from rclpy.serialization import serialize_message
    from std_msgs.msg import Header

    from emotion_classifier.tooling.data import CLASSES, load_faces
    from face_detector.detector import DetectorConfig, FaceDetector
    from facecoach_common.image_conversions import numpy_to_compressed

    test = load_faces(data, "test")
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(test))
    detector = FaceDetector(DetectorConfig(mode="naive"))
    classifier = None
    if model:
        from emotion_classifier.inference import EmotionClassifier

        classifier = EmotionClassifier(model)
    bg = background(seed)
    chosen, used = {}, set()
    for emotion, _ in SCRIPT:
        if emotion is None or emotion in chosen:
            continue
        label = CLASSES.index(emotion)
        for i in order:
            if (
                test.labels[i] == label
                and i not in used
                and _usable(test.images[i], label, bg, detector, classifier, quality)
            ):
                chosen[emotion] = int(i)
                used.add(int(i))
                break
        else:
            raise RuntimeError(f"no usable {emotion} face in the test split")

    out = Path(out)
    # Version 5 metadata, sqlite3 (what every distribution plays); one commit at the end keeps the file reproducible.
    writer = BagWriter(out, commit_s=float("inf"))
    segments, t0, n = [], 0.0, 0
    for emotion, seconds in SCRIPT:
        segments.append(
            {"start_s": t0, "end_s": t0 + seconds, "emotion": emotion, "fer_test_index": chosen.get(emotion)}
        )
        face = test.images[chosen[emotion]] if emotion else None
        for k in range(int(round(seconds * fps))):
            t = t0 + k / fps
            stamp_ns = START_NS + int(round(t * 1e9))
            header = Header(stamp=Time(sec=stamp_ns // 10**9, nanosec=stamp_ns % 10**9), frame_id="camera")
            msg = numpy_to_compressed(render(bg, face, t), fmt="jpeg", quality=quality, header=header)
            writer.write(TOPIC, "sensor_msgs/msg/CompressedImage", stamp_ns, serialize_message(msg))
            n += 1
        t0 += seconds
    writer.close()
    table = {
        "topic": TOPIC,
        "fps": fps,
        "frames": n,
        "width": WIDTH,
        "height": HEIGHT,
        "source": f"FER2013 test split (PrivateTest) of {Path(data).name}",
        "segments": segments,
    }
    Path(str(out) + ".segments.json").write_text(json.dumps(table, indent=2) + "\n")
    return segments
