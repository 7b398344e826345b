"""One profile per person: their mapping, cue thresholds, cue WAV and calibration file in one parameters file.

A profile is a ROS 2 parameters file (``alert_player: ros__parameters: ...``, or ``/**:`` for every node)
holding only what the graph description's ``profile`` section lets a person set; their types, ranges and
cross-checks are the nodes' own (their config classes). ``facecoach run/demo --profile`` and the launch
files' ``profile`` argument load it after the graph's parameters and before explicit options;
``facecoach calibrate`` and ``record-voice`` write into it (``update_profile``: atomic, other keys kept).
A name is ``$FACECOACH_HOME/profiles/<name>.yaml``; anything with a ``/`` or a .yaml suffix is a path.
Plain Python (no rclpy), Python 3.6: single-process mode and the launch files load profiles on the device.
"""

import importlib
import os
import re
import tempfile
from pathlib import Path
from typing import Any, Dict, List, Optional

import yaml

from facecoach_common.paths import facecoach_home, is_profile_path
from facecoach_common.settings import Setting, from_values, settings_of

from .graph import Graph, ProfileSpec

PROFILES = "profiles"  # the folder of named profiles in the FaceCoach home
MAX_BYTES = 64 * 1024  # a profile is a few lines; anything larger is not one
ALL_NODES = "/**"
PARAMS = "ros__parameters"
HEADER = (
    "# FaceCoach profile: one person's settings (a ROS 2 parameters file). `facecoach calibrate --profile` and\n"
    "# `facecoach record-voice --profile` rewrite it (comments are not kept); `--profile` / `profile:=` load it.\n"
)
Profile = Dict[str, Dict[str, Any]]  # node name -> {parameter: value}


class ProfileError(ValueError):
    """A profile that is missing, unreadable, or sets what a profile may not (one line: the file and why)."""


