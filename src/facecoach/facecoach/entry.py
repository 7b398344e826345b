"""The node-like console scripts of the bring-up: Ctrl-C is quiet from their first line (see startup)."""

from facecoach_common.startup import run_program


def single_process() -> None:
    """``facecoach_single_process``: nodes of the graph in one process (facecoach.single_process.main)."""
    run_program("single_process", "facecoach.single_process:main")
