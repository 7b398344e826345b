"""``--profile`` of `calibrate` and `record-voice`: what they make goes into that person's profile.

The profile is checked before anything is recorded (a bad one: one line, exit 2, nothing written), created
when it does not exist yet, and updated atomically with its other settings kept (facecoach.profile).
"""

import argparse
import os
from pathlib import Path
from typing import Tuple

from facecoach.graph import Graph, load_graph
from facecoach.profile import ProfileError, load_profile, profile_path, update_profile

HELP = (
    "save the result into this person's profile: a name ($FACECOACH_HOME/profiles/NAME.yaml, default "
    "~/.facecoach; created if missing) or a parameters file"
)


def checked(name: str) -> Tuple[Graph, Path]:
    """The graph and the profile's file; ProfileError when an existing profile is not valid (nothing is written)."""
    graph = load_graph()
    path = profile_path(name)
    if path.exists():
        load_profile(name, graph)
    return graph, path


def node_setting(graph: Graph, parameter: str) -> str:
    """The graph node whose profile settings include ``parameter``."""
    for node, spec in graph.profile.items():
        if parameter in spec.parameters:
            return node
    raise ProfileError(f"the graph description's profile section has no {parameter}")


def save(name: str, graph: Graph, parameter: str, value: str) -> Path:
    """Set ``parameter`` to ``value`` in the profile; say so; the profile's file."""
    node = node_setting(graph, parameter)
    path = update_profile(name, graph, node, {parameter: value})
    print(f"profile {path}: {node} {parameter} = {value}", flush=True)
    return path


def add_to_record_voice(p: argparse.ArgumentParser) -> None:
    """Give `record-voice` (alert_player's command) ``--profile``: the recording becomes the profile's cue_wav."""
    p.add_argument("--profile", help=HELP)
    record = p.get_default("func")

    def record_into_profile(args: argparse.Namespace) -> int:
        graph = checked(args.profile)[0] if args.profile else None
        code = record(args)
        if code == 0 and graph is not None:
            save(args.profile, graph, "cue_wav", os.path.abspath(os.path.expanduser(args.out)))
        return code

    p.set_defaults(func=record_into_profile)
