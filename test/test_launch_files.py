"""The launch files and `facecoach run` read the same graph description."""

from __future__ import annotations

import importlib.util
import sys
import types
from pathlib import Path

import pytest

from facecoach.graph import load_graph

REPO = Path(__file__).resolve().parents[1]


class _Recorder:
    """Stand-in for a launch action: records its constructor arguments."""

    def __init__(self, *args, **kwargs):
        self.args, self.kwargs = args, kwargs


def _install_stand_ins(monkeypatch) -> None:
    """Minimal `launch`/`launch_ros` modules (the real ones are not installable here)."""
    mods = {}
    for name in (
        "launch",
        "launch.actions",
        "launch.conditions",
        "launch.substitutions",
        "launch_ros",
        "launch_ros.actions",
        "launch_ros.parameter_descriptions",
    ):
        mods[name] = types.ModuleType(name)
    mods["launch"].LaunchDescription = lambda actions: list(actions)
    for n in ("DeclareLaunchArgument", "ExecuteProcess"):
        setattr(mods["launch.actions"], n, type(n, (_Recorder,), {}))
    for n in ("IfCondition", "UnlessCondition"):
        setattr(mods["launch.conditions"], n, type(n, (_Recorder,), {}))
    mods["launch.substitutions"].LaunchConfiguration = type("LaunchConfiguration", (_Recorder,), {})
    mods["launch_ros.actions"].Node = type("Node", (_Recorder,), {})
    mods["launch_ros.parameter_descriptions"].ParameterValue = type("ParameterValue", (_Recorder,), {})
    for name, mod in mods.items():
        monkeypatch.setitem(sys.modules, name, mod)
    monkeypatch.delitem(sys.modules, "facecoach.launch_description", raising=False)


def _run_launch_file(name: str):
    spec = importlib.util.spec_from_file_location(name.replace(".", "_"), REPO / "launch" / name)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.generate_launch_description()


@pytest.mark.parametrize("launch_file,mode", [("jetson.launch.py", "live"), ("replay.launch.py", "replay")])
def test_launch_file_matches_graph(monkeypatch, launch_file, mode):
    if importlib.util.find_spec("launch_ros") is None:
        _install_stand_ins(monkeypatch)
    else:  # pragma: no cover - on a ROS 2 machine the real launch_ros builds the description
        pytest.skip("real launch_ros present: covered by `ros2 launch --print`")
    actions = _run_launch_file(launch_file)
    graph = load_graph()
    nodes = [a for a in actions if type(a).__name__ == "Node"]
    single = [n for n in nodes if type(n.kwargs["condition"]).__name__ == "IfCondition"]
    groups = [n for n in nodes if n.kwargs["executable"] == "facecoach_single_process" and n not in single]
    nodes = [n for n in nodes if n not in single and n not in groups]
    # single_process:=true swaps the per-node processes for one process running the same graph mode.
    assert len(single) == 1 and type(single[0].kwargs["condition"]).__name__ == "IfCondition"
    assert single[0].kwargs["arguments"][:3] == ["--mode", mode, "--set"]
    assert {a[0] for a in single[0].kwargs["arguments"][3:]} == {f"{name}=" for name in graph.overrides}
    assert all(type(n.kwargs["condition"]).__name__ == "UnlessCondition" for n in nodes + groups)
    processes = graph.processes(graph.nodes_for(mode))
    shared = [(name, specs) for name, specs in processes if len(specs) > 1]
    assert [(g.kwargs["name"], g.kwargs["arguments"][:4]) for g in groups] == [
        (name, ["--mode", mode, "--nodes", ",".join(s.name for s in specs)]) for name, specs in shared
    ]
    assert [name for name, _ in shared] == (["camera_detector"] if mode == "live" else [])
    expected = [specs[0] for _, specs in processes if len(specs) == 1]
    assert [n.kwargs["name"] for n in nodes] == [s.name for s in expected]
    for node, spec in zip(nodes, expected):
        assert (node.kwargs["package"], node.kwargs["executable"]) == (spec.package, spec.executable)
        assert dict(node.kwargs["remappings"]) == spec.remappings
        params = node.kwargs["parameters"][0]
        assert set(params) == set(spec.parameters) | {
            o.parameter for o in graph.overrides.values() if o.node == spec.name
        }
        for key, value in spec.parameters.items():
            overridden = any(o.node == spec.name and o.parameter == key for o in graph.overrides.values())
            if overridden:  # a launch argument, typed like the YAML value
                assert type(params[key]).__name__ == "ParameterValue"
                assert params[key].kwargs["value_type"] is type(value)
            else:
                assert params[key] == value
    args = {a.args[0]: a.kwargs for a in actions if type(a).__name__ == "DeclareLaunchArgument"}
    for name in graph.overrides:
        assert args[name]["description"]
        assert args[name]["default_value"] == str(graph.default(name))
    plays = [a for a in actions if type(a).__name__ == "ExecuteProcess"]
    assert bool(plays) == (mode == "replay")
    if plays:
        assert plays[0].kwargs["cmd"][:3] == ["ros2", "bag", "play"]


def test_run_command_lines_come_from_the_graph():
    graph = load_graph()
    nodes = graph.nodes_for("replay", {"model_variant": "int8", "alsa_device": "null"})
    assert "camera" not in [n.name for n in nodes]
    clf = next(n for n in nodes if n.name == "emotion_classifier")
    assert clf.parameters["model_variant"] == "int8"
    args = clf.ros_args("/tmp/p.yaml")
    assert args[:3] == ["--ros-args", "-r", "__node:=emotion_classifier"]
    assert "face:=/facecoach/face" in args and args[-2:] == ["--params-file", "/tmp/p.yaml"]
    content = graph.params_file_content(nodes)
    assert content["alert_player"]["ros__parameters"]["alsa_device"] == "null"


def test_graph_rejects_bad_descriptions(tmp_path):
    from facecoach.graph import GraphError

    bad = tmp_path / "g.yaml"
    bad.write_text("nodes:\n  - {name: a, package: p}\n")
    with pytest.raises(GraphError, match="lacks"):
        load_graph(bad)
    bad.write_text("nodes:\n  - {name: a, package: p, executable: e, modes: [space]}\n")
    with pytest.raises(GraphError, match="unknown modes"):
        load_graph(bad)
    with pytest.raises(GraphError, match="must be one of"):
        load_graph().nodes_for("live", {"model_variant": "int3"})


def test_readme_lists_every_node_parameter():
    """The README's parameter tables name every declared parameter of every node."""
    from alert_player.config import AlertConfig
    from emotion_classifier.config import ClassifierConfig
    from face_detector.capture import CameraConfig
    from face_detector.config import DetectorNodeConfig
    from facecoach_common.settings import settings_of

    readme = (REPO / "README.md").read_text()
    configs = (CameraConfig, DetectorNodeConfig, ClassifierConfig, AlertConfig)
    missing = [s.name for c in configs for s in settings_of(c) if f"| `{s.name}` |" not in readme]
    assert missing == [], f"README.md lacks parameters {missing}"
