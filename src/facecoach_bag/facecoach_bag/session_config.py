"""The session recorder's configuration: one frozen dataclass; its fields are the node's parameters."""

from dataclasses import dataclass
from typing import List

from facecoach_common.settings import check_settings, setting

GRAPH_NODES = ["camera", "face_detector", "emotion_classifier", "alert_player"]


@dataclass(frozen=True)
class SessionConfig:
    """Where a practice session is recorded, and what goes into it."""

    record: bool = setting(
        True,
        "record this session (FaceCoach's topics and the settings in force) into a session folder; false: the "
        "node records nothing",
        read_only=True,
    )
    sessions_dir: str = setting(
        "", "folder of the sessions ('' = $FACECOACH_HOME/sessions, else ~/.facecoach/sessions)", read_only=True
    )
    session_dir: str = setting(
        "", "this session's folder ('' = a new one under sessions_dir named by the start time)", read_only=True
    )
    session_name: str = setting(
        "",
        "this session's folder name under sessions_dir, when session_dir is '' (the launch files give one per "
        "launch, so that a respawned recorder goes on with the session; '' = the start time)",
        read_only=True,
    )
    profile: str = setting(
        "",
        "the profile this session runs with, as given to --profile or profile:= ('' = none): session.yaml keeps its "
        "name, so that `facecoach sessions --profile` and a report's trend show one person's sessions",
        read_only=True,
    )
    record_images: bool = setting(
        False,
        "also record images: the 48x48 face crops and the camera's compressed frames (off: no picture of you is kept)",
        read_only=True,
    )
    settings_from: List[str] = setting(
        list(GRAPH_NODES), "nodes whose parameters are kept as the session's settings (those that run)", read_only=True
    )
    settings_wait_s: float = setting(
        120.0,
        "how long to wait for those nodes' parameter services (the classifier loads its weights)",
        1.0,
        3600.0,
        read_only=True,
    )

    def __post_init__(self) -> None:
        """Refuse bad values with a message that names the parameter."""
        check_settings(self)
        if self.session_name in (".", "..") or "/" in self.session_name or "\\" in self.session_name:
            raise ValueError(f"session_name: a folder name, not a path: {self.session_name!r}")
        if not all(isinstance(n, str) and n for n in self.settings_from):
            raise ValueError("settings_from: node names must be non-empty strings")
