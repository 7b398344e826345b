"""Old import path, kept only for src/facecoach (sample.py; cli.py until its errors.py lands): use ``tooling.data``.

Transitional: remove once src/facecoach imports ``tooling.data`` (and CLASSES from ``labels``).
"""

from .labels import CLASSES
from .tooling.data import DatasetError, load_faces

__all__ = ["CLASSES", "DatasetError", "load_faces"]
