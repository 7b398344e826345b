"""The graph description (config/facecoach.yaml): one source for the launch files and `facecoach run`.

Plain Python (no rclpy, no launch): loads the YAML, picks the nodes of a mode, applies overrides, and passes a
resolved node spec on to the process that runs it (``spec_dict`` / ``spec_from_dict``, the --spec file of
facecoach_single_process).
"""

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import yaml

MODES = ("live", "replay")
GRAPH_FILE = "facecoach.yaml"
GRAPH_ENV = "FACECOACH_GRAPH"
PROCESS_NAME = "single_process"  # the process that runs every node of the graph (--single-process)
RECORDER = ("facecoach_bag", "session_recorder")  # the session recorder's package and executable


class GraphError(ValueError):
    """The graph description is invalid."""


class LaunchError(RuntimeError):
    """A process of the graph cannot be started (a missing executable, a node this host does not know)."""


@dataclass(frozen=True)
class NodeSpec:
    """One node of the graph."""

    name: str
    package: str
    executable: str
    modes: Tuple[str, ...]
    parameters: Dict[str, Any] = field(default_factory=dict)
    remappings: Dict[str, str] = field(default_factory=dict)
    process: str = ""  # nodes naming the same process run in one (see Graph.processes); '' = its own
    unless: str = ""  # an override that, given a value, leaves this node out (the camera: image_topic)
    enabled_by: str = ""  # an override that, given false, leaves this node out (the recorder: record_session)

    def ros_args(self, params_file: Optional[str] = None) -> List[str]:
        """The ``--ros-args`` part of this node's command line."""
        args = ["--ros-args", "-r", f"__node:={self.name}"]
        for src, dst in self.remappings.items():
            args += ["-r", f"{src}:={dst}"]
        if params_file:
            args += ["--params-file", params_file]
        return args


@dataclass(frozen=True)
class Override:
    """A launch argument / run option that sets one node parameter."""

    name: str
    node: str
    parameter: str
    description: str
    choices: Tuple[str, ...] = ()


@dataclass(frozen=True)
class ProfileSpec:
    """What a person's profile may set on one node: these parameters, typed by ``config`` ("module:Class")."""

    node: str
    config: str
    parameters: Tuple[str, ...]


@dataclass(frozen=True)
class Graph:
    """The whole description."""

    nodes: Tuple[NodeSpec, ...]
    overrides: Dict[str, Override]
    record_topics: Tuple[str, ...]
    profile: Dict[str, ProfileSpec] = field(default_factory=dict)  # node name -> what a profile may set there

    def nodes_for(
        self, mode: str, values: Optional[Dict[str, Any]] = None, profile: Optional[Dict[str, Dict[str, Any]]] = None
    ) -> List[NodeSpec]:
        """The nodes of a mode: the YAML's parameters, then a profile's, then override values, which win.

        ``profile``: ``{node: {parameter: value}}``, checked by facecoach.profile; ``values``: ``{override: value}``.
        """
        if mode not in MODES:
            raise GraphError(f"unknown mode {mode!r}; use one of {MODES}")
        values = {k: v for k, v in (values or {}).items() if v is not None}
        unknown = set(values) - set(self.overrides)
        if unknown:
            raise GraphError(f"unknown overrides {sorted(unknown)}; known: {sorted(self.overrides)}")
        out = []
        for spec in self.nodes:
            if mode not in spec.modes or (spec.unless and str(values.get(spec.unless, "") or "")):
                continue
            if spec.enabled_by and str(values.get(spec.enabled_by, "true")).lower() == "false":
                continue
            params = dict(spec.parameters)
            params.update((profile or {}).get(spec.name, {}))
            for name, value in values.items():
                o = self.overrides[name]
                text = str(value).lower() if isinstance(value, bool) else str(value)
                if o.choices and text not in o.choices:
                    raise GraphError(f"{name}={value!r}: must be one of {list(o.choices)}")
                if o.node == spec.name:
                    params[o.parameter] = _typed(value, spec.parameters.get(o.parameter))
            out.append(
                NodeSpec(
                    spec.name,
                    spec.package,
                    spec.executable,
                    spec.modes,
                    params,
                    dict(spec.remappings),
                    spec.process,
                    spec.unless,
                    spec.enabled_by,
                )
            )
        return out

    @staticmethod
    def processes(nodes: List[NodeSpec]) -> List[Tuple[str, List[NodeSpec]]]:
        """The processes that run these nodes, in order: (process name, its nodes).

        A node with a ``process`` shares it with the other nodes naming it (e.g. the camera and the face
        detector: full frames then never leave the process); a node alone in its process (no ``process``, or
        the only one of its group in this mode) runs as its own executable, named after itself.
        """
        groups: Dict[str, List[NodeSpec]] = {}
        for spec in nodes:
            groups.setdefault(spec.process or spec.name, []).append(spec)
        return [(name if len(specs) > 1 else specs[0].name, specs) for name, specs in groups.items()]

    def default(self, override: str) -> Any:
        """The YAML's value of the parameter an override sets."""
        o = self.overrides[override]
        spec = next(n for n in self.nodes if n.name == o.node)
        return spec.parameters.get(o.parameter, "")

    def params_file_content(self, nodes: List[NodeSpec]) -> Dict[str, Any]:
        """A ROS 2 parameters file (``node: {ros__parameters: {...}}``) for these nodes."""
        return {n.name: {"ros__parameters": dict(n.parameters)} for n in nodes if n.parameters}


