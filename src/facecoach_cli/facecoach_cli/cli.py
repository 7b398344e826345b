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

from facecoach.dds import profile_environment

from .commands import params
from .commands.parser import CommandParser
from .errors import run_command
from .logs import LOG_DIR_ENV

EPILOG = (
    f"Node logs go to ${LOG_DIR_ENV}/<command> when it is set, else to log/<command> in the current directory. "
    "The graph description is $FACECOACH_GRAPH when set, else the installed share/facecoach/config/facecoach.yaml."
)


def _command_of(argv: Optional[Sequence[str]]) -> Optional[str]:
    """The sub-command that ``argv`` names (its first word that is no option), None when it names none."""
    return next((a for a in (sys.argv[1:] if argv is None else argv) if not a.startswith("-")), None)


def build_parser(argv: Optional[Sequence[str]] = ()) -> argparse.ArgumentParser:
    """The facecoach argument parser (reads no file: see commands.parser).

    Every sub-command, unless ``argv`` names one of the graph's commands: then the model tooling and the
    bench, whose modules import torch (about 5 s on a loaded 2-core machine), are left out; and for a
    parameter command (set-model, get-model, get-mapping) only its own, so that it answers in under a second.
    """
    parser = argparse.ArgumentParser(
        prog="facecoach", description="FaceCoach: expression coaching for video interviews", epilog=EPILOG
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=CommandParser)
    if _command_of(argv) in params.COMMANDS:
        # The other commands' modules import numpy, yaml, rosbags ... (about 0.3 s here): a parameter
        # command is answered while a user waits, so it loads only its own.
        params.add_commands(sub)
        return parser
    from .commands import bags, calibrate, demo, run, session, sessions

    for add in (
        demo.add_commands,
        run.add_commands,
        bags.add_commands,
        params.add_commands,
        calibrate.add_commands,
        session.add_commands,
        sessions.add_commands,
    ):
        add(sub)
    if _command_of(argv) not in sub.choices:
        from emotion_classifier.tooling.cli import add_commands as add_tooling_commands

        from .bench.command import add_commands as add_bench_commands

        add_tooling_commands(sub)
        add_bench_commands(sub)
    try:
        from alert_player.voice import add_record_voice_command
    except ImportError:  # alert_player not built yet
        pass
    else:
        from .commands.profiles import add_to_record_voice

        add_to_record_voice(add_record_voice_command(sub))
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of the facecoach command."""
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    os.environ.update(profile_environment())  # this process's own participant too (its player, observer, calls)
    return run_command(build_parser(argv), argv)


if __name__ == "__main__":
    sys.exit(main())
