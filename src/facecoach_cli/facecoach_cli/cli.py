"""The `facecoach` command: run the graph, the demo, replay/record bags, switch models, model tooling.

Each command module registers its own sub-commands (``add_commands``); this module assembles them.
Errors follow one convention (``facecoach_cli.errors``): a command raises, ``main`` prints
``facecoach <command>: <message>`` on stderr and exits with the error's code (2 unless it says otherwise).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Optional, Sequence

from .bench.command import add_commands as add_bench_commands
from .commands import bags, calibrate, demo, params, run, session
from .commands.parser import CommandParser
from .errors import run_command
from .logs import LOG_DIR_ENV

EPILOG = (
    f"Node logs go to ${LOG_DIR_ENV}/<command> when it is set, else to log/<command> in the current directory. "
    "The graph description is $FACECOACH_GRAPH when set, else the installed share/facecoach/config/facecoach.yaml."
)


def build_parser() -> argparse.ArgumentParser:
    """The facecoach argument parser with every sub-command (reads no file: see commands.parser)."""
    from emotion_classifier.tooling.cli import add_commands as add_tooling_commands

    parser = argparse.ArgumentParser(
        prog="facecoach", description="FaceCoach: expression coaching for video interviews", epilog=EPILOG
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=CommandParser)
    for add in (
        demo.add_commands,
        run.add_commands,
        bags.add_commands,
        params.add_commands,
        calibrate.add_commands,
        add_tooling_commands,
        session.add_commands,
        add_bench_commands,
    ):
        add(sub)
    try:
        from alert_player.voice import add_record_voice_command

        add_record_voice_command(sub)
    except ImportError:  # alert_player not built yet
        pass
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of the facecoach command."""
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    return run_command(build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
