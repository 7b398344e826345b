"""FaceCoach's own folder in the user's home, and where practice sessions are kept (plain Python, no ROS).

``$FACECOACH_HOME`` names it (tests point it at a temporary folder); the default is ``~/.facecoach``.
Sessions go into its ``sessions/`` folder unless a node or command is given another one.
"""

import os
import time
from pathlib import Path
from typing import Optional

HOME_ENV = "FACECOACH_HOME"
DEFAULT_HOME = "~/.facecoach"
SESSIONS = "sessions"
SESSION_NAME_FORMAT = "%Y-%m-%d_%H-%M-%S"  # local time: sorts by date, reads as one


def facecoach_home() -> Path:
    """``$FACECOACH_HOME``, else ``~/.facecoach`` (not created here)."""
    return Path(os.path.expanduser(os.environ.get(HOME_ENV) or DEFAULT_HOME))


def sessions_dir(configured: str = "") -> Path:
    """The sessions folder: ``configured`` when given, else ``<FaceCoach home>/sessions``."""
    return Path(os.path.expanduser(configured)) if configured else facecoach_home() / SESSIONS


def new_session_dir(parent: Path, now: Optional[float] = None) -> Path:
    """A folder name for a session started at ``now`` (epoch seconds) that is not taken yet under ``parent``."""
    base = time.strftime(SESSION_NAME_FORMAT, time.localtime(time.time() if now is None else now))
    path, n = parent / base, 1
    while path.exists():
        n += 1
        path = parent / f"{base}_{n}"
    return path
