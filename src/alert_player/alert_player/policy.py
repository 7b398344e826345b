"""The cue decision: a pure state machine over stamped frames (sliding window, hysteresis, cooldown).

Time comes from the stamps passed in, so a replay at any rate decides exactly as live; the node also passes
its receive clock, which stands in for unset stamps and keeps the cooldown through a clock jump.
"""

from collections import deque
from dataclasses import dataclass
from typing import Deque, Optional, Tuple

from facecoach_common.settings import check_settings, setting

from .mapping import NO_CATEGORY

# The Feedback.msg REASON_* strings (kept here as plain text: this module imports no ROS).
PLAYED = "played"
BELOW_THRESHOLD = "below_threshold"
COOLDOWN = "cooldown"
MUTED = "muted"
NO_FACE = "no_face"
MALFORMED = "malformed"
AUDIO_FAILED = "audio_failed"
BUSY = "busy"
FACE_LOST = "face_lost"

_EPS = 1e-6  # stamps are floats made from sec+nanosec: tolerate rounding at the exact boundaries
# Stamps that run ahead of the receive clock by more than this between two frames are a clock jump.
JUMP_S = 5.0
# Stamps that go back, freeze or jump this many times within STAMP_TROUBLE_S of receive clock are not a
# timeline: the policy then runs on the receive clock for the rest of the stream.
STAMP_TROUBLES = 3
STAMP_TROUBLE_S = 10.0
MAX_WINDOW_FRAMES = 8192  # > 60 s (the longest window) at 120 fps: the window stays bounded whatever the stamps
# How a face frame counts as bad (the ``bad_rule`` parameter):
PROBABILITY_RULE = "probability"  # P(emotions mapped to bad) summed reaches bad_probability
LABEL_RULE = "label"  # the top label is mapped to bad with confidence >= min_confidence (the earlier rule)


@dataclass(frozen=True)
class PolicyConfig:
    """When to cue: every duration in seconds of message stamps; validated on construction."""

    window_s: float = setting(2.0, "sliding window for the share of bad frames, seconds of message stamps", 0.1, 60.0)
    bad_threshold: float = setting(0.6, "share of bad face frames in the window that fires a cue", 0.01, 1.0)
    release_threshold: float = setting(0.3, "the share must drop below this before another cue (hysteresis)", 0.0, 1.0)
    bad_rule: str = setting(
        PROBABILITY_RULE,
        "how a face frame counts as bad: 'probability' (the probabilities of the emotions mapped to bad sum to "
        "at least bad_probability) or 'label' (the top label is mapped to bad, with at least min_confidence)",
        choices=(PROBABILITY_RULE, LABEL_RULE),
    )
    bad_probability: float = setting(
        0.31, "rule 'probability': a face frame is bad when P(emotions mapped to bad) reaches this", 0.01, 1.0
    )
    min_confidence: float = setting(
        0.4, "rule 'label': a bad top label counts only with at least this classifier probability", 0.0, 1.0
    )
    cooldown_s: float = setting(8.0, "minimum time between two cues, seconds of message stamps", 0.0, 3600.0)
    face_lost_s: float = setting(
        0.0, "play the face-lost cue after this long without a face, seconds (0 = off)", 0.0, 3600.0
    )
    mute: bool = setting(False, "decide and publish as usual, but play no cue")

    def __post_init__(self) -> None:
        """Refuse out-of-range and inconsistent values with a message that names the parameter."""
        check_settings(self)
        if not self.release_threshold < self.bad_threshold:
            raise ValueError("release_threshold must be < bad_threshold")


@dataclass(frozen=True)
class Decision:
    """The outcome for one frame: its category, the window's bad share, and whether to cue and why."""

    category: str
    bad_share: float
    cue: bool
    reason: str
    bad_probability: float = 0.0  # P(emotions mapped to bad) of this frame
    bad_frame: bool = False  # the frame counts as bad by the bad_rule


