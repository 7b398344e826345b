"""The console script: Ctrl-C is quiet from its first line (see facecoach_common.startup)."""

from facecoach_common.startup import run_program


def player() -> None:
    """``facecoach_player``: the bag player node (facecoach_bag.player.main)."""
    run_program("facecoach_player", "facecoach_bag.player:main")


def session_recorder() -> None:
    """``session_recorder``: the practice session recorder node (facecoach_bag.session_node.main)."""
    run_program("session_recorder", "facecoach_bag.session_node:main")
