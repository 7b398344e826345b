"""The bring-up's plain parts: a node spec survives the trip to a single_process child; errors are one line."""

import argparse
import sys
import types
from pathlib import Path

import pytest

from facecoach.errors import FAMILIES, CommandError, run_command
from facecoach.graph import GraphError, load_graph, spec_dict, spec_from_dict

GRAPH = Path(__file__).resolve().parents[3] / "config" / "facecoach.yaml"


def test_a_node_spec_round_trips_through_its_json_form():
    graph = load_graph(GRAPH)
    for mode in ("live", "replay"):
        for spec in graph.nodes_for(mode, {"alsa_device": "null"}):
            assert spec_from_dict(spec_dict(spec)) == spec


def _parser(raise_it) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="prog")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("go").set_defaults(func=lambda args: raise_it())
    return parser


@pytest.mark.parametrize("error", [CommandError("no such thing"), GraphError("no such thing")])
def test_an_error_of_a_family_is_one_line_and_exit_code_2(capsys, error):
    def raise_it():
        raise error

    assert run_command(_parser(raise_it), ["go"]) == 2
    assert capsys.readouterr().err == "prog go: no such thing\n"


def test_a_program_adds_its_own_families(capsys, monkeypatch):
    """The bring-up names no package above it: the facecoach command passes its own families (a bag's error)."""
    module = types.ModuleType("facecoach_test_family")

    class BagLikeError(ValueError):
        pass

    module.BagLikeError = BagLikeError
    monkeypatch.setitem(sys.modules, module.__name__, module)

    def raise_it():
        raise BagLikeError("unreadable")

    with pytest.raises(BagLikeError):
        run_command(_parser(raise_it), ["go"])
    families = tuple(FAMILIES) + ((module.__name__, "BagLikeError"),)
    assert run_command(_parser(raise_it), ["go"], families) == 2
    assert capsys.readouterr().err == "prog go: unreadable\n"
