"""The console script: Ctrl-C is quiet from its first line, also while the node module imports rclpy."""

from facecoach_common.startup import run_program


def main() -> None:
    """``alert_player``: the alert node (alert_player.node.main)."""
    run_program("alert_player", "alert_player.node:main")
