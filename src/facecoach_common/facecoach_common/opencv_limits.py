"""OpenCV's own image-size limit: the second line of defence against decoder bombs (stdlib only, no cv2).

``image_conversions`` decodes only JPEG and PNG frames whose size it read from their header first. Should
a frame ever reach ``cv2.imdecode`` unchecked, OpenCV's limit refuses it before allocating: OpenCV reads
``OPENCV_IO_MAX_IMAGE_WIDTH`` / ``_HEIGHT`` / ``_PIXELS`` once, when cv2 is imported (defaults 2**20 a side
and 2**30 pixels: a 20000x20000 picture passes those). So :func:`bound_decoder` must run before the process
first imports cv2: the console scripts call it on their first line (``startup.run_program``), and
``image_conversions`` before its own ``import cv2``. Whether it was in time is checked there
(``image_conversions.opencv_decoder_bounded``).
"""

import os
from typing import MutableMapping, Optional

MAX_SIDE = 8192  # the largest frame side FaceCoach decodes (a 4K camera's is 3840)
LIMITS = {
    "OPENCV_IO_MAX_IMAGE_WIDTH": MAX_SIDE,
    "OPENCV_IO_MAX_IMAGE_HEIGHT": MAX_SIDE,
    "OPENCV_IO_MAX_IMAGE_PIXELS": MAX_SIDE * MAX_SIDE,
}


def bound_decoder(environ: Optional[MutableMapping[str, str]] = None) -> None:
    """Set OpenCV's decoder limits in the environment: ours, or a smaller one the user already set."""
    env = os.environ if environ is None else environ
    for name, limit in LIMITS.items():
        try:
            current = int(env.get(name, ""))
        except ValueError:  # unset, or a form this cannot compare ('64MB'): ours
            current = 0
        if not 0 < current <= limit:
            env[name] = str(limit)
