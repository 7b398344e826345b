"""The demo's coaching lines: the feedback stream second by second (of the frames' stamps), and its totals."""

from __future__ import annotations

import sys
from collections import Counter
from typing import List, Optional

from facecoach_common.stamps import stamp_to_ns

AUDIO_FAILED = "audio_failed"  # Feedback.REASON_AUDIO_FAILED (this module imports no message package)


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

    def add(self, msg) -> None:
        """One feedback message (in stamp order)."""
        ns = stamp_to_ns(msg.header.stamp)
        self.first_ns = ns if self.first_ns is None else self.first_ns
        sec = int((ns - self.first_ns) // 10**9)
        if sec != self.second and self.bucket:
            self.flush()
        self.second = sec
        self.bucket.append(msg)
        self.messages.append(msg)
        if msg.cue_played or msg.reason == AUDIO_FAILED:
            t = (ns - self.first_ns) / 1e9
            self.cues.append(t)
            heard = "CUE played" if msg.cue_played else "CUE due, NOT HEARD (the sound output failed)"
            if not msg.cue_played:
                self.unheard.append(t)
            print(
                f"  {t:6.2f} s  >>> {heard}: expression '{msg.emotion}' has been bad "
                f"({msg.bad_share:.0%} of the window)",
                file=self.out,
                flush=True,
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
        share = max(m.bad_share for m in self.bucket)
        conf_txt = f"{sum(conf) / len(conf):.2f}" if conf else "  - "
        print(
            f"  {self.second:4d} s  {emotion:<10} {conf_txt}  {category:<10}  bad share {share:4.0%}  "
            f"frames {len(self.bucket)}",
            file=self.out,
            flush=True,
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