def _typed(value: Any, default: Any) -> Any:
    """An override's value (a string from a command line) as the type of the YAML's value where that is a bool."""
    if isinstance(default, bool) and isinstance(value, str):
        if value.lower() not in ("true", "false"):
            raise GraphError(f"{value!r}: must be true or false")
        return value.lower() == "true"
    return value


def spec_dict(spec: NodeSpec) -> dict:
    """A node spec as JSON data (what a single_process child reads with --spec)."""
    return {
        "name": spec.name,
        "package": spec.package,
        "executable": spec.executable,
        "modes": list(spec.modes),
        "parameters": spec.parameters,
        "remappings": spec.remappings,
        "process": spec.process,
        "unless": spec.unless,
        "enabled_by": spec.enabled_by,
    }


def spec_from_dict(d: dict) -> NodeSpec:
    """The inverse of :func:`spec_dict`."""
    return NodeSpec(
        d["name"],
        d["package"],
        d["executable"],
        tuple(d["modes"]),
        dict(d["parameters"]),
        dict(d["remappings"]),
        d.get("process", ""),
        d.get("unless", ""),
        d.get("enabled_by", ""),
    )


def default_graph_path() -> Path:
    """The graph description: $FACECOACH_GRAPH, else the installed share/facecoach/config/facecoach.yaml."""
    from facecoach_common.paths import ResourceNotFound, resource

    env = os.environ.get(GRAPH_ENV)
    if env:
        return Path(env)
    try:
        return resource("facecoach", "config", GRAPH_FILE)
    except ResourceNotFound as exc:
        raise GraphError(f"{exc}; or name a graph description with ${GRAPH_ENV}") from None


def _one_line(exc: yaml.YAMLError) -> str:
    """A YAML error as one line: the problem and where it is."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    return f"line {mark.line + 1}, column {mark.column + 1}: {problem}" if mark else problem


def load_graph(path=None) -> Graph:
    """Parse and check the graph description."""
    path = Path(path or default_graph_path())
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise GraphError(f"{path}: cannot read the graph description ({exc})") from exc
    except yaml.YAMLError as exc:
        raise GraphError(f"{path}: not valid YAML ({_one_line(exc)})") from exc
    if not isinstance(raw, dict) or not isinstance(raw.get("nodes"), list):
        raise GraphError(f"{path}: expected a mapping with a 'nodes' list")
    nodes = []
    for i, n in enumerate(raw["nodes"]):
        try:
            nodes.append(
                NodeSpec(
                    name=str(n["name"]),
                    package=str(n["package"]),
                    executable=str(n["executable"]),
                    modes=tuple(n.get("modes", MODES)),
                    parameters=dict(n.get("parameters") or {}),
                    remappings={str(k): str(v) for k, v in (n.get("remappings") or {}).items()},
                    process=str(n.get("process") or ""),
                    unless=str(n.get("unless") or ""),
                    enabled_by=str(n.get("enabled_by") or ""),
                )
            )
        except (KeyError, TypeError) as exc:
            raise GraphError(f"{path}: node #{i} lacks name/package/executable ({exc})") from exc
        bad = set(nodes[-1].modes) - set(MODES)
        if bad:
            raise GraphError(f"{path}: node {nodes[-1].name}: unknown modes {sorted(bad)}")
    names = [n.name for n in nodes]
    if len(set(names)) != len(names):
        raise GraphError(f"{path}: duplicate node names in {names}")
    overrides = {}
    for name, o in (raw.get("overrides") or {}).items():
        if o.get("node") not in names:
            raise GraphError(f"{path}: override {name} names unknown node {o.get('node')!r}")
        overrides[name] = Override(
            name, o["node"], o["parameter"], o.get("description", ""), tuple(o.get("choices", ()))
        )
    for spec in nodes:
        if spec.unless and spec.unless not in overrides:
            raise GraphError(f"{path}: node {spec.name}: 'unless' names unknown override {spec.unless!r}")
        if spec.enabled_by and spec.enabled_by not in overrides:
            raise GraphError(f"{path}: node {spec.name}: 'enabled_by' names unknown override {spec.enabled_by!r}")
    return Graph(tuple(nodes), overrides, tuple(raw.get("record_topics") or ()), _profile_specs(path, raw, names))


def _profile_specs(path: Path, raw: dict, names: List[str]) -> Dict[str, ProfileSpec]:
    """The ``profile`` section: per node, the config class and the parameters a person's profile may set."""
    out = {}
    for node, p in (raw.get("profile") or {}).items():
        if node not in names:
            raise GraphError(f"{path}: profile names unknown node {node!r}")
        try:
            out[node] = ProfileSpec(str(node), str(p["config"]), tuple(str(x) for x in p["parameters"]))
        except (KeyError, TypeError) as exc:
            raise GraphError(f"{path}: profile of {node}: needs 'config' and a 'parameters' list ({exc!r})") from None
    return out
