"""`facecoach sessions`: the practice sessions kept so far (list, delete), and the report of one.

Sessions live in $FACECOACH_HOME/sessions (default ~/.facecoach/sessions; `--dir` another), one folder each,
named by its start time; `run`, `demo` and the launch files record them (record_session:=false: not).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional

from facecoach_common.paths import profile_name, sessions_dir

from ..errors import CommandError

EXIT_PARTIAL = 1


def session_rows(folder: Optional[Path] = None, profile: Optional[str] = None) -> List[Dict[str, Any]]:
    """One row per session of the folder, oldest first (a session that cannot be read says why).

    ``profile``: only the sessions of that profile ('' = those without one; None = all).
    """
    from ..session_page import session_row
    from ..session_store import all_sessions

    rows = [session_row(p) for p in all_sessions(folder)]
    if profile is None:
        return rows
    return [r for r in rows if "error" not in r and r["profile"] == profile_name(profile)]


def _row_text(r: Dict[str, Any]) -> str:
    if "error" in r:
        return f"{r['session']:<21} {r['error']}"
    bad = "-" if r["bad_share"] is None else f"{r['bad_share']:.1%}"
    flag = "  (partial: `facecoach report` says what is missing)" if r["partial"] else ""
    return (
        f"{r['session']:<21} {r['duration_s']:>8.1f} {bad:>6} {r['cues']:>5} {r['cues_per_minute']:>8.1f} "
        f"{r['longest_bad_s']:>10.1f}  {r['profile'] or '-'}{flag}"
    )


def cmd_sessions(args: argparse.Namespace) -> int:
    """List the sessions, or delete the named ones (nothing else in the folder is touched)."""
    from ..session_store import delete_sessions

    folder = Path(args.dir) if args.dir else sessions_dir()
    if args.action == "delete":
        if not args.names:
            raise CommandError("sessions delete: name the sessions to delete (as `facecoach sessions` lists them)")
        for p in delete_sessions(args.names, folder):
            print(f"[facecoach] deleted {p}")
        return 0
    if args.names:
        raise CommandError(f"sessions: unexpected {args.names}; to delete: facecoach sessions delete NAME ...")
    rows = session_rows(folder, args.profile)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        whose = f" of profile {profile_name(args.profile)!r}" if args.profile is not None else ""
        print(f"[facecoach] no sessions{whose} in {folder} yet (`facecoach run` or `facecoach demo` records one)")
        return 0
    print(f"sessions in {folder}:")
    print(f"{'session':<21} {'duration':>8} {'bad':>6} {'cues':>5} {'cues/min':>8} {'longest bad':>10}  profile")
    print(f"{'(start time)':<21} {'(s)':>8} {'':>6} {'':>5} {'':>8} {'(s)':>10}")
    for r in rows:
        print(_row_text(r))
    return 0


def report_session(source: str, out_dir: Optional[str], stream=None) -> int:
    """`facecoach report SESSION`: the report of a recorded session (1 when it is partial: it says what is missing)."""
    from ..session_page import write_session_report
    from ..session_report import format_summary
    from ..session_summary import plain_text

    stream = stream or sys.stdout
    s = write_session_report(source, out_dir)
    out = Path(out_dir) if out_dir else Path(source)
    print(" ".join(plain_text(s)), file=stream)
    print(format_summary(dict(s, partial=False)), file=stream)  # what is missing follows, in words
    for m in s["missing"]:
        print(f"[facecoach] missing: {m}", file=stream)
    print(f"[facecoach] report: {out / 'report.html'}", file=stream)
    return EXIT_PARTIAL if s["missing"] else 0


def add_commands(subparsers) -> None:
    """Register `sessions` on the facecoach command's sub-parsers."""
    p = subparsers.add_parser(
        "sessions",
        help="list your practice sessions (date, duration, bad share, cues, longest bad stretch) or delete some",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("action", nargs="?", choices=["list", "delete"], default="list", help="list (default) or delete")
    p.add_argument("names", nargs="*", metavar="SESSION", help="delete: the sessions to remove (names or paths)")
    p.add_argument("--dir", help="the sessions directory (default: $FACECOACH_HOME/sessions or ~/.facecoach/sessions)")
    p.add_argument("--profile", help="list only the sessions of this profile (a name or a profile file)")
    p.add_argument("--json", action="store_true", help="list as JSON")
    p.set_defaults(func=cmd_sessions)
