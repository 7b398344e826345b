"""alert_player node: emotion → category → cue decision → the user's own voice, and a Feedback per frame."""

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any, Dict, List, Optional, Sequence

from diagnostic_msgs.msg import DiagnosticArray
from rcl_interfaces.msg import SetParametersResult
from rclpy.node import Node
from rclpy.parameter import Parameter
from std_msgs.msg import Header

from facecoach_common.qos import STATE_QOS, STREAM_QOS
from facecoach_common.ros_params import declare, on_set, run_node
from facecoach_common.settings import from_values, readable, settings_of
from facecoach_msgs.msg import Emotion, Feedback

from .audio import AudioError, AudioPlayer
from .config import AlertConfig
from .conversions import classified_from_msg, diagnostic_status, feedback_msg
from .mapping import NO_CATEGORY, render_mapping
from .policy import AUDIO_FAILED, FACE_LOST, Decision
from .stage import DecideStage
from .watchdog import StreamWatch

SETTINGS = settings_of(AlertConfig)


def _build(values: Dict[str, Any]) -> AlertConfig:
    return from_values(AlertConfig, values)


class AlertPlayerNode(Node):
    """Subscribes to emotions, decides with CuePolicy, plays cues with AudioPlayer, publishes Feedback."""

    def __init__(self) -> None:
        """Declare parameters, build the config (fails fast on bad values), wire topics and the poll timer."""
        super().__init__("alert_player")
        self._values = declare(self, SETTINGS)
        self._config = _build(self._values)
        self._stage = DecideStage(self._config)
        self._player = AudioPlayer(self._config.alsa_device, self._config.volume)
        self._validate = on_set(self, SETTINGS, lambda: self._values, _build, self._apply)
        self.add_on_set_parameters_callback(self._on_set)
        self._pub = self.create_publisher(Feedback, "feedback", STREAM_QOS)
        self.create_subscription(Emotion, "emotion", self._on_emotion, STREAM_QOS)
        self.create_timer(0.1, self._poll_playback)  # playback runs in aplay; this only collects its exit status
        self._watch = StreamWatch()
        self._last_emotion: Optional[Emotion] = None
        # A bag or video file's player says when it ended (latched): the silence after it is no failure.
        self.create_subscription(Header, "stream_end", lambda _: self._watch.ended(time.monotonic()), STATE_QOS)
        self._stamp_warned = False
        self._first_stamp_s: Optional[float] = None  # the stream's first frame: logs say times since it
        self.create_timer(0.1, self._watch_input)
        self._diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self.create_timer(1.0, self._publish_diagnostics)
        if self._config.mapping_preset and dict(self._config.mapping) != self._stage.mapping:
            self.get_logger().warning(f"mapping_preset={self._config.mapping_preset!r}: mapping.* parameters ignored")
        self.get_logger().info(f"mapping: {render_mapping(self._stage.mapping)}")
        if not self._player.aplay_found():
            self.get_logger().error("aplay not found: cues cannot play; install alsa-utils")
        # Files and the sound device are checked in a worker: a slow disk or a stuck device never holds the executor.
        self._closing = False  # destroy_node began: the worker's late findings are no news
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="audio-check")
        self._output_error: Optional[str] = None
        self._worker.submit(self._check_sounds, self._config)
        self._worker.submit(self._check_output)
        self.get_logger().info(f"policy: {readable(self._config.policy)}")
        self.get_logger().info(f"ready: ALSA device {self._config.alsa_device!r}")

    def _on_set(self, changes: Sequence[Parameter]) -> SetParametersResult:
        """Refuse mapping.* changes that a set mapping_preset would silently override, then validate."""
        names = {c.name for c in changes}
        preset = next((c.value for c in changes if c.name == "mapping_preset"), self._values["mapping_preset"])
        if preset and any(n.startswith("mapping.") for n in names):
            reason = (
                f"mapping_preset={preset!r} overrides mapping.*: set mapping_preset to '' first (or in the same call)"
            )
            self.get_logger().warning(f"parameter change refused: {reason}")
            return SetParametersResult(successful=False, reason=reason)
        return self._validate(changes)

    def _apply(self, config: AlertConfig, changed: Dict[str, Any]) -> None:
        """Swap in a validated config; the policy keeps its window."""
        self._values.update(changed)
        previous = self._stage.mapping
        self._config = config
        self._stage.configure(config)
        self._player.device, self._player.volume = config.alsa_device, config.volume
        if config.policy.mute and self._player.busy:
            self._player.stop()  # muting means silence now, not after the current cue
            self._player.poll()  # its SIGTERM exit status is not an aplay failure
        self.get_logger().info(f"parameters changed: {changed}")
        if self._stage.mapping != previous:
            self.get_logger().info(f"mapping: {render_mapping(self._stage.mapping)}")
        if {"cue_wav", "face_lost_wav", "volume"} & set(changed):
            self._worker.submit(self._check_sounds, config)
        if "alsa_device" in changed:
            self._worker.submit(self._check_output)

    def _check_output(self) -> None:
        """Play 10 ms of silence on the ALSA device: a device that fails makes every cue 'audio_failed'."""
        error = self._player.check_output()
        if self._closing:
            return
        if error:
            self.get_logger().error(f"sound output does not work, cues cannot be heard: {error}")
        elif self._output_error:
            self.get_logger().info(f"sound output {self._player.device!r} works again")
        self._output_error = error

    def _check_sounds(self, config: AlertConfig) -> None:
        """Report an unusable cue file now, not only when the first cue falls back to the tone."""
        for name in ("cue_wav", "face_lost_wav"):
            path = getattr(config, name)
            try:
                _, error = self._player.prepare(path)
            except AudioError:  # closed under it: the node is stopping
                return
            if self._closing:
                return
            if error:
                self.get_logger().error(f"{name}: {error}")
            elif path:
                self.get_logger().info(f"{name}: {path}")

    def _on_emotion(self, msg: Emotion) -> None:
        """Decide on one emotion message and publish its Feedback (also for a malformed message)."""
        now = time.monotonic()
        back_after = self._watch.arrived(now)
        if back_after is not None:
            self.get_logger().info(f"emotion messages arrive again after {back_after:.1f} s")
        self._last_emotion = msg
        frame = classified_from_msg(msg)
        if self._first_stamp_s is None and frame.stamp_s > 0:
            self._first_stamp_s = frame.stamp_s
        decision, malformed = self._stage.decide(frame, busy=self._player.busy, now=now)
        trouble = self._stage.policy.stamp_trouble
        if trouble and not self._stamp_warned:
            self._stamp_warned = True
            self.get_logger().warning(f"{trouble}: cues are timed by the receive clock from now on")
        if malformed:
            self.get_logger().warning(f"malformed emotion message skipped: {malformed}", throttle_duration_sec=5.0)
            self._pub.publish(feedback_msg(msg, decision, False))
            return
        played = False
        if decision.cue:
            played = self._play(decision, frame.stamp_s)
            if not played:  # the policy counted the cue (cooldown runs), but nobody heard it: say so
                decision = replace(decision, cue=False, reason=AUDIO_FAILED)
        self.get_logger().debug(
            f"t={self._since_start(frame.stamp_s):.3f} s {frame.label or '-'} {decision.category} "
            f"share={decision.bad_share:.2f} {decision.reason}"
        )
        self._pub.publish(feedback_msg(msg, decision, played))

    def _watch_input(self) -> None:
        """Say once, on the feedback topic and in the log, that the emotion stream stopped: its end, or a stage gone."""
        last = self._last_emotion
        if last is None or not self._watch.check(time.monotonic()):
            return
        ended = self._watch.stream_ended()
        if ended:
            self.get_logger().info("the stream ended (its bag or video file said so): no more emotions to coach")
        else:
            self.get_logger().warning(
                f"no emotion message for {self._watch.timeout_s():.1f} s after a steady stream: the classifier "
                "(or a stage before it) stopped"
            )
        # About no frame: the stamp stays 0, so no reader matches it to one (frame_id says which camera).
        reason = Feedback.REASON_STREAM_ENDED if ended else Feedback.REASON_CLASSIFIER_GONE
        out = Feedback(category=Feedback.CATEGORY_NONE, category_name=NO_CATEGORY, reason=reason)
        out.header.frame_id = last.header.frame_id
        out.bad_share = float(self._stage.policy.bad_share)
        out.model_variant = last.model_variant
        self._pub.publish(out)

    def _publish_diagnostics(self) -> None:
        policy = self._stage.policy
        status = diagnostic_status(self._config, policy.bad_share, self._output_error, policy.stamp_trouble)
        msg = DiagnosticArray(status=[status])
        msg.header.stamp = self.get_clock().now().to_msg()
        self._diag_pub.publish(msg)

    def _play(self, decision: Decision, stamp_s: float) -> bool:
        """Start the cue the decision asks for; return whether it started on an output that works."""
        if self._output_error:
            self.get_logger().error(f"cue due but not heard: {self._output_error}", throttle_duration_sec=10.0)
            return False
        path = self._config.face_lost_wav if decision.reason == FACE_LOST else self._config.cue_wav
        try:
            error = self._player.play(path)
        except AudioError as exc:
            self.get_logger().error(f"cue not played: {exc}", throttle_duration_sec=10.0)
            return False
        if error:
            self.get_logger().error(error, throttle_duration_sec=10.0)
        self.get_logger().info(
            f"cue ({decision.reason}) at {self._since_start(stamp_s):.2f} s into the stream, "
            f"bad share {decision.bad_share:.2f}: {path or 'tone'} on {self._config.alsa_device!r}"
        )
        return True

    def _since_start(self, stamp_s: float) -> float:
        """Seconds of a frame's stamp since the stream's first frame (an epoch stamp reads as noise)."""
        return stamp_s - (self._first_stamp_s or 0.0)

    def _poll_playback(self) -> None:
        """Report an aplay run that failed (bad device, busy sound card ...)."""
        result = self._player.poll()
        if result is None:
            return
        if result.ok:
            self._output_error = None
            return
        self._output_error = (
            f"aplay failed (exit status {result.returncode}) on device {self._config.alsa_device!r}: "
            f"{result.stderr or 'no error text'}"
        )
        self.get_logger().error(self._output_error, throttle_duration_sec=10.0)

    def destroy_node(self) -> None:
        """Stop a playing cue and remove temporary files, then destroy the node."""
        self._closing = True
        if hasattr(self, "_worker"):  # also called by rclpy when __init__ failed half-way
            self._worker.shutdown(wait=False)
        if hasattr(self, "_player"):
            self._player.close()
        super().destroy_node()


def main(args: Optional[List[str]] = None) -> None:
    """Run the alert_player node until Ctrl-C."""
    run_node(AlertPlayerNode, "alert_player", (ValueError,), args)


if __name__ == "__main__":
    main()
