"""A stop signal that lands inside rclpy waits for rclpy to return; elsewhere it stops at once."""

import os
import signal
import subprocess
import sys

import pytest

from facecoach_common.stopping import raise_if_stopped, stopped_by_signals


def _signal_from(module_name: str, sig: int) -> None:
    """Send ``sig`` to this process from code whose module is ``module_name`` (the handler runs there)."""
    code = compile("os.kill(os.getpid(), sig)\nfor _ in range(1000): pass\n", "<" + module_name + ">", "exec")
    exec(code, {"__name__": module_name, "os": os, "sig": sig})


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_a_signal_outside_rclpy_stops_at_once(sig):
    with stopped_by_signals(), pytest.raises(KeyboardInterrupt):
        _signal_from("facecoach_cli.commands.run", sig)


def test_a_signal_inside_rclpy_is_raised_once_rclpy_returned():
    with stopped_by_signals():
        _signal_from("rclpy.executors", signal.SIGTERM)  # no KeyboardInterrupt in the middle of rclpy
        with pytest.raises(KeyboardInterrupt):
            raise_if_stopped()
        raise_if_stopped()  # raised once only


def test_the_handlers_are_put_back():
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    with stopped_by_signals():
        _signal_from("rclpy.node", signal.SIGINT)
    raise_if_stopped()  # what was kept inside does not outlive the block
    assert {s: signal.getsignal(s) for s in before} == before


# A node process's stop signals (take_stop_signals) change this process's handlers: each case runs in its own.
NODE_PROCESS = """
import os, signal, sys
from facecoach_common.stopping import building, stop_requested, take_stop_signals

take_stop_signals()
os.kill(os.getpid(), signal.SIG{sig})
for _ in range(1000):
    pass  # the handler has run: it kept the stop, raised nothing
assert stop_requested()
try:
    with building():
        pass
except KeyboardInterrupt:
    print("stopped before building")
with building():
    os.kill(os.getpid(), signal.SIGINT)
    try:
        import json.tool  # the next import outside rclpy ends a node that is still built
    except KeyboardInterrupt:
        print("stopped at the import")
"""


@pytest.mark.parametrize("sig, ignored", [("INT", False), ("TERM", False), ("INT", True)])
def test_a_node_process_keeps_a_stop_signal_and_ends_at_its_next_import_while_building(sig, ignored):
    """``ignored``: started with SIGINT ignored (``cmd &`` in a script, a CI runner): it still stops on SIGINT."""

    def ignore_sigint():
        signal.signal(signal.SIGINT, signal.SIG_IGN)

    done = subprocess.run(
        [sys.executable, "-c", NODE_PROCESS.format(sig=sig)],
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=ignore_sigint if ignored else None,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["stopped before building", "stopped at the import"], done.stdout
