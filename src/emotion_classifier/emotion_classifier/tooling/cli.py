"""The model tooling command line: `./facecoach` registers it; `python -m emotion_classifier.tooling` runs it."""

import argparse
import sys

from ..weight_file import WeightFileError
from . import commands_eval, commands_model, commands_train
from .checkpoint import CheckpointError
from .data import DatasetError


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register the model tooling sub-commands (train, quantize, prune, eval, export, ...) on a parent parser."""
    commands_train.add_commands(sub)
    commands_model.add_commands(sub)
    commands_eval.add_commands(sub)


def main(argv=None) -> int:
    """Stand-alone entry point (the ``facecoach`` command registers the same sub-commands)."""
    parser = argparse.ArgumentParser(prog="emotion-tools")
    add_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    try:
        return args.func(args)
    except (DatasetError, WeightFileError, CheckpointError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
