"""Run by test_device_profile.py inside .venv-device (Python 3.6, torch 1.10, no safetensors, no ROS).

    python device_check.py WORKDIR

WORKDIR holds ``faces.npy`` (N x H x W x 3 uint8 BGR crops), ``variants.json`` ({variant: weight file})
and ``bad.json`` ([weight files that must be refused]), all made by the development process. For every
variant and both ``flip_tta`` settings this writes ``<variant>.<flip>.npy`` (the probabilities), and
``errors.json`` ({file: the WeightFileError message}) for the refused files. Python 3.6 code.
"""

import json
import sys
from pathlib import Path

import numpy as np
import torch

from emotion_classifier.inference import EmotionClassifier
from emotion_classifier.weight_file import WeightFileError


def main(workdir: Path) -> int:
    """Classify the faces with every variant and try every bad file; results go next to the inputs."""
    torch.set_num_threads(1)
    faces = np.load(str(workdir / "faces.npy"))
    for variant, path in json.loads((workdir / "variants.json").read_text()).items():
        for flip in (False, True):
            probs = EmotionClassifier(path, flip_tta=flip).predict_batch(list(faces))
            np.save(str(workdir / f"{variant}.{int(flip)}.npy"), probs)
    errors = {}
    for path in json.loads((workdir / "bad.json").read_text()):
        try:
            EmotionClassifier(path)
        except WeightFileError as exc:
            errors[path] = str(exc)
        else:
            errors[path] = "loaded"
    (workdir / "errors.json").write_text(json.dumps(errors, indent=1, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
