"""Is the classifier still talking? A watch over the Emotion stream's arrival times (no rclpy, no clock).

A killed or hung classifier publishes nothing, and a coach that only reacts to messages then goes silent
while it looks alive. The alert node feeds this watch the receive time of every Emotion and asks it on a
timer; the one Feedback it then publishes (reason ``classifier_gone``) tells the user and the demo printer.

A bag or a video file also stops, and that is no classifier gone: its player (the camera node, the bag
replayer) announces the end on a latched topic (``/facecoach/stream_end``), the node notes its receive time with
``ended()``, and silence after such a notice is the stream's end (reason ``stream_ended``). A notice from
before the stream (re)started (a latched one from an earlier replay) does not count.
"""

from typing import Optional

CLASSIFIER_GONE = "classifier_gone"  # Feedback.REASON_CLASSIFIER_GONE (this module imports no message package)
STREAM_ENDED = "stream_ended"  # Feedback.REASON_STREAM_ENDED: the bag or video ended, as its player said
GONE_AFTER_S = 1.0  # silence that counts as gone at camera rates (30 fps: 30 missing frames)
INTERVALS = 4.0  # ... or this many typical gaps of a slow stream (a 1 fps camera is not gone after 1 s)
_SMOOTHING = 0.1  # weight of the newest gap in the running average


class StreamWatch:
    """Says once when a stream that had been arriving stops for longer than its timeout, and when it is back."""

    def __init__(self, gone_after_s: float = GONE_AFTER_S) -> None:
        self.gone_after_s = gone_after_s
        self.last: Optional[float] = None  # receive time of the last message
        self.gap_s: Optional[float] = None  # running average of the gaps between messages
        self.gone = False
        self.started: Optional[float] = None  # receive time of the first message since the stream (re)started
        self.end_at: Optional[float] = None  # receive time of the latest end-of-stream notice

    def timeout_s(self) -> float:
        """Silence after which the stream is gone: ``gone_after_s``, longer for a slow stream."""
        return max(self.gone_after_s, INTERVALS * self.gap_s) if self.gap_s is not None else self.gone_after_s

    def arrived(self, now: float) -> Optional[float]:
        """A message arrived at ``now``; returns how long the stream had been gone when this ends an outage."""
        was_gone, last = self.gone, self.last
        if last is None or was_gone:
            self.started = now
        if last is not None and not was_gone:
            gap = max(0.0, now - last)
            self.gap_s = gap if self.gap_s is None else (1 - _SMOOTHING) * self.gap_s + _SMOOTHING * gap
        self.last, self.gone = now, False
        return now - last if was_gone and last is not None else None

    def ended(self, now: float) -> None:
        """The stream's player said, at ``now``, that its bag or video file has ended."""
        self.end_at = now

    def stream_ended(self) -> bool:
        """Whether the current stream's player said it ended (a notice from before the stream started does not)."""
        return self.end_at is not None and self.started is not None and self.end_at >= self.started

    def check(self, now: float) -> bool:
        """True once per outage: messages had been arriving and none came for longer than ``timeout_s()``."""
        if self.gone or self.last is None or now - self.last <= self.timeout_s():
            return False
        self.gone = True
        return True
