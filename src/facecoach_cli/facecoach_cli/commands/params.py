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
COMMANDS = ("set-model", "get-model", "get-mapping")
NODE_WAIT_S = 3.0  # discovery on one host takes well under a second unloaded; a graph still starting needs --wait


def _query(
    args: argparse.Namespace, node_name: str, ask: Callable[[Any], Any], show: Optional[Callable[[Any], int]] = None
) -> int:
    """Run ``ask(node)`` against the running graph from a short-lived node.

    ``show(answer)`` prints the answer and returns the exit code (default: print it, exit 0).
    """
    from ..ros_calls import command_node
    from .arguments import non_negative, positive

    positive("--timeout", args.timeout)
    non_negative("--wait", args.wait)

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
        ok, reason = set_parameter(
            node, args.node, "model_variant", args.variant, timeout=args.timeout, node_wait=args.wait
        )
        return ok, reason, (time.monotonic() - t0) * 1000

    def show(answer) -> int:
        ok, reason, ms = answer
        if not ok:
            print(f"refused: {reason}", file=sys.stderr)
            return EXIT_REFUSED
        print(f"model_variant = {args.variant} (accepted in {ms:.0f} ms)")
        return 0

    return _query(args, "facecoach_set_model", ask, show)


def cmd_get_model(args: argparse.Namespace) -> int:
    """Print the running classifier's model_variant."""
    from ..ros_calls import get_parameter

    return _query(
        args,
        "facecoach_get_model",
        lambda node: get_parameter(node, args.node, "model_variant", args.timeout, node_wait=args.wait),
    )


def cmd_get_mapping(args: argparse.Namespace) -> int:
    """Print the running alert node's emotion -> category mapping (a set mapping_preset wins)."""
    from alert_player.mapping import EMOTIONS, preset, render_mapping

    from ..ros_calls import get_parameters

    def ask(node) -> str:
        names = ["mapping_preset"] + [f"mapping.{e}" for e in EMOTIONS]  # one request: one round trip
        got = get_parameters(node, args.node, names, timeout=args.timeout, node_wait=args.wait)
        name = got["mapping_preset"]
        if name:
            return f"{render_mapping(preset(name))} (preset {name!r})"
        return render_mapping({e: got[f"mapping.{e}"] for e in EMOTIONS})

    return _query(args, "facecoach_get_mapping", ask)


def add_commands(subparsers) -> None:
    """Register `set-model`, `get-model` and `get-mapping` on the facecoach command's sub-parsers."""
    for name, func, helptext, target in (  # the names of COMMANDS
        ("set-model", cmd_set_model, "switch the running classifier's weights", "/emotion_classifier"),
        ("get-model", cmd_get_model, "print the running classifier's variant", "/emotion_classifier"),
        ("get-mapping", cmd_get_mapping, "print the running alert node's emotion -> category mapping", "/alert_player"),
    ):
        p = subparsers.add_parser(name, help=helptext, description=func.__doc__)
        if name == "set-model":
            p.add_argument("variant")
        p.add_argument("--node", default=target, help=f"the node to ask (default: {target})")
        p.add_argument(
            "--wait",
            type=float,
            default=NODE_WAIT_S,
            help=f"seconds for the node to appear in the graph before giving up (default: {NODE_WAIT_S:g})",
        )
        p.add_argument(
            "--timeout",
            type=float,
            default=10.0,
            help="seconds for its service to answer once the node is there (default: 10)",
        )
        p.set_defaults(func=func)
