"""The one error convention of FaceCoach's programs (facecoach_single_process here, the facecoach command).

A program that cannot do its job raises: a ``CommandError``, or an error of a project family (a bad
graph description, weight file, cascade, a process that cannot be started; the facecoach command adds its
own, see facecoach_cli.errors). ``run_command`` alone catches them and prints one line,
``<program> <command>: <message>``, on stderr, with no traceback, and returns the error's exit code (2 unless
it says otherwise). An outcome that is not an error (a refused parameter change, a partial result) is the
program's own output and exit code.
"""

import argparse
import sys
from typing import Optional, Sequence, Tuple, Type

Families = Sequence[Tuple[str, str]]

EXIT_ERROR = 2


class CommandError(Exception):
    """A command cannot do what was asked; ``exit_code`` is the facecoach command's exit status."""

    def __init__(self, message: str, exit_code: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.exit_code = exit_code


# The error families of the runtime: (module, class). Each is defined once, in the module that raises it.
FAMILIES: Families = (
    ("facecoach.graph", "GraphError"),
    ("facecoach.graph", "LaunchError"),
    ("facecoach.profile", "ProfileError"),
    ("facecoach_common.paths", "ResourceNotFound"),
    ("emotion_classifier.weight_file", "WeightFileError"),
    ("face_detector.detector", "DetectorError"),
)


def command_errors(families: Families = FAMILIES) -> Tuple[Type[BaseException], ...]:
    """The exceptions ``run_command`` turns into one line.

    A family's error can only have been raised once its module was imported, so only the families of
    modules already loaded are looked up: reporting an error imports nothing (no torch, no OpenCV).
    """
    found: list = [CommandError]
    for module, name in families:
        cls = getattr(sys.modules.get(module), name, None)
        if cls is not None:
            found.append(cls)
    return tuple(found)


def run_command(
    parser: argparse.ArgumentParser, argv: Optional[Sequence[str]] = None, families: Families = FAMILIES
) -> int:
    """Parse ``argv`` (default: the command line) and run its command's ``func``; return the exit status.

    Parsing is inside: the options of `run` and `demo` come from the graph description, read only then.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    args = None
    try:
        args = parser.parse_args(argv)
        return args.func(args)
    except command_errors(families) as exc:
        if args is None:  # a sub-command's options could not be read (commands.parser): its name comes first
            command = next((a for a in argv if not a.startswith("-")), None)
        else:
            command = getattr(args, "command", None)
        print(f"{parser.prog} {command}: {exc}" if command else f"{parser.prog}: {exc}", file=sys.stderr)
        return getattr(exc, "exit_code", EXIT_ERROR)
