"""Write a short video of the bundled sample interview, for `bin/facecoach run --camera-source VIDEO`.

`make setup` runs it once (the video is not committed): the first SECONDS of sample/interview's camera
images, at the bag's own frame rate, as an MP4 (mp4v) or, where OpenCV cannot write one, an MJPG AVI.
"""

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np
from rosbags.highlevel import AnyReader

ROOT = Path(__file__).resolve().parents[1]
IMAGE_TYPES = ("sensor_msgs/msg/CompressedImage", "sensor_msgs/msg/Image")


def _frames(bag: Path, seconds: float):
    """(log time ns, BGR frame) of the bag's camera images in its first ``seconds``."""
    with AnyReader([bag]) as reader:
        connections = [c for c in reader.connections if c.msgtype in IMAGE_TYPES]
        first = None
        for conn, t_ns, raw in reader.messages(connections=connections):
            first = t_ns if first is None else first
            if t_ns - first > seconds * 1e9:
                return
            msg = reader.deserialize(raw, conn.msgtype)
            if conn.msgtype.endswith("CompressedImage"):
                frame = cv2.imdecode(np.frombuffer(bytes(msg.data), np.uint8), cv2.IMREAD_COLOR)
            else:
                frame = np.frombuffer(bytes(msg.data), np.uint8).reshape(msg.height, msg.width, -1)[:, :, :3]
            if frame is not None:
                yield t_ns, frame


def write_video(bag: Path, out: Path, seconds: float) -> Path:
    """Write the video (``out`` with .mp4, else .avi where mp4v is missing); return the path written."""
    frames = list(_frames(bag, seconds))
    if len(frames) < 2:
        raise SystemExit(f"sample_video: {bag}: fewer than 2 camera images")
    fps = (len(frames) - 1) / ((frames[-1][0] - frames[0][0]) / 1e9)
    height, width = frames[0][1].shape[:2]
    for suffix, fourcc in ((".mp4", "mp4v"), (".avi", "MJPG")):
        path = out.with_suffix(suffix)
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (width, height))
        if writer.isOpened():
            for _, frame in frames:
                writer.write(cv2.resize(frame, (width, height)) if frame.shape[:2] != (height, width) else frame)
            writer.release()
            return path
    raise SystemExit("sample_video: this OpenCV can write neither mp4v nor MJPG")


def main(argv=None) -> int:
    """Command line: sample_video.py [--bag B] [--out PATH] [--seconds S]."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--bag", type=Path, default=ROOT / "sample" / "interview")
    p.add_argument("--out", type=Path, default=ROOT / "out" / "sample_interview.mp4")
    p.add_argument("--seconds", type=float, default=10.0)
    args = p.parse_args(argv)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    path = write_video(args.bag, args.out, args.seconds)
    print(f"{path} ({path.stat().st_size // 1024} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
