"""A sub-command parser whose options can be added when it is first used.

`run` and `demo` take one option per override of the graph description; reading that file while the
whole parser is built would make every command, even `facecoach train --help`, depend on it.
"""

from __future__ import annotations

import argparse
from typing import Callable, List


class CommandParser(argparse.ArgumentParser):
    """An ArgumentParser with deferred options: ``defer(add)`` runs ``add(self)`` just before it parses or helps."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._deferred: List[Callable[[argparse.ArgumentParser], None]] = []

    def defer(self, add: Callable[[argparse.ArgumentParser], None]) -> None:
        """Add options with ``add(parser)`` only when this parser is used (its errors propagate then)."""
        self._deferred.append(add)

    def _add_deferred(self) -> None:
        while self._deferred:
            self._deferred.pop(0)(self)

    def parse_known_args(self, args=None, namespace=None):
        """Add the deferred options, then parse."""
        self._add_deferred()
        return super().parse_known_args(args, namespace)

    def format_help(self) -> str:
        """Add the deferred options, then format the help."""
        self._add_deferred()
        return super().format_help()


def defer(parser: argparse.ArgumentParser, add: Callable[[argparse.ArgumentParser], None]) -> None:
    """``add(parser)`` when a CommandParser is first used; at once on any other parser."""
    if isinstance(parser, CommandParser):
        parser.defer(add)
    else:
        add(parser)
