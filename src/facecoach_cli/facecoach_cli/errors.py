"""The facecoach command's errors: the bring-up's convention (facecoach.errors) with the command's own families.

A command raises; ``run_command`` prints ``facecoach <command>: <message>`` and returns the exit code.
"""

import argparse
from typing import Optional, Sequence

from facecoach.errors import FAMILIES as RUNTIME_FAMILIES
from facecoach.errors import CommandError, Families
from facecoach.errors import run_command as _run_command

__all__ = ["FAMILIES", "CommandError", "run_command"]

# Besides the runtime's: a bad bag, a node that does not answer, a data set that cannot be read, a training
# checkpoint of another run.
FAMILIES: Families = tuple(RUNTIME_FAMILIES) + (
    ("facecoach_bag.errors", "BagError"),
    ("facecoach_cli.ros_calls", "NoAnswer"),
    ("emotion_classifier.tooling.data", "DatasetError"),
    ("emotion_classifier.tooling.checkpoint", "CheckpointError"),
)


def run_command(parser: argparse.ArgumentParser, argv: Optional[Sequence[str]] = None) -> int:
    """Parse ``argv`` (default: the command line), run its command; one line and exit code 2 on an error."""
    return _run_command(parser, argv, FAMILIES)