def profile_path(name_or_path: str) -> Path:
    """The file of a profile: a name (``alice``) is ``$FACECOACH_HOME/profiles/alice.yaml``, else a path."""
    text = str(name_or_path).strip()
    if not text:
        raise ProfileError("an empty profile name")
    if is_profile_path(text):
        return Path(os.path.expanduser(text))
    if not re.match(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", text):
        raise ProfileError(f"profile {text!r}: a name is letters, digits, '_', '.', '-' (or give a path)")
    return facecoach_home() / PROFILES / (text + ".yaml")


def profile_settings(spec: ProfileSpec) -> Dict[str, Setting]:
    """{parameter: Setting} of the node's config class (type, default, range) that a profile spec names."""
    module, cls = spec.config.split(":")
    config = getattr(importlib.import_module(module), cls)
    return {s.name: s for s in settings_of(config)}


def _flat(params: Dict[Any, Any], prefix: str = "") -> Dict[str, Any]:
    """Nested parameters (``mapping: {fear: bad}``) as ROS 2 names them (``mapping.fear``)."""
    out: Dict[str, Any] = {}
    for key, value in params.items():
        name = prefix + str(key)
        if isinstance(value, dict):
            out.update(_flat(value, name + "."))
        else:
            out[name] = value
    return out


def _node_of(key: str, graph: Graph) -> Optional[str]:
    """The profile node a parameters file's top-level key selects ('' for ``/**``), None for no such node."""
    if key in (ALL_NODES, "**"):
        return ""
    name = key.rstrip("/").split("/")[-1]
    return name if name in graph.profile else None


def _sections(raw: Any, where: str, graph: Graph) -> List[tuple]:
    """(top-level key, node or '' for every node, its ros__parameters flattened) of a parameters file."""
    if raw is None:
        return []
    if not isinstance(raw, dict):
        raise ProfileError(f"{where}: not a parameters file (expected `node: ros__parameters: ...` mappings)")
    out = []
    for key, section in raw.items():
        node = _node_of(str(key), graph)
        if node is None:
            raise ProfileError(f"{where}: {key!r} is no node a profile sets (only {', '.join(graph.profile)} or /**)")
        if not isinstance(section, dict) or set(section) != {PARAMS} or not isinstance(section[PARAMS], dict):
            raise ProfileError(f"{where}: {key}: expected exactly `{PARAMS}:` holding a mapping of parameters")
        out.append((key, node, _flat(section[PARAMS])))
    return out


def check_profile(raw: Any, graph: Graph, where: str) -> Profile:
    """A parsed parameters file as {node: {parameter: value}}, every value checked.

    ProfileError names the first problem: a node or parameter a profile may not set, a wrong type, a value out
    of range, a failed cross-check of the node's config.
    """
    settings = {node: profile_settings(spec) for node, spec in graph.profile.items()}
    allowed = {node: set(spec.parameters) for node, spec in graph.profile.items()}
    profile: Profile = {}
    for key, node, params in _sections(raw, where, graph):
        for name, value in params.items():
            targets = [node] if node else [n for n in allowed if name in allowed[n]]
            if not targets or name not in allowed[targets[0]]:
                owners = targets or list(allowed)
                raise ProfileError(
                    f"{where}: {key}: {name!r} is not a profile setting of {' or '.join(owners)} (a profile holds: "
                    + "; ".join(f"{n}: {', '.join(sorted(allowed[n]))}" for n in owners)
                    + ")"
                )
            for target in targets:
                s = settings[target][name]
                got = s.coerce(value)
                if type(got) is not type(s.default):
                    raise ProfileError(
                        f"{where}: {target}.{name}: {value!r} is a {type(value).__name__}, "
                        f"must be a {type(s.default).__name__}"
                    )
                try:
                    s.check(got)
                except ValueError as exc:
                    raise ProfileError(f"{where}: {target}.{exc}") from None
                profile.setdefault(target, {})[name] = got
    for node, values in profile.items():
        spec = next(n for n in graph.nodes if n.name == node)
        module, cls = graph.profile[node].config.split(":")
        try:  # the node's own cross-checks (e.g. release_threshold below bad_threshold), on the graph's values
            from_values(getattr(importlib.import_module(module), cls), dict(spec.parameters, **values))
        except ValueError as exc:
            raise ProfileError(f"{where}: {node}: {exc}") from None
    return profile


def _read(path: Path) -> Any:
    """The parsed YAML of a profile file; ProfileError when it is missing, too large or not YAML."""
    try:
        if path.stat().st_size > MAX_BYTES:
            raise ProfileError(f"profile {path}: over {MAX_BYTES} bytes: not a profile")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ProfileError(
            f"no profile {path} (make one with `facecoach record-voice OUT.wav --profile NAME`)"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ProfileError(f"profile {path}: cannot read it ({exc})") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ProfileError(f"profile {path}: not valid YAML{where}: {problem}") from None


def load_profile(name_or_path: str, graph: Graph) -> Profile:
    """The checked values of a profile ({node: {parameter: value}}); {} for '' (no profile)."""
    if not str(name_or_path or "").strip():
        return {}
    path = profile_path(name_or_path)
    return check_profile(_read(path), graph, f"profile {path}")


def _set(raw: dict, graph: Graph, node: str, name: str, value: Any) -> None:
    """Set ``name`` where the file already sets it (its node's section or /**, flat or nested), else in the node's."""
    for key, section in raw.items():
        if _node_of(str(key), graph) in (node, ""):
            params = section[PARAMS]
            if name in params:
                params[name] = value
                return
            parts, inner = name.split("."), params
            while len(parts) > 1 and isinstance(inner.get(parts[0]), dict):
                inner = inner[parts.pop(0)]
            if len(parts) == 1 and parts[0] in inner:
                inner[parts[0]] = value
                return
    section = next((s for k, s in raw.items() if _node_of(str(k), graph) == node), None)
    if section is None:
        section = raw.setdefault(node, {PARAMS: {}})
    section[PARAMS][name] = value


def update_profile(name_or_path: str, graph: Graph, node: str, values: Dict[str, Any]) -> Path:
    """Set ``values`` on ``node`` in a profile (created when missing), keeping its other settings; its path.

    The file is replaced atomically (a temporary file beside it, renamed over it). ProfileError, and nothing
    written, when the profile as it is, or as it would be, is not a valid profile.
    """
    path = profile_path(name_or_path)
    raw = _read(path) if path.exists() else None
    check_profile(raw, graph, f"profile {path}")
    raw = raw or {}
    for name, value in values.items():
        _set(raw, graph, node, name, value)
    check_profile(raw, graph, f"profile {path} with {node}: {values}")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="." + path.name + ".", suffix=".tmp", dir=str(path.parent))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(HEADER + yaml.safe_dump(raw, default_flow_style=False))
            f.flush()
            os.fsync(f.fileno())
        if path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o777)
        else:  # mkstemp makes it 0600; a new profile gets what any new file gets
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, str(path))
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path
