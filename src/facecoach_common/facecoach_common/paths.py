"""Where FaceCoach's installed resources are: through ament's package index, never by counting folders."""

import os
import time
from pathlib import Path
from typing import Optional

HOME_ENV = "FACECOACH_HOME"  # where a person's files go: calibration, profiles, sessions (default ~/.facecoach)
SESSIONS = "sessions"  # the practice sessions, one folder each, in the FaceCoach home
SESSION_NAME_FORMAT = "%Y-%m-%d_%H-%M-%S"  # a session's folder: its start, local time (sorts by date, reads as one)


class ResourceNotFound(LookupError):
    """A package or resource that is not installed where ament's index says packages are."""


def share_dir(package: str) -> Path:
    """The installed share folder of ``package`` (``install/<package>/share/<package>`` after colcon build)."""
    from ament_index_python.packages import PackageNotFoundError, get_package_share_directory

    try:
        return Path(get_package_share_directory(package))
    except PackageNotFoundError:
        raise ResourceNotFound(
            f"package {package!r} is not installed (source the workspace: 'source env.sh' or install/setup.bash)"
        ) from None


def resource(package: str, *parts: str) -> Path:
    """A file or folder in a package's share folder; ResourceNotFound naming it when it is missing."""
    path = share_dir(package).joinpath(*parts)
    if not path.exists():
        raise ResourceNotFound(f"{path}: not installed with package {package!r}")
    return path


def facecoach_home() -> Path:
    """The folder of the user's own FaceCoach files: ``$FACECOACH_HOME``, else ``~/.facecoach`` (not created here)."""
    return Path(os.path.expanduser(os.environ.get(HOME_ENV) or "~/.facecoach"))


def is_profile_path(text: str) -> bool:
    """Whether a --profile / profile:= value names a file (else it is a profile's name)."""
    return "/" in text or text.startswith("~") or text.endswith((".yaml", ".yml"))


def profile_name(name_or_path: str) -> str:
    """The person a profile stands for, as sessions are grouped: a name as given, a profile file's stem ('' = none)."""
    text = str(name_or_path).strip()
    return Path(os.path.expanduser(text)).stem if is_profile_path(text) else text


def sessions_dir(configured: str = "") -> Path:
    """The practice sessions' folder: ``configured`` when given, else ``<FaceCoach home>/sessions``."""
    return Path(os.path.expanduser(configured)) if configured else facecoach_home() / SESSIONS


def new_session_dir(parent: Path, now: Optional[float] = None) -> Path:
    """A folder for a session started at ``now`` (epoch seconds) that is not taken yet under ``parent``."""
    base = time.strftime(SESSION_NAME_FORMAT, time.localtime(time.time() if now is None else now))
    path, n = parent / base, 1
    while path.exists():
        n += 1
        path = parent / f"{base}_{n}"
    return path
