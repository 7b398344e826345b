"""Launch actions of the graph's launch description: a node process started with SIGINT held, a profile's values.

Works with the launch packages of Humble and of rolling, and on Python 3.6.
"""

import signal
from typing import Any, Dict

from launch.substitution import Substitution
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue

from facecoach_common.paths import new_session_dir, sessions_dir

from .graph import Graph, NodeSpec
from .profile import load_profile, profile_settings


class HeldNode(Node):
    """A launch_ros Node whose process starts with SIGINT blocked: its program unblocks it once it can take it.

    A Ctrl-C that comes while the node's interpreter still starts (Python's own start-up, site, the console
    script's entry-point lookup: 0.1 to 0.5 s on a loaded machine) would otherwise end it with a
    KeyboardInterrupt traceback and "process has died". A child inherits the signal mask of the thread that
    forks it, through exec (what ``facecoach run`` does too, facecoach_common.startup unblocks it). Launch forks
    in the first step of the task that ``execute`` creates, before that task's first await: SIGINT is blocked
    in launch's thread just around that step (two callbacks scheduled on each side of it; asyncio runs ready
    callbacks in order), so no other action's process starts with it blocked and launch itself only sees a
    Ctrl-C a callback later. A respawned process starts from a later task and is not covered.
    """

    def execute(self, context):  # noqa: D102 - launch's Action protocol
        loop = context.asyncio_loop
        loop.call_soon(signal.pthread_sigmask, signal.SIG_BLOCK, {signal.SIGINT})
        try:
            return super().execute(context)
        finally:
            loop.call_soon(signal.pthread_sigmask, signal.SIG_UNBLOCK, {signal.SIGINT})


class ProfileValue(Substitution):
    """A parameter's value from the launch's ``profile`` (facecoach.profile), else ``fallback`` (the graph's).

    The default of the override arguments a profile can set (cue_wav), and the value of every other parameter
    a profile can set: an argument given on the command line still wins over the profile.
    """

    def __init__(self, graph: Graph, node: str, parameter: str, fallback: Any) -> None:
        super().__init__()
        self.graph, self.node, self.parameter, self.fallback = graph, node, parameter, fallback

    def describe(self) -> str:
        """How --show-args shows it."""
        return f"the profile's {self.parameter}, else {self.fallback!r}"

    def perform(self, context) -> str:
        """The value as text (launch_ros types it by the parameter's type)."""
        profile = load_profile(context.launch_configurations.get("profile", ""), self.graph)
        value = profile.get(self.node, {}).get(self.parameter, self.fallback)
        return value if isinstance(value, str) else repr(value)


class SessionName(Substitution):
    """The session recorder's folder name for this launch: its start time, not taken yet under ``sessions_dir``.

    Performed once, when the recorder's process is first started: launch respawns a process with the same
    command and parameters, so a respawned recorder goes on with this launch's session instead of starting one.
    """

    def describe(self) -> str:
        """How --show-args would show it."""
        return "this launch's session folder name (its start time)"

    def perform(self, context) -> str:
        """A new session folder's name under the launch's ``sessions_dir``."""
        return new_session_dir(sessions_dir(context.launch_configurations.get("sessions_dir", ""))).name


def profile_values(graph: Graph, spec: NodeSpec) -> Dict[str, Any]:
    """The parameters of ``spec`` a profile can set, each a ProfileValue typed like its setting."""
    if spec.name not in graph.profile:
        return {}
    settings = profile_settings(graph.profile[spec.name])
    out = {}
    for name in graph.profile[spec.name].parameters:
        fallback = spec.parameters.get(name, settings[name].default)
        out[name] = ParameterValue(
            ProfileValue(graph, spec.name, name, fallback), value_type=type(settings[name].default)
        )
    return out


def check_profile(context, graph: Graph) -> list:
    """Load the profile before any process starts: a bad one ends the launch with its one-line reason."""
    load_profile(context.launch_configurations.get("profile", ""), graph)
    return []
