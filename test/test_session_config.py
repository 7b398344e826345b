"""The session recorder's settings: session_name is a folder name under sessions_dir, never a path."""

import pytest

from facecoach_bag.session_config import SessionConfig


@pytest.mark.parametrize("name", ["..", ".", "a/b", "/tmp/x", "a\\b"])
def test_a_session_name_that_is_a_path_is_refused(name):
    with pytest.raises(ValueError, match="session_name: a folder name, not a path"):
        SessionConfig(session_name=name)


def test_a_session_name_is_kept():
    assert SessionConfig(session_name="2026-12-06_10-00-00").session_name == "2026-12-06_10-00-00"
