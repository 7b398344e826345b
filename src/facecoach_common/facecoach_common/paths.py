"""Where FaceCoach's installed resources are: through ament's package index, never by counting folders."""

import os
from pathlib import Path

HOME_ENV = "FACECOACH_HOME"  # where a person's files go: calibration, profiles (default ~/.facecoach)


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
