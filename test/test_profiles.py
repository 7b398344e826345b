"""One profile per person, through the real process boundary: two people, two mappings and cue WAVs.

The profiles are written as `facecoach record-voice --profile` writes them (facecoach.profile.update_profile),
then the graph is started as a user starts it, by `ros2 launch ... profile:=NAME` and by `facecoach run
--profile NAME`, and the running alert node's parameters are read back through its parameter service.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import wave
from pathlib import Path

import pytest

from facecoach.graph import load_graph
from facecoach.profile import update_profile
from facecoach_cli.ros_calls import get_parameters

sys.path.insert(0, str(Path(__file__).parent))  # pytest runs with --import-mode=importlib: test/ is not on the path
from ros2_cli import REPO, Launch, ctrl_c_and_check, flavour_params, short_bag  # noqa: E402

FLAVOURS = flavour_params()
PEOPLE = {
    "alice": {"mapping.surprise": "bad", "mapping.sad": "bad", "bad_threshold": 0.5},
    "bob": {"mapping.surprise": "good", "mapping.sad": "acceptable", "bad_threshold": 0.8},
}
NAMES = ["mapping.surprise", "mapping.sad", "bad_threshold", "cue_wav"]


def _profiles(home: Path, monkeypatch) -> dict:
    """alice's and bob's profiles in ``home`` (each with their own recorded cue): what each should run with."""
    monkeypatch.setenv("FACECOACH_HOME", str(home))
    graph, want = load_graph(), {}
    for person, settings in PEOPLE.items():
        cue = home / f"{person}.wav"
        cue.parent.mkdir(parents=True, exist_ok=True)
        with wave.open(str(cue), "wb") as w:  # a short silent WAV: a usable cue file
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(16000)
            w.writeframes(b"\0\0" * 1600)
        update_profile(person, graph, "alert_player", dict(settings, cue_wav=str(cue)))
        want[person] = dict(settings, cue_wav=str(cue))
    return want


def _session_profiles(home) -> list:
    """The profile each recorded session of this FaceCoach home ran with, oldest first."""
    from facecoach_bag.session_files import read_session_file

    return [read_session_file(p)["profile"] for p in sorted((home / "sessions").iterdir())]


@pytest.mark.parametrize("single", ["false", "true"], ids=["separate", "single_process"])
@pytest.mark.parametrize("flavour", FLAVOURS)
def test_two_profiles_give_the_running_alert_node_two_mappings_and_cue_wavs(
    flavour, single, ros_node, tmp_path, monkeypatch
):
    """profile:=alice, then profile:=bob with an explicit cue_wav:=, which wins over bob's."""
    home = tmp_path / "home"
    want = _profiles(home, monkeypatch)
    want["bob"]["cue_wav"] = str(tmp_path / "explicit.wav")
    for person, extra in (("alice", []), ("bob", [f"cue_wav:={tmp_path / 'explicit.wav'}"])):
        args = ["facecoach", "jetson.launch.py", "image_topic:=/no_camera/image_raw", "alsa_device:=null"]
        args += [f"profile:={person}", f"single_process:={single}", *extra]
        with Launch(flavour, *args, env={"FACECOACH_HOME": str(home)}) as launch:
            assert launch.wait_for(r"\[alert_player\]: ready", 90), launch.output[-3000:]
            # Every process up before the Ctrl-C below: one still building its nodes (five processes on two
            # cores) may take the KeyboardInterrupt inside a finalizer, a traceback ctrl_c_and_check refuses.
            assert launch.wait_for(r"\[emotion_classifier\]: loaded ", 90), launch.output[-3000:]
            assert launch.wait_for(r"in one process \(pid \d+\)", 90), launch.output[-3000:]
            got = get_parameters(ros_node, "/alert_player", NAMES, timeout=30)
            assert got == want[person], launch.output[-3000:]
            ctrl_c_and_check(launch, processes=1 if single == "true" else 4)  # + the session recorder
    assert _session_profiles(home) == ["alice", "bob"]  # each launch's session is kept under its person


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_a_bad_profile_ends_the_launch_before_any_process_starts(flavour, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("alert_player:\n  ros__parameters:\n    mapping.sad: terrible\n")
    with Launch(flavour, "facecoach", "jetson.launch.py", f"profile:={bad}") as launch:
        code = launch.wait(60)
    out = launch.output
    said = [line for line in out.splitlines() if str(bad) in line]
    assert len(said) == 1 and "mapping.sad='terrible': must be one of ['good', 'acceptable', 'bad']" in said[0], out
    assert code != 0 and "process started" not in out, out


def test_facecoach_run_takes_the_profile_of_each_person(ros_node, tmp_path, monkeypatch):
    """`facecoach run --bag B --profile NAME`: the supervised processes get that person's settings."""
    home = tmp_path / "home"
    want = _profiles(home, monkeypatch)
    bag = short_bag(tmp_path / "short", 30)
    env = dict(os.environ, FACECOACH_HOME=str(home))
    for person in PEOPLE:
        cmd = [str(REPO / "bin" / "facecoach"), "run", "--bag", str(bag), "--loop", "--alsa-device", "null"]
        cmd += ["--profile", person, "--log-dir", str(tmp_path / f"log-{person}")]
        proc = subprocess.Popen(
            cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
        )
        try:
            got = get_parameters(ros_node, "/alert_player", NAMES, timeout=90)
            assert got == want[person]
            # The recorder answers once its session folder is made: a Ctrl-C before that records no session.
            assert get_parameters(ros_node, "/session_recorder", ["profile"], timeout=90) == {"profile": person}
        finally:
            os.killpg(proc.pid, signal.SIGINT)
            out = proc.communicate(timeout=60)[0]
        assert proc.returncode == 0 and "Traceback" not in out, out[-3000:]
    assert _session_profiles(home) == list(PEOPLE)
