"""`facecoach set-model`, `get-model` and `get-mapping`: the running nodes' parameters (like `ros2 param`).

A node that does not answer is an error (``NoAnswer``: exit 2); a refused change is the answer
(``refused: <reason>`` on stderr, exit 1), as `ros2 param set` reports it.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any, Callable, Optional

EXIT_REFUSED = 1


def _query(node_name: str, ask: Callable[[Any], Any], show: Optional[Callable[[Any], int]] = None) -> int:
    """Run ``ask(node)`` against the running graph from a short-lived node.

    ``show(answer)`` prints the answer and returns the exit code (default: print it, exit 0).
    """
    from ..ros_calls import command_node

    with command_node(node_name) as node:
        answer = ask(node)
    if show is None:
        print(answer)
        return 0
    return show(answer)


def cmd_set_model(args: argparse.Namespace) -> int:
    """Switch the running classifier's weights through its parameter service (like `ros2 param set`)."""
    from ..ros_calls import set_parameter

    def ask(node):
        t0 = time.monotonic()
        ok, reason = set_parameter(node, args.node, "model_variant", args.variant, timeout=args.timeout)
        return ok, reason, (time.monotonic() - t0) * 1000

    def show(answer) -> int:
        ok, reason, ms = answer
        if not ok:
            print(f"refused: {reason}", file=sys.stderr)
            return EXIT_REFUSED
        print(f"model_variant = {args.variant} (accepted in {ms:.0f} ms)")
        return 0

    return _query("facecoach_set_model", ask, show)


def cmd_get_model(args: argparse.Namespace) -> int:
    """Print the running classifier's model_variant."""
    from ..ros_calls import get_parameter

    return _query("facecoach_get_model", lambda node: get_parameter(node, args.node, "model_variant", args.timeout))


def cmd_get_mapping(args: argparse.Namespace) -> int:
    """Print the running alert node's emotion -> category mapping (a set mapping_preset wins)."""
    from alert_player.mapping import EMOTIONS, preset, render_mapping

    from ..ros_calls import get_parameter

    def ask(node) -> str:
        name = get_parameter(node, args.node, "mapping_preset", timeout=args.timeout)
        if name:
            return f"{render_mapping(preset(name))} (preset {name!r})"
        return render_mapping({e: get_parameter(node, args.node, f"mapping.{e}", args.timeout) for e in EMOTIONS})

    return _query("facecoach_get_mapping", ask)


def add_commands(subparsers) -> None:
    """Register `set-model`, `get-model` and `get-mapping` on the facecoach command's sub-parsers."""
    for name, func, helptext, target in (
        ("set-model", cmd_set_model, "switch the running classifier's weights", "/emotion_classifier"),
        ("get-model", cmd_get_model, "print the running classifier's variant", "/emotion_classifier"),
        ("get-mapping", cmd_get_mapping, "print the running alert node's emotion -> category mapping", "/alert_player"),
    ):
        p = subparsers.add_parser(name, help=helptext, description=func.__doc__)
        if name == "set-model":
            p.add_argument("variant")
        p.add_argument("--node", default=target, help=f"the node to ask (default: {target})")
        p.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for its answer")
        p.set_defaults(func=func)
