"""What `run` and `demo` add for the practice session.

Its folder is chosen up front, the recorder awaited, and at the end the command says where the session is
kept and (``--report``) writes its report, built from the recording.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import List, Optional, Tuple

from facecoach.graph import RECORDER, NodeSpec
from facecoach_common.paths import new_session_dir, sessions_dir

FEEDBACK = "/facecoach/feedback"
REPORT_HELP = "write the session report at the end: into the session folder, or into DIR"


def add_report_option(p) -> None:
    """--report [DIR] (run and demo)."""
    p.add_argument("--report", nargs="?", const="", metavar="DIR", help=REPORT_HELP)


def _recorder(nodes: List[NodeSpec]) -> Optional[NodeSpec]:
    return next((n for n in nodes if (n.package, n.executable) == RECORDER), None)


def plan_session(nodes: List[NodeSpec], profile: str = "") -> Tuple[List[NodeSpec], Optional[Path]]:
    """The nodes with the recorder told this session's folder and profile (None: the session is not recorded)."""
    rec = _recorder(nodes)
    if rec is None or not rec.parameters.get("record", True):
        return nodes, None
    path = new_session_dir(sessions_dir(str(rec.parameters.get("sessions_dir") or "")))
    on = replace(rec, parameters={**rec.parameters, "session_dir": str(path), "profile": profile or ""})
    return [on if n is rec else n for n in nodes], path


def recorder_listening(node) -> bool:
    """True once the session recorder subscribes to the feedback (so the interview's first frame is kept)."""
    return any(i.node_name == RECORDER[1] for i in node.get_subscriptions_info_by_topic(FEEDBACK))


def wait_for_recorder(node, session: Optional[Path], timeout: float = 10.0) -> None:
    """Spin ``node`` until the recorder listens (or ``timeout`` s; then the first frames may be missing)."""
    import rclpy

    if session is None:
        return
    deadline = time.monotonic() + timeout
    while not recorder_listening(node):
        if time.monotonic() > deadline:
            print(f"[facecoach] warning: the session recorder is not listening after {timeout:g} s", flush=True)
            return
        rclpy.spin_once(node, timeout_sec=0.05)


def finish_session(session: Optional[Path], report: Optional[str]) -> Optional[dict]:
    """Say where the session is kept; with ``report`` ('' = the session folder) write its report."""
    if session is None:
        return None
    if not session.exists():
        print(f"[facecoach] the session was not recorded (see the session_recorder log); {session} is missing")
        return None
    print(f"[facecoach] session kept: {session} (facecoach report {session.name}; facecoach sessions)", flush=True)
    if report is None:
        return None
    from ..session_page import write_session_report

    s = write_session_report(session, report or None)
    print(f"[facecoach] session report: {Path(report or session) / 'report.html'}", flush=True)
    for m in s["missing"]:
        print(f"[facecoach] the report says what is missing: {m}", flush=True)
    return s
