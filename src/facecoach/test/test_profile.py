"""One profile per person (facecoach.profile): reading, checking and updating, without ROS."""

import os
from pathlib import Path

import pytest
import yaml

from facecoach.graph import load_graph
from facecoach.profile import ProfileError, load_profile, profile_path, update_profile


@pytest.fixture(scope="module")
def graph():
    # The source tree's description (also on the device profile, where no ament index finds the installed one).
    return load_graph(Path(__file__).resolve().parents[1] / "config" / "facecoach.yaml")


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("FACECOACH_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def _write(path, text: str):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_a_name_is_a_file_in_the_facecoach_home_and_a_path_is_itself(home, tmp_path, monkeypatch):
    assert profile_path("alice") == home / "profiles" / "alice.yaml"
    assert profile_path(str(tmp_path / "bob.yaml")) == tmp_path / "bob.yaml"
    assert profile_path("carol.yaml").name == "carol.yaml" and profile_path("./x").name == "x"
    monkeypatch.delenv("FACECOACH_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert profile_path("alice") == tmp_path / ".facecoach" / "profiles" / "alice.yaml"
    for bad in ("", " ", "-x", "a b", "ü"):
        with pytest.raises(ProfileError):
            profile_path(bad)


def test_every_parameters_file_form_gives_the_same_profile(home, graph):
    per_node = """
alert_player:
  ros__parameters:
    mapping.surprise: bad
    bad_threshold: 1
    cue_wav: /voices/alice.wav
/emotion_classifier:
  ros__parameters:
    calibration_file: /cal/alice.json
"""
    nested_and_all = """
/**:
  ros__parameters:
    mapping:
      surprise: bad
    bad_threshold: 1.0
    calibration_file: /cal/alice.json
/**/alert_player:
  ros__parameters:
    cue_wav: /voices/alice.wav
"""
    want = {
        "alert_player": {"mapping.surprise": "bad", "bad_threshold": 1.0, "cue_wav": "/voices/alice.wav"},
        "emotion_classifier": {"calibration_file": "/cal/alice.json"},
    }
    assert load_profile(str(_write(home / "a.yaml", per_node)), graph) == want
    assert load_profile(str(_write(home / "b.yaml", nested_and_all)), graph) == want
    assert type(want["alert_player"]["bad_threshold"]) is float  # an int where a float goes is taken as one
    assert load_profile("", graph) == {}
    assert load_profile(str(_write(home / "empty.yaml", "# nothing yet\n")), graph) == {}


@pytest.mark.parametrize(
    "text, says",
    [
        ("alert_player: [1, 2\n", "not valid YAML at line 2, column 1"),
        ("- alert_player\n", "not a parameters file"),
        ("camera:\n  ros__parameters:\n    fps: 10.0\n", "'camera' is no node a profile sets"),
        ("alert_player:\n  mapping.sad: good\n", "expected exactly `ros__parameters:`"),
        (
            "emotion_classifier:\n  ros__parameters:\n    model_variant: int8\n",
            "'model_variant' is not a profile setting of emotion_classifier",
        ),
        ("/**:\n  ros__parameters:\n    fps: 10.0\n", "'fps' is not a profile setting of alert_player or"),
        ("alert_player:\n  ros__parameters:\n    bad_threshold: high\n", "'high' is a str, must be a float"),
        ("alert_player:\n  ros__parameters:\n    cue_wav: 5\n", "cue_wav: 5 is a int, must be a str"),
        ("alert_player:\n  ros__parameters:\n    mapping.sad: terrible\n", "must be one of ['good', 'acceptable'"),
        ("alert_player:\n  ros__parameters:\n    bad_threshold: 7.0\n", "bad_threshold=7.0: must be <= 1"),
        ("alert_player:\n  ros__parameters:\n    release_threshold: 0.9\n", "alert_player: release_threshold"),
    ],
)
def test_a_bad_profile_is_one_line_naming_the_file_and_the_problem(home, graph, text, says):
    path = _write(home / "bad.yaml", text)
    with pytest.raises(ProfileError) as err:
        load_profile(str(path), graph)
    assert says in str(err.value) and str(path) in str(err.value) and "\n" not in str(err.value), str(err.value)


def test_a_missing_profile_says_how_to_make_one(home, graph):
    with pytest.raises(ProfileError, match=r"no profile .*alice.yaml \(make one with `facecoach record-voice OUT.wav"):
        load_profile("alice", graph)


def test_the_graph_takes_the_profile_after_its_defaults_and_before_the_options(graph):
    profile = {"alert_player": {"cue_wav": "/voices/alice.wav", "mapping.sad": "good"}}
    nodes = {n.name: n for n in graph.nodes_for("replay", {"alsa_device": "null"}, profile)}
    assert nodes["alert_player"].parameters["mapping.sad"] == "good"
    assert nodes["alert_player"].parameters["cue_wav"] == "/voices/alice.wav"
    assert nodes["alert_player"].parameters["alsa_device"] == "null"
    explicit = {n.name: n for n in graph.nodes_for("replay", {"cue_wav": "/tmp/x.wav"}, profile)}
    assert explicit["alert_player"].parameters["cue_wav"] == "/tmp/x.wav"  # an explicit option wins
    assert "mapping.sad" not in {n.name: n for n in graph.nodes_for("replay")}["alert_player"].parameters


def test_an_update_creates_the_profile_then_keeps_its_other_settings(home, graph):
    path = update_profile("alice", graph, "alert_player", {"cue_wav": "/voices/alice.wav"})
    assert path == home / "profiles" / "alice.yaml" and path.read_text().startswith("# FaceCoach profile")
    update_profile("alice", graph, "emotion_classifier", {"calibration_file": "/cal/alice.json"})
    update_profile("alice", graph, "alert_player", {"cue_wav": "/voices/alice2.wav", "mapping.sad": "good"})
    assert load_profile("alice", graph) == {
        "alert_player": {"cue_wav": "/voices/alice2.wav", "mapping.sad": "good"},
        "emotion_classifier": {"calibration_file": "/cal/alice.json"},
    }
    assert os.listdir(path.parent) == ["alice.yaml"]  # no temporary file left beside it


def test_an_update_changes_a_setting_where_the_file_has_it(home, graph):
    path = _write(
        home / "p.yaml",
        "/**:\n  ros__parameters:\n    mapping: {surprise: bad}\n    calibration_file: /old.json\n"
        "alert_player:\n  ros__parameters:\n    volume: 0.5\n",
    )
    update_profile(str(path), graph, "emotion_classifier", {"calibration_file": "/new.json"})
    update_profile(str(path), graph, "alert_player", {"mapping.surprise": "good", "cue_wav": "/me.wav"})
    raw = yaml.safe_load(path.read_text())
    assert raw["/**"]["ros__parameters"] == {"mapping": {"surprise": "good"}, "calibration_file": "/new.json"}
    assert raw["alert_player"]["ros__parameters"] == {"volume": 0.5, "cue_wav": "/me.wav"}


def test_an_update_of_a_bad_profile_or_with_a_bad_value_writes_nothing(home, graph):
    bad = _write(home / "bad.yaml", "alert_player:\n  ros__parameters:\n    model: x\n")
    before = bad.read_bytes()
    with pytest.raises(ProfileError, match="'model' is not a profile setting"):
        update_profile(str(bad), graph, "alert_player", {"cue_wav": "/me.wav"})
    assert bad.read_bytes() == before
    good = update_profile("bob", graph, "alert_player", {"cue_wav": "/bob.wav"})
    before = good.read_bytes()
    with pytest.raises(ProfileError, match="must be a str"):
        update_profile("bob", graph, "alert_player", {"cue_wav": 3})
    assert good.read_bytes() == before and os.listdir(good.parent) == ["bob.yaml"]
