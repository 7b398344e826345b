"""Shared fixtures of the integration tests: an isolated ROS domain and an rclpy node."""

from __future__ import annotations

import os
import random
import threading
import warnings
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SAMPLE_BAG = REPO / "sample" / "interview"


@pytest.fixture(scope="session", autouse=True)
def ros_domain():
    """Each test run gets its own DDS domain on localhost, so parallel runs never hear each other.

    Fast DDS maps a domain to UDP ports 7400 + 250 * id + ...: ids above 101 overflow its default mapping.
    """
    os.environ.setdefault("ROS_DOMAIN_ID", str(random.Random(os.getpid()).randint(1, 101)))
    os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    os.environ.setdefault("ROS_LOG_DIR", str(REPO / "log" / "ros"))
    # This process plays the `facecoach` command (it replays, observes, calls): its participants take the
    # command's Fast DDS profile, as the command's do (facecoach_cli.cli.main).
    from facecoach.dds import profile_environment

    os.environ.update(profile_environment())
    yield os.environ["ROS_DOMAIN_ID"]


@pytest.fixture(scope="session", autouse=True)
def facecoach_home(tmp_path_factory):
    """Sessions that the graphs of the tests record go to a temporary FaceCoach home, never the user's."""
    os.environ["FACECOACH_HOME"] = str(tmp_path_factory.mktemp("facecoach_home"))
    yield Path(os.environ["FACECOACH_HOME"])


@pytest.fixture(autouse=True)
def sigint_as_found(request):
    """A test that leaves this process ignoring SIGINT (code run in-process ends by ignoring it while it
    cleans up) would hand that on to every process later tests start: put back what the test found."""
    import signal

    found = signal.getsignal(signal.SIGINT)
    yield
    if signal.getsignal(signal.SIGINT) is not found:
        signal.signal(signal.SIGINT, found)


@pytest.fixture
def ros_node():
    """An rclpy node in this test process."""
    import rclpy

    rclpy.init()
    node = rclpy.create_node("facecoach_test")
    yield node
    rclpy.get_global_executor().shutdown()  # drops spin_once's half-run wait, which holds entities in use
    # Seen once at the end of a full run: destroy_node waited for ever on a publisher rclpy still counted as in
    # use. Bounded, so one stuck teardown cannot hang the suite; the warning says so when it happens.
    done = threading.Thread(target=node.destroy_node, daemon=True)
    done.start()
    done.join(10.0)
    if done.is_alive():
        warnings.warn("rclpy: destroy_node did not return within 10 s; left to the process exit", stacklevel=2)
    rclpy.try_shutdown()
