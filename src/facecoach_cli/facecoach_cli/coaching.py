"""The demo's coaching lines: the feedback stream second by second (of the frames' stamps), and its totals.

Besides the feedback, the printer shows what happens to the graph: a node that died or restarted (``note``,
called from the launcher's supervisor thread) and the alert node's word that the classifier is gone.
"""

from __future__ import annotations

import sys
import threading
from collections import Counter
from typing import List, Optional

from alert_player.policy import AUDIO_FAILED
from alert_player.watchdog import CLASSIFIER_GONE, STREAM_ENDED
from facecoach_common.stamps import stamp_to_ns

TABLE_HEADER = f"  {'time':>8}  {'emotion':<10} conf  {'category':<10}"  # the columns of CoachingPrinter's lines


class CoachingPrinter:
    """Prints the feedback stream second by second (of the frames' stamps) and sums it up."""

    def __init__(self, out=sys.stdout) -> None:
        self.out = out
        self.first_ns: Optional[int] = None
        self.bucket: List = []
        self.second = 0
        self.messages: List = []
        self.cues: List[float] = []  # cues due: played, or due on a sound output that failed
        self.unheard: List[float] = []
        self.outages: List[float] = []  # when the classifier went silent (seconds of the stream)
        self.last_t = 0.0  # stream time of the latest frame
        self._gone = False
        self._lock = threading.Lock()  # notes come from another thread

    def _say(self, text: str) -> None:
        with self._lock:
            print(text, file=self.out, flush=True)

    def note(self, text: str) -> None:
        """A line about the graph itself (a node died, restarted ...), printed at once."""
        self._say(text)

    def add(self, msg) -> None:
        """One feedback message (in stamp order)."""
        if msg.reason == STREAM_ENDED:  # the bag or video's player said it ended: the end, no failure
            self.flush()
            self._say(f"  {self.last_t:6.2f} s  the stream ended")
            return
        if msg.reason == CLASSIFIER_GONE:  # about no frame (stamp 0): the stream stopped after the last one
            t = self.last_t
            self.flush()
            self.outages.append(t)
            self._gone = True
            self._say(f"  {t:6.2f} s  !!! no emotion for over a second: the classifier is gone, coaching paused")
            return
        ns = stamp_to_ns(msg.header.stamp)
        self.first_ns = ns if self.first_ns is None else self.first_ns
        t = self.last_t = (ns - self.first_ns) / 1e9
        if self._gone:
            self._gone = False
            self._say(f"  {t:6.2f} s  coaching resumes")
        sec = int((ns - self.first_ns) // 10**9)
        if sec != self.second and self.bucket:
            self.flush()
        self.second = sec
        self.bucket.append(msg)
        self.messages.append(msg)
        if msg.cue_played or msg.reason == AUDIO_FAILED:
            self.cues.append(t)
            heard = "CUE played" if msg.cue_played else "CUE due, NOT HEARD (the sound output failed)"
            if not msg.cue_played:
                self.unheard.append(t)
            self._say(
                f"  {t:6.2f} s  >>> {heard}: expression '{msg.emotion}' has been bad "
                f"({msg.bad_share:.0%} of the window)"
            )

    def flush(self) -> None:
        """Print the line of the current second."""
        if not self.bucket:
            return
        emotions = Counter(m.emotion if m.has_face else "(no face)" for m in self.bucket)
        emotion, _ = emotions.most_common(1)[0]
        cats = Counter(m.category_name for m in self.bucket)
        category, _ = cats.most_common(1)[0]
        conf = [m.confidence for m in self.bucket if m.has_face and m.emotion == emotion]
        # The share is of the window's face frames: a second without a face judges no expression, and the
        # window's older faces (up to window_s back) would show as this second's share, e.g. 100 %.
        faces = [m.bad_share for m in self.bucket if m.has_face]
        share_txt = f"{max(faces):4.0%}" if faces else "   -"
        conf_txt = f"{sum(conf) / len(conf):.2f}" if conf else "  - "
        self._say(
            f"  {self.second:6d} s  {emotion:<10} {conf_txt}  {category:<10}  bad share {share_txt}  "
            f"frames {len(self.bucket)}"
        )
        self.bucket = []

    def summary(self) -> dict:
        """Totals of the session."""
        self.flush()
        n = len(self.messages)
        cats = Counter(m.category_name for m in self.messages)
        variants = sorted({m.model_variant for m in self.messages if m.model_variant})
        return {
            "frames": n,
            "share": {c: cats[c] / n for c in ("good", "acceptable", "bad", "none")} if n else {},
            "cues": len(self.cues),
            "cue_times_s": [round(t, 2) for t in self.cues],
            "cues_not_heard": len(self.unheard),
            "classifier_gone_at_s": [round(t, 2) for t in self.outages],
            "variants": variants,
        }


def feedback_line(msg) -> dict:
    """A Feedback message as an eval-bag result line (what the session report reads)."""
    return {
        "stamp_ns": stamp_to_ns(msg.header.stamp),
        "face": msg.has_face,
        "label": msg.emotion,
        "confidence": msg.confidence,
        "category": msg.category_name,
        "cue": msg.cue_played,
        "reason": msg.reason,
        "bad_share": msg.bad_share,
    }