class CuePolicy:
    """Decides, frame by frame, when the 'bad expression' (or 'face lost') cue should play.

    A face frame is bad by ``bad_rule``: its probability of the bad category reaches ``bad_probability``
    (default), or its top label is bad with ``min_confidence``. A cue needs the bad frames to be at least
    ``bad_threshold`` of the face frames in the last
    ``window_s`` seconds *and* to span at least ``bad_threshold * window_s`` seconds, so a blip right after
    start-up or after a no-face gap cannot fire on a handful of frames. After a cue the policy disarms until
    the share drops below ``release_threshold`` (one cue per bad episode), and ``cooldown_s`` separates cues.
    """

    def __init__(self, config: Optional[PolicyConfig] = None) -> None:
        """Start with an empty window."""
        self.config = config or PolicyConfig()
        self.reset()

    def reset(self) -> None:
        """Forget everything: a new stream (a new session, or eval-bag starting a bag)."""
        self._last_cue_now: Optional[float] = None  # receive-clock time of the last cue
        self._cooldown_until_now: Optional[float] = None  # set when a clock jump lost the stamp history
        self._last_now: Optional[float] = None
        self._troubles: Deque[float] = deque(maxlen=STAMP_TROUBLES)  # receive-clock times of stamp troubles
        self.stamp_trouble = ""  # why the stamps were given up for the receive clock ('' while they are used)
        self._restart_window()

    def _restart_window(self) -> None:
        """Forget the window and the stamp history (the stamps jumped); the cooldown survives on the receive clock."""
        self._window: Deque[Tuple[float, bool]] = deque(maxlen=MAX_WINDOW_FRAMES)  # (stamp, the frame is bad)
        self._armed = True
        self._last_cue: Optional[float] = None
        self._last_stamp: Optional[float] = None
        self._last_face: Optional[float] = None  # stamp of the last face frame (or of the first frame seen)
        self._face_lost_done = False
        self.bad_share = 0.0
        if self._last_cue_now is not None:
            self._cooldown_until_now = self._last_cue_now + self.config.cooldown_s

    def _jumped(self, stamp_s: float, now: Optional[float]) -> str:
        """Why the stamp breaks the timeline, or '' when it does not.

        It went back, or (with a receive clock) ran ahead of it by more than JUMP_S, or froze (the same
        stamp again while the receive clock moved on).
        """
        if self._last_stamp is None:
            return ""
        if stamp_s < self._last_stamp - _EPS:
            return "went back"
        if now is None or self._last_now is None:
            return ""
        if abs(stamp_s - self._last_stamp) <= _EPS and now > self._last_now:
            return "froze"
        return "jumped ahead" if (stamp_s - self._last_stamp) - (now - self._last_now) > JUMP_S else ""

    def _trust_stamps(self, trouble: str, now: Optional[float]) -> bool:
        """Count a stamp trouble; False once they come too often (then the receive clock is the timeline)."""
        if now is not None:
            self._troubles.append(now)
            if len(self._troubles) == STAMP_TROUBLES and now - self._troubles[0] <= STAMP_TROUBLE_S:
                self.stamp_trouble = (
                    f"message stamps {trouble} {STAMP_TROUBLES} times in {now - self._troubles[0]:.1f} s"
                )
                armed = self._armed  # the same episode goes on: a cue already played keeps it disarmed
                self._restart_window()  # the receive clock starts a timeline of its own
                self._armed = armed
                return False
        return True

    def update(
        self,
        stamp_s: float,
        has_face: bool,
        emotion: str,
        confidence: float,
        category: str,
        busy: bool = False,
        now: Optional[float] = None,
        bad_probability: float = 0.0,
    ) -> Decision:
        """Take one frame and return the decision for it.

        ``bad_probability``: the frame's summed probability of the emotions mapped to bad (rule 'probability').
        ``busy``: a cue is still playing. ``now``: the receive clock (monotonic seconds) where there is one
        (the node): an unset stamp (0) is replaced by it, and a stamp that jumps (back, or ahead of it)
        restarts the window without shortening the cooldown. Stamps that go back, freeze or jump
        STAMP_TROUBLES times within STAMP_TROUBLE_S are given up: the receive clock decides from then on,
        and ``stamp_trouble`` says why. Without ``now`` only stamps count, so a replay at any rate decides
        the same.
        """
        cfg = self.config
        if now is not None and (stamp_s <= 0.0 or self.stamp_trouble):
            stamp_s = now
        trouble = self._jumped(stamp_s, now)
        if trouble and not self.stamp_trouble and not self._trust_stamps(trouble, now):
            stamp_s = now  # given up: the window restarted on the receive clock
        elif trouble and trouble != "froze":
            self._restart_window()
        self._last_stamp, self._last_now = stamp_s, now
        if self._last_face is None:
            self._last_face = stamp_s
        is_bad = False
        if has_face:
            if cfg.bad_rule == PROBABILITY_RULE:
                is_bad = bad_probability >= cfg.bad_probability - _EPS
            else:
                is_bad = category == "bad" and confidence >= cfg.min_confidence
            self._window.append((stamp_s, is_bad))
            self._last_face = stamp_s
            self._face_lost_done = False
        # The window slides on every stamp, with or without a face; no-face frames never enter it.
        while self._window and self._window[0][0] < stamp_s - cfg.window_s - _EPS:
            self._window.popleft()
        bad = [s for s, is_bad in self._window if is_bad]
        self.bad_share = share = len(bad) / len(self._window) if self._window else 0.0
        if share < cfg.release_threshold:
            self._armed = True
        if not has_face:
            return self._face_lost(stamp_s, busy, now)
        sustained = bool(bad) and bad[-1] - bad[0] >= cfg.bad_threshold * cfg.window_s - _EPS
        if not (self._armed and share >= cfg.bad_threshold - _EPS and sustained):
            return Decision(category, share, False, BELOW_THRESHOLD, bad_probability, is_bad)
        held = self._held(stamp_s, busy, now, cooldown=True)
        if held:
            return Decision(category, share, False, held, bad_probability, is_bad)
        self._armed = False
        self._last_cue, self._last_cue_now = stamp_s, now
        return Decision(category, share, True, PLAYED, bad_probability, is_bad)

    def _face_lost(self, stamp_s: float, busy: bool, now: Optional[float]) -> Decision:
        """Decide a no-face frame: nothing, or the one face-lost cue of this absence."""
        cfg = self.config
        lost_for = stamp_s - (self._last_face if self._last_face is not None else stamp_s)
        if cfg.face_lost_s <= 0.0 or self._face_lost_done or lost_for < cfg.face_lost_s - _EPS:
            return Decision(NO_CATEGORY, self.bad_share, False, NO_FACE)
        # The face-lost cue is its own signal: muted and busy hold it, the bad-expression cooldown does not.
        held = self._held(stamp_s, busy, now, cooldown=False)
        if held:
            return Decision(NO_CATEGORY, self.bad_share, False, held)
        self._face_lost_done = True
        return Decision(NO_CATEGORY, self.bad_share, True, FACE_LOST)

    def _held(self, stamp_s: float, busy: bool, now: Optional[float], cooldown: bool) -> str:
        """Return why a due cue is held back ('' when it may play)."""
        if self.config.mute:
            return MUTED
        if cooldown and self._last_cue is not None and stamp_s - self._last_cue < self.config.cooldown_s - _EPS:
            return COOLDOWN
        if cooldown and now is not None and self._cooldown_until_now is not None and now < self._cooldown_until_now:
            return COOLDOWN
        if busy:
            return BUSY
        return ""
