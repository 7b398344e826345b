"""eval-bag's results: one JSON line per frame, the file they are written to and read back from.

One line per frame in bag order: ``stamp_ns`` (the image header's stamp), ``face``, ``roi`` [x, y, w, h],
``label``, ``confidence``, ``probabilities``, ``category``, ``cue``, ``reason``, ``bad_share``,
``bad_probability`` (the frame's summed probability of the emotions mapped to bad) and ``bad_frame`` (the
frame counts as bad by the alert node's bad_rule). A frame the
live graph would skip (it cannot be decoded, OpenCV fails on it) gets a line with only ``stamp_ns`` and
``error``; a bag that ends early (truncated or corrupt) gets a last line with ``stamp_ns`` null and ``error``.
Either makes the result partial. Timings are kept out of the lines so that two runs give identical files.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Sequence

from facecoach_bag.errors import BagError


@dataclass
class RunResult:
    """What one variant produced over a bag."""

    variant: str
    lines: List[Dict[str, Any]] = field(default_factory=list)
    latency_ms: List[float] = field(default_factory=list)
    duplicates: int = 0
    truncated: str = ""

    @property
    def frames(self) -> List[Dict[str, Any]]:
        """The decided frames (lines without an error)."""
        return [x for x in self.lines if "error" not in x]

    @property
    def errors(self) -> List[Dict[str, Any]]:
        """The error lines (skipped frames, a truncated bag)."""
        return [x for x in self.lines if "error" in x]

    @property
    def partial(self) -> bool:
        """True when a frame was skipped or the bag ended early."""
        return bool(self.errors)


def write_jsonl(path, lines: Sequence[Dict[str, Any]]) -> None:
    """Write result lines (written to a temporary file first, so a crash leaves no half file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w") as f:
        for line in lines:
            f.write(json.dumps(line, sort_keys=True) + "\n")
    os.replace(tmp, path)


def read_jsonl(path) -> List[Dict[str, Any]]:
    """Read result lines; BagError naming the line when the file is not eval-bag output."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise BagError(f"{path}: cannot read results ({exc.strerror})") from exc
    lines = []
    for i, raw in enumerate(text.splitlines(), 1):
        if not raw.strip():
            continue
        try:
            line = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise BagError(f"{path}:{i}: not a JSON line ({exc.msg})") from exc
        if not isinstance(line, dict) or "stamp_ns" not in line:
            raise BagError(f"{path}:{i}: not an eval-bag result line (no stamp_ns)")
        if "error" not in line:
            missing = {"face", "label", "category", "cue"} - set(line)
            if missing:
                raise BagError(f"{path}:{i}: result line lacks {sorted(missing)}")
        lines.append(line)
    return lines


def variant_out(out, variant: str) -> Path:
    """RESULTS.jsonl -> RESULTS.<variant>.jsonl."""
    out = Path(out)
    suffix = out.suffix or ".jsonl"
    return out.with_name(f"{out.stem if out.suffix else out.name}.{variant}{suffix}")
