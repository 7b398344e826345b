"""`--profile` of run, demo, calibrate and record-voice: a bad profile is one line and exit 2, nothing written."""

from pathlib import Path

import pytest
import yaml

from facecoach_cli import launcher
from facecoach_cli.cli import main

SAMPLE = str(Path(__file__).resolve().parents[3] / "sample" / "interview")


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("FACECOACH_HOME", str(tmp_path / "home"))

    def started(self):
        raise AssertionError("the graph was started")

    monkeypatch.setattr(launcher.GraphProcesses, "start", started)
    return tmp_path / "home"


def _bad(tmp_path) -> Path:
    path = tmp_path / "bad.yaml"
    path.write_text("alert_player:\n  ros__parameters:\n    model_variant: int8\n")
    return path


@pytest.mark.parametrize("command", ["run", "demo"])
def test_run_and_demo_refuse_a_bad_or_missing_profile_before_anything_starts(capsys, tmp_path, command):
    assert main([command, "--bag", SAMPLE, "--profile", "nobody"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"facecoach {command}: no profile "), err
    assert "home/profiles/nobody.yaml" in err
    assert main([command, "--bag", SAMPLE, "--profile", str(_bad(tmp_path))]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'model_variant' is not a profile setting of alert_player" in err, err


def test_record_voice_writes_the_recording_into_the_profile(capsys, tmp_path, home):
    wav = tmp_path / "alice.wav"
    args = ["record-voice", str(wav), "--device", "null", "--seconds", "0.5", "--no-playback", "--profile"]
    assert main(args + ["alice"]) == 0, capsys.readouterr().err
    profile = home / "profiles" / "alice.yaml"
    assert yaml.safe_load(profile.read_text()) == {"alert_player": {"ros__parameters": {"cue_wav": str(wav)}}}
    assert f"profile {profile}: alert_player cue_wav = {wav}" in capsys.readouterr().out


def test_record_voice_and_calibrate_refuse_a_bad_profile_and_write_nothing(capsys, tmp_path):
    bad = _bad(tmp_path)
    before = bad.read_bytes()
    wav = tmp_path / "x.wav"
    args = ["record-voice", str(wav), "--device", "null", "--seconds", "0.5", "--no-playback", "--profile", str(bad)]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("facecoach record-voice: profile ") and "model_variant" in err
    assert not wav.exists() and bad.read_bytes() == before
    # calibrate checks the profile before it looks for the classifier (no node runs here)
    assert main(["calibrate", "--profile", str(bad), "--wait", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("facecoach calibrate: profile ") and "model_variant" in err
    assert bad.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["bad.yaml"]
