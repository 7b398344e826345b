"""Where the facecoach command writes its nodes' output: under the current directory, never beside the code."""

from __future__ import annotations

import os
from pathlib import Path

LOG_DIR_ENV = "FACECOACH_LOG_DIR"
LOG_DIR_HELP = "(default: $" + LOG_DIR_ENV + "/{0}, else log/{0} in the current directory)"


def log_dir(name: str) -> Path:
    """The log folder of one command's nodes: ``$FACECOACH_LOG_DIR/<name>``, else ``log/<name>``."""
    return Path(os.environ.get(LOG_DIR_ENV) or "log") / name
