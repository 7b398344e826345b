"""Stop real node processes at random moments, as `ros2 launch` stops them, many times; report every unclean stop.

Issue 23's hangs at Ctrl-C were too rare to catch in launch tests. This starts the built node processes
(``install/``, after ``make setup``) with SIGINT held as ``facecoach.launch_actions.HeldNode`` starts them,
waits a random moment (their start-up, the classifier importing torch, steady state), then stops them as a
terminal's Ctrl-C and launch do: a SIGINT to all at once, then launch's own SIGINT to each. A process that has
not ended ``--hang-s`` seconds later is a hang: its native stacks (gdb) and Python stacks (SIGUSR1,
faulthandler) are written to ``--out`` before it is killed. An exit code other than 0, or a traceback in a
process's output, is a bad stop (its output is written there too). ``--kill-first N`` first SIGKILLs N whole
graphs at random moments (stale shared memory and vanished peers, what the respawn tests leave behind).

    source env.sh && python tools/stop_stress.py --cycles 200 --seed 1
"""

import argparse
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BAD_OUTPUT = ("Traceback", "Exception ignored", "Fatal Python error")


def native_stacks(pid: int) -> str:
    """The backtrace (gdb) of every thread of ``pid``, with symbols of the ROS 2, DDS and C libraries only (1-2 s).

    All symbols would take 9 s in a process that loaded torch: longer than launch waits before its SIGKILL.
    """
    gdb = shutil.which("gdb")
    if gdb is None:
        return f"pid {pid}: no native stacks (no gdb on PATH)"
    libs = ("fastdds", "fastcdr", "rmw", "librcl", "rclpy", "libc\\.so", "libstdc")
    cmd = [gdb, "-p", str(pid), "-batch", "-iex", "set auto-solib-add off"]
    cmd += [arg for lib in libs for arg in ("-ex", f"sharedlibrary {lib}")] + ["-ex", "thread apply all bt"]
    try:
        out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=30)
    except subprocess.TimeoutExpired:
        return f"pid {pid}: gdb did not finish within 30 s"
    return f"native stacks of pid {pid} (gdb):\n{out.stdout}"


def commands(classifiers: int, alert_players: int) -> list:
    """The node processes of one cycle, each in its own name."""
    lib = REPO / "install" / "{0}" / "lib" / "{0}" / "{0}"
    out = []
    for k in range(classifiers):
        out.append([str(lib).format("emotion_classifier"), "--ros-args", "-r", f"__node:=stress_classifier{k}"])
    for k in range(alert_players):
        exe = str(lib).format("alert_player")
        out.append([exe, "--ros-args", "-p", "alsa_device:=null", "-r", f"__node:=stress_alert{k}"])
    return out


def start(cmd: list, hold: bool, **kw) -> subprocess.Popen:
    """Start ``cmd``; ``hold``: with SIGINT blocked through exec, as launch_actions.HeldNode does."""
    held = (lambda: signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})) if hold else None
    return subprocess.Popen(cmd, preexec_fn=held, **kw)


def main() -> int:
    """Run the cycles; exit 1 when any stop hung or was unclean."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cycles", type=int, default=100, help="how many start-and-stop cycles (default 100)")
    p.add_argument("--seed", type=int, default=0, help="the random moments' seed")
    p.add_argument("--classifiers", type=int, default=3, help="emotion_classifier processes per cycle (default 3)")
    p.add_argument("--alert-players", type=int, default=1, help="alert_player processes per cycle (default 1)")
    p.add_argument("--first-s", type=float, default=0.2, help="earliest stop after the start (default 0.2 s)")
    p.add_argument("--last-s", type=float, default=4.0, help="latest stop after the start (default 4 s)")
    p.add_argument("--hang-s", type=float, default=10.0, help="a process not ended this long after is a hang")
    p.add_argument("--kill-first", type=int, default=0, help="SIGKILL this many whole graphs first")
    p.add_argument("--no-hold", action="store_true", help="start them with SIGINT not held (for comparison)")
    p.add_argument("--out", default=str(REPO / "log" / "stop_stress"), help="where hangs and bad stops are written")
    args = p.parse_args()

    cmds = commands(args.classifiers, args.alert_players)
    missing = [c[0] for c in cmds if not Path(c[0]).exists()]
    if missing:
        print(f"stop_stress: {missing[0]} is not built: run make setup first", file=sys.stderr)
        return 2
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = random.Random(args.seed)
    for _ in range(args.kill_first):
        procs = [start(c, not args.no_hold, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for c in cmds]
        time.sleep(rng.uniform(0.5, 3.0))
        for proc in procs:
            proc.kill()
        for proc in procs:
            proc.wait()
    hangs = bad = 0
    for i in range(args.cycles):
        procs = [start(c, not args.no_hold, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for c in cmds]
        after = rng.uniform(args.first_s, args.last_s)
        time.sleep(after)
        for proc in procs:  # the terminal's Ctrl-C reaches the whole group at once
            proc.send_signal(signal.SIGINT)
        time.sleep(rng.uniform(0.0, 0.05))
        for proc in procs:  # then launch's own SIGINT to each process it started
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        codes = []
        for proc in procs:
            try:
                proc.wait(timeout=args.hang_s)
                codes.append(proc.returncode)
            except subprocess.TimeoutExpired:
                stacks = native_stacks(proc.pid)
                proc.send_signal(signal.SIGUSR1)  # faulthandler: the Python stacks, into its output
                time.sleep(0.5)
                proc.kill()
                proc.wait()
                (out_dir / f"hang_{args.seed}_{i}_{proc.pid}.txt").write_text(stacks)
                codes.append("hang")
        outputs = [proc.stdout.read() for proc in procs]
        clean = all(c == 0 for c in codes) and not any(b in o for o in outputs for b in BAD_OUTPUT)
        hangs += codes.count("hang")
        if not clean:
            bad += 1
            text = "".join(f"=== {c[0]} {code}\n{o}\n" for c, code, o in zip(cmds, codes, outputs))
            (out_dir / f"bad_{args.seed}_{i}.log").write_text(text)
        print(f"{i}: stopped {after:.2f} s after the start: {codes} {'ok' if clean else 'BAD'}", flush=True)
    stops = args.cycles * len(cmds)
    print(f"{stops} stops in {args.cycles} cycles: {hangs} hung, {bad} cycles unclean (details in {out_dir})")
    return 0 if bad == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
