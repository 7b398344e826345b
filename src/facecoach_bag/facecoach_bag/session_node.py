"""session_recorder node: every practice session kept, as a folder with a bag and the settings in force.

It records FaceCoach's own topics (feedback, emotion with the face box, parameter changes; images only with
``record_images``) into ``<sessions_dir>/<start time>/bag`` and writes ``session.yaml`` beside it with the
parameters of the graph's nodes, read from their parameter services once they answer. The bag survives a
crash or ``kill -9`` (commits every half second); session.yaml is rewritten atomically.
"""

import time
from pathlib import Path
from typing import Any, Dict, List, Optional

from rcl_interfaces.srv import GetParameters, ListParameters
from rclpy.node import Node

from facecoach_common.paths import new_session_dir, profile_name, sessions_dir
from facecoach_common.ros_params import declare, run_node
from facecoach_common.services import RESEND_AFTER_S
from facecoach_common.settings import from_values, settings_of

from .errors import BagError
from .recorder import Recorder
from .session_config import SessionConfig
from .session_files import IMAGE_TOPICS, SESSION_VERSION, TOPICS, next_bag, read_session_file, write_session_file
from .session_settings import calibration, parameter_value

SETTINGS = settings_of(SessionConfig)
TICK_S = 0.25  # subscribe to topics that appeared, commit, ask for settings


class _Asking:
    """The parameter services of one node of the graph, and where the questions to it stand."""

    def __init__(self, node: Node, name: str) -> None:
        self.name = name
        self.lister = node.create_client(ListParameters, name + "/list_parameters")
        self.getter = node.create_client(GetParameters, name + "/get_parameters")
        self.asked_at: Optional[float] = None  # when the question last went out (time.monotonic())


class SessionRecorderNode(Node):
    """Records the session's topics and settings into a session folder (see the module docstring)."""

    def __init__(self) -> None:
        """Declare parameters; open the session folder and its bag unless recording is off."""
        super().__init__("session_recorder")
        self._config = from_values(SessionConfig, declare(self, SETTINGS))
        self._recorder: Optional[Recorder] = None
        self._asking: Dict[str, _Asking] = {}
        self._info: Dict[str, Any] = {}
        self._missing: List[str] = []
        if not self._config.record:
            self.get_logger().info("session recording is off (record_session:=false)")
            return
        c = self._config
        if c.session_dir:
            self._session = Path(c.session_dir)
        elif c.session_name:
            self._session = sessions_dir(c.sessions_dir) / c.session_name
        else:
            self._session = new_session_dir(sessions_dir(c.sessions_dir))
        topics = list(TOPICS) + (list(IMAGE_TOPICS) if c.record_images else [])
        try:
            self._session.mkdir(parents=True, exist_ok=True)
            bag = next_bag(self._session)
            self._recorder = Recorder(self, bag, topics)
        except (OSError, BagError) as exc:  # coaching goes on without a record; said once, plainly
            reason = getattr(exc, "strerror", None) or str(exc)
            self.get_logger().error(f"this session is not recorded: {self._session}: {reason}")
            return
        self._info = self._session_info(bag.name, topics)
        self._missing = list(topics)  # topics not subscribed yet
        self._deadline = time.monotonic() + c.settings_wait_s
        self._asking = {n: _Asking(self, n) for n in c.settings_from}
        self._write_info()
        self.create_timer(TICK_S, self._tick)
        self.get_logger().info(f"recording this session into {self._session} (images: {c.record_images})")

    def _session_info(self, bag: str, topics: List[str]) -> Dict[str, Any]:
        """session.yaml's content: new, or (a recorder restarted during the session) the earlier one, going on."""
        try:
            info = read_session_file(self._session)
        except ValueError:
            now = time.time()
            return {
                "version": SESSION_VERSION,
                "started": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now)),
                "started_ns": int(now * 1e9),
                "ended": None,
                "bags": [bag],
                "topics": topics,
                "record_images": self._config.record_images,
                "profile": profile_name(self._config.profile),
                "settings": {},
                "settings_missing": list(self._config.settings_from),
            }
        info["bags"] = list(info.get("bags") or []) + [bag]
        info["recorder_restarts"] = int(info.get("recorder_restarts") or 0) + 1
        info["ended"] = None
        info.setdefault("settings", {})
        return info

    def _write_info(self) -> None:
        try:
            write_session_file(self._session, self._info)
        except OSError as exc:
            self.get_logger().error(f"{self._session}: cannot write session.yaml ({exc})", throttle_duration_sec=30.0)

    def _tick(self) -> None:
        """Subscribe to the topics that appeared, commit what arrived, ask the nodes that answer now."""
        if self._missing:  # a topic appears once; its subscription outlives its publisher's restarts
            self._missing = self._recorder.subscribe_available()
        self._recorder.sync()
        if self._recorder.error:
            self.get_logger().error(f"session recording stopped: {self._recorder.error}", throttle_duration_sec=60.0)
        if not self._asking:
            return
        if time.monotonic() > self._deadline:
            self.get_logger().info(f"no parameters from {sorted(self._asking)} (not running?)")
            self._asking = {}
            return
        now = time.monotonic()
        for asking in list(self._asking.values()):
            # Unanswered after a while: Fast DDS may have dropped the reply (facecoach_common.services), ask again.
            due = asking.asked_at is None or now - asking.asked_at >= RESEND_AFTER_S[0]
            if due and asking.lister.service_is_ready() and asking.getter.service_is_ready():
                asking.asked_at = now
                future = asking.lister.call_async(ListParameters.Request())
                future.add_done_callback(lambda f, a=asking: self._listed(a, f))

    def _listed(self, asking: _Asking, future) -> None:
        result = future.result()
        if asking.name not in self._asking:  # a second question's answer, after the first's
            return
        if result is None:
            asking.asked_at = None  # ask again at the next tick
            return
        names = sorted(result.result.names)
        request = GetParameters.Request(names=names)
        asking.getter.call_async(request).add_done_callback(lambda f: self._got(asking, names, f))

    def _got(self, asking: _Asking, names: List[str], future) -> None:
        result = future.result()
        if asking.name not in self._asking:
            return
        if result is None:
            asking.asked_at = None
            return
        params = {n: parameter_value(v) for n, v in zip(names, result.values)}
        self._info["settings"][asking.name] = params
        cal = calibration(asking.name, params)
        if cal is not None:
            self._info["calibration"] = cal
        self._asking.pop(asking.name, None)
        self._info["settings_missing"] = sorted(self._asking)
        self._write_info()
        self.get_logger().info(f"settings of {asking.name} kept ({len(params)} parameters)")

    def destroy_node(self) -> None:
        """Close the bag and say in session.yaml when the session ended."""
        recorder = getattr(self, "_recorder", None)  # also called by rclpy when __init__ failed half-way
        if recorder is not None:
            recorder.close()
            self._info["ended"] = time.strftime("%Y-%m-%d %H:%M:%S")
            self._info["messages"] = dict(recorder.counts)
            if recorder.error:
                self._info["error"] = recorder.error
            self._write_info()
            self._recorder = None
        super().destroy_node()


def main(args=None) -> None:
    """Run the session_recorder node until Ctrl-C."""
    run_node(SessionRecorderNode, "session_recorder", (ValueError,), args)


if __name__ == "__main__":
    main()
