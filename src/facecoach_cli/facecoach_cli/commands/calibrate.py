"""`facecoach calibrate`: fit the running classifier to your own neutral face (its ~/calibrate service).

You hold a neutral face, looking at the camera, for a few seconds; the classifier records its outputs,
fits a per-class bias so that your neutral reads as neutral and your other expressions are not
suppressed, saves it and applies it at once. Exit codes: 0 calibrated; 1 the classifier could not
calibrate (too few face frames: the reason is printed); 2 no classifier answers, or a bad option.
"""

import argparse
import os
import sys
import time

EXIT_NOT_CALIBRATED = 1
COUNTDOWN_S = 3


def _progress(seconds: float, stream):
    """A one-line progress bar of the hold (elapsed of ``seconds``), redrawn in place."""
    width = 30

    def show(elapsed: float) -> None:
        done = min(1.0, elapsed / seconds) if seconds > 0 else 1.0
        bar = "#" * int(done * width)
        stream.write(f"\r  holding [{bar:<{width}}] {min(elapsed, seconds):4.1f} / {seconds:.1f} s")
        stream.flush()

    return show


def calibrate(node, target: str, seconds, file, wait: float, countdown: bool, stream=None, force=False) -> int:
    """Calibrate the classifier ``target`` from ``node``; print the outcome and return the exit code.

    ``force``: accept a hold that does not look like a resting face (the node's calibrate_check is off
    for this one calibration).
    """
    from std_srvs.srv import Trigger

    from emotion_classifier import calibration, calibration_file

    from ..errors import CommandError
    from ..ros_calls import get_parameter, set_parameter, trigger, wait_for_service

    stream = stream or sys.stdout
    service = f"{target}/calibrate"
    wait_for_service(node, Trigger, service, wait)
    if seconds is not None:
        ok, why = set_parameter(node, target, "calibrate_seconds", float(seconds), timeout=wait + 10)
        if not ok:
            raise CommandError(f"--seconds {seconds}: refused by {target}: {why}")
    else:
        seconds = get_parameter(node, target, "calibrate_seconds", timeout=wait + 10) or 5.0
    print(f"Hold a neutral face, looking at the camera, for {seconds:g} s.", file=stream)
    if countdown:
        for n in range(COUNTDOWN_S, 0, -1):
            print(f"  starting in {n} ...", file=stream, flush=True)
            time.sleep(1.0)  # the user's countdown, in this short-lived command: no executor to block
    if force:
        ok, why = set_parameter(node, target, "calibrate_check", False, timeout=wait + 10)
        if not ok:
            raise CommandError(f"--force: refused by {target}: {why}")
    try:
        ok, message = trigger(node, service, timeout=seconds + 30.0, wait=wait, on_spin=_progress(seconds, stream))
    finally:
        if force:
            set_parameter(node, target, "calibrate_check", True, timeout=wait + 10)
    print(file=stream)
    if not ok:
        print(f"facecoach calibrate: not calibrated: {message}", file=sys.stderr)
        return EXIT_NOT_CALIBRATED
    print(f"calibrated: {message}", file=stream)
    if file:
        written = get_parameter(node, target, "calibration_file", timeout=wait + 10)
        if written != str(file):
            try:  # the node wrote where its calibration_file said; copied to --file and applied from there
                calibration_file.save(calibration_file.load(written), str(file))
            except calibration.CalibrationError as exc:
                raise CommandError(f"--file {file}: {exc}") from exc
            ok, why = set_parameter(node, target, "calibration_file", str(file), timeout=wait + 10)
            if not ok:
                raise CommandError(f"--file {file}: refused by {target}: {why}")
            print(f"copied to {file}; {target} calibration_file = {file}", file=stream)
    return 0


def cmd_calibrate(args: argparse.Namespace) -> int:
    """Ask the user for a neutral hold and calibrate the running classifier to it."""
    from ..errors import CommandError
    from ..ros_calls import command_node

    if args.seconds is not None and not 1.0 <= args.seconds <= 30.0:
        raise CommandError(f"--seconds {args.seconds:g}: must be within 1..30")
    if args.wait <= 0:
        raise CommandError(f"--wait {args.wait:g}: must be > 0")
    file, graph = args.file, None
    if args.profile:  # checked before the hold: a bad profile is one line, exit 2, nothing calibrated or written
        from .profiles import checked

        graph, path = checked(args.profile)
        file = file or str(path.with_name(path.stem + ".calibration.json"))  # one calibration per person
    file = os.path.abspath(os.path.expanduser(file)) if file else file
    with command_node("facecoach_calibrate") as node:
        code = calibrate(node, args.node, args.seconds, file, args.wait, not args.no_countdown, force=args.force)
    if code == 0 and graph is not None:
        from .profiles import save

        save(args.profile, graph, "calibration_file", file)
    return code


def add_commands(subparsers) -> None:
    """Register `calibrate` on the facecoach command's sub-parsers."""
    p = subparsers.add_parser(
        "calibrate",
        help="fit the running classifier to your own neutral face",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--seconds", type=float, help="hold length, 1..30: sets the node's calibrate_seconds (default: its value)"
    )
    p.add_argument(
        "--file",
        help="keep the calibration in this file and make it the node's calibration_file "
        "(default: the node's calibration_file, or ~/.facecoach/calibration.json when that is '')",
    )
    p.add_argument(
        "--profile",
        help="save the calibration into this person's profile (its calibration_file; the file is --file, else "
        "<profile>.calibration.json beside the profile): a name ($FACECOACH_HOME/profiles/NAME.yaml) or a file",
    )
    p.add_argument("--node", default="/emotion_classifier", help="the classifier (default: /emotion_classifier)")
    p.add_argument("--wait", type=float, default=10.0, help="seconds to wait for the classifier's service")
    p.add_argument("--no-countdown", action="store_true", help="start the hold at once (no 3-2-1)")
    p.add_argument(
        "--force", action="store_true", help="accept a hold that does not look like a resting face (not advised)"
    )
    p.set_defaults(func=cmd_calibrate)
