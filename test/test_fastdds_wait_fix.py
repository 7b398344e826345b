"""The preloaded fix for Fast DDS's hang at a node's teardown (tools/fastdds_wait_fix.c says why).

Fast DDS from PyPI waits "forever" through a deadline that overflows to before 1970; glibc refuses such a
deadline at once (EINVAL) without releasing the mutex, and the caller loops holding it, so a discovery
callback that needs the mutex never finishes and the node's teardown never ends. These check, in fresh
processes with the environment every FaceCoach process gets (env.sh): Fast DDS's own teardown step with a
discovery callback still running (fastdds_set_listener_hang.cpp) hangs without the fix and returns with it;
such a wait now releases the mutex and waits to be woken, and real deadlines still behave as glibc's; a
process that starts rclpy has the fix loaded. Without a C compiler at set-up there is no fix, and these skip
and say so.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHIM = REPO / ".venv" / "lib" / "libfastdds_wait_fix.so"

pytestmark = pytest.mark.skipif(
    not SHIM.is_file(), reason=f"{SHIM} not built (set-up found no C compiler: install gcc and run make setup)"
)

WAITS = r"""
import ctypes, errno, threading, time

libc = ctypes.CDLL(None)  # the process's own lookup order: a preloaded library first, as for libfastdds


class timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


def wait(deadline, wake_after_s=None):
    cond, mutex = ctypes.create_string_buffer(64), ctypes.create_string_buffer(64)  # zeroed: the default ones
    libc.pthread_mutex_lock(mutex)
    if wake_after_s is not None:
        def wake():
            time.sleep(wake_after_s)
            libc.pthread_mutex_lock(mutex)  # only once the waiter has released it
            libc.pthread_cond_signal(cond)
            libc.pthread_mutex_unlock(mutex)
        threading.Thread(target=wake, daemon=True).start()
    start = time.monotonic()
    rc = libc.pthread_cond_timedwait(cond, mutex, ctypes.byref(deadline))
    libc.pthread_mutex_unlock(mutex)
    return rc, time.monotonic() - start


def timedlock(deadline, held_for_s):
    mutex, taken = ctypes.create_string_buffer(64), threading.Event()
    def hold():
        libc.pthread_mutex_lock(mutex)
        taken.set()
        time.sleep(held_for_s)
        libc.pthread_mutex_unlock(mutex)
    threading.Thread(target=hold, daemon=True).start()
    taken.wait()
    start = time.monotonic()
    rc = libc.pthread_mutex_timedlock(mutex, ctypes.byref(deadline))
    return rc, time.monotonic() - start


def semwait(deadline, post_after_s):
    sem = ctypes.create_string_buffer(64)
    libc.sem_init(sem, 0, 0)
    threading.Timer(post_after_s, lambda: libc.sem_post(sem)).start()
    start = time.monotonic()
    rc = libc.sem_timedwait(sem, ctypes.byref(deadline))
    return rc, time.monotonic() - start


now = time.time()
# steady_clock::time_point::max() converted through the system clock: the sum wraps below zero
OVERFLOWED = timespec(-7378697629, -483736320)
locked = timedlock(OVERFLOWED, held_for_s=0.3)
posted = semwait(OVERFLOWED, post_after_s=0.3)
print(locked[0], round(locked[1], 2), posted[0], round(posted[1], 2))
overflowed = wait(OVERFLOWED, wake_after_s=0.3)
past = wait(timespec(int(now) - 5, 0))
soon = wait(timespec(int(now) + 1, 0))
print(overflowed[0], round(overflowed[1], 2), past[0] == errno.ETIMEDOUT, past[1] < 0.1, soon[0] == errno.ETIMEDOUT)
"""


def test_fast_dds_teardown_with_a_discovery_callback_running_returns_only_with_the_fix(tmp_path):
    cxx = shutil.which("c++") or shutil.which("g++")
    if cxx is None:
        pytest.skip("no C++ compiler (c++/g++) to build the Fast DDS check")
    venv = REPO / ".venv"
    wheel_libs = Path(sysconfig.get_paths()["purelib"]) / "ros_fastdds.libs"
    exe = tmp_path / "set_listener_hang"
    subprocess.run(
        [
            cxx,
            "-std=c++17",
            "-O1",
            f"-I{venv / 'include'}",
            "-o",
            str(exe),
            str(Path(__file__).parent / "fastdds_set_listener_hang.cpp"),
            f"-L{venv / 'lib'}",
            "-lfastdds",
            "-lfastcdr",
            f"-Wl,--disable-new-dtags,-rpath,{venv / 'lib'}:{wheel_libs}",
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    domain = os.environ["ROS_DOMAIN_ID"]
    env = _env()
    bare = {k: v for k, v in env.items() if k != "LD_PRELOAD"}
    with pytest.raises(subprocess.TimeoutExpired):  # the callback sleeps 1 s; without the fix the wait never ends
        subprocess.run([str(exe), domain], env=bare, capture_output=True, text=True, timeout=5)
    fixed = subprocess.run([str(exe), domain], env=env, capture_output=True, text=True, timeout=30)
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    took = float(fixed.stdout.split("returned after ")[1].split()[0])
    assert 0.5 <= took < 5, fixed.stdout


def _env() -> dict:
    """This process's environment, which env.sh made: the fix must be in its LD_PRELOAD."""
    env = dict(os.environ)
    assert str(SHIM) in env.get("LD_PRELOAD", ""), "env.sh does not preload the fix (run make setup)"
    return env


def _run(code: str) -> str:
    return subprocess.run(
        [sys.executable, "-c", code], env=_env(), capture_output=True, text=True, timeout=60, check=True
    ).stdout


def test_a_wait_whose_deadline_overflowed_releases_the_mutex_and_waits_to_be_woken():
    first, second = _run(WAITS).splitlines()
    # glibc alone: EINVAL (22) / -1 at once, "wait forever" turned into "try once"
    lock_rc, lock_waited, sem_rc, sem_waited = first.split()
    assert (lock_rc, sem_rc) == ("0", "0") and float(lock_waited) >= 0.25 and float(sem_waited) >= 0.25
    rc, waited, past_timed_out, past_at_once, future_timed_out = second.split()
    # glibc alone: rc 22 (EINVAL) after 0.0 s, the mutex never released, so the waker could not take it
    assert (rc, past_timed_out, past_at_once, future_timed_out) == ("0", "True", "True", "True")
    assert float(waited) >= 0.25


def test_a_process_that_imports_rclpy_has_the_fix_loaded():
    maps = _run("import rclpy; rclpy.init(); print(open('/proc/self/maps').read()); rclpy.shutdown()")
    assert "libfastdds" in maps and str(SHIM) in maps
