"""Settings declared once, on the config dataclasses: default, description, range and choices (no ROS).

A config field made with :func:`setting` *is* the parameter: its name, its default and its type (the
default's), its description and range. The node derives its ROS parameter descriptors from it
(``facecoach_common.ros_params``), the config's ``__post_init__`` checks the same range through
:func:`check_settings`, and tools read the same defaults, so there is one place to change each.

- :func:`group` nests another settings dataclass whose parameters keep their own names (``window_s`` of
  the alert policy is the alert node's ``window_s``).
- ``keys=`` makes a mapping field one parameter per key: ``mapping`` with keys ``fear, happy ...`` is
  ``mapping.fear``, ``mapping.happy`` ...
"""

import dataclasses
import math
from typing import Any, Dict, List, Mapping, Optional, Sequence

_META = "facecoach_setting"
_GROUP = "facecoach_group"


@dataclasses.dataclass(frozen=True)
class Setting:
    """One parameter: name, default (its type is the parameter's type), description, range or choices."""

    name: str
    default: Any
    description: str
    min: Optional[float] = None
    max: Optional[float] = None
    choices: Optional[Sequence[Any]] = None
    read_only: bool = False
    dynamic_typing: bool = False  # e.g. camera ``source``: `-p source:=0` arrives as an integer
    field: str = ""  # the dataclass field it fills ('' = same as name)
    key: str = ""  # for a ``keys=`` mapping field: the key this parameter fills

    def check(self, value: Any) -> None:
        """Raise ValueError naming the parameter when ``value`` is outside its choices or range."""
        if self.choices is not None and value not in self.choices:
            raise ValueError(f"{self.name}={value!r}: must be one of {list(self.choices)}")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"{self.name}={value!r}: must be a finite number")
        if self.min is not None and value < self.min:
            raise ValueError(f"{self.name}={value!r}: must be >= {self.min:g}" + self._range())
        if self.max is not None and value > self.max:
            raise ValueError(f"{self.name}={value!r}: must be <= {self.max:g}" + self._range())

    def _range(self) -> str:
        return f" (range {self.min:g}..{self.max:g})" if self.min is not None and self.max is not None else ""

    def coerce(self, value: Any) -> Any:
        """A value of the parameter's type where that is lossless (an int for a float parameter)."""
        if isinstance(self.default, float) and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if self.dynamic_typing and isinstance(self.default, str) and not isinstance(value, str):
            return str(value)
        return value


def setting(
    default: Any,
    description: str,
    min: Optional[float] = None,  # noqa: A002 - the ROS range's own word
    max: Optional[float] = None,  # noqa: A002
    choices: Optional[Sequence[Any]] = None,
    read_only: bool = False,
    dynamic_typing: bool = False,
    keys: Optional[Sequence[str]] = None,
) -> Any:
    """A dataclass field that is also a node parameter (see the module docstring)."""
    meta = {
        _META: {
            "description": description,
            "min": min,
            "max": max,
            "choices": tuple(choices) if choices is not None else None,
            "read_only": read_only,
            "dynamic_typing": dynamic_typing,
            "keys": tuple(keys) if keys is not None else None,
        }
    }
    if isinstance(default, (dict, list)):
        frozen = dict(default) if isinstance(default, dict) else list(default)
        return dataclasses.field(default_factory=lambda: type(frozen)(frozen), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def group(cls: type) -> Any:
    """A field holding another settings dataclass, built from the same flat parameter values."""
    return dataclasses.field(default_factory=cls, metadata={_GROUP: cls})


def _field_default(f: "dataclasses.Field") -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    return f.default_factory()  # type: ignore[misc]


def _own(f: "dataclasses.Field") -> List[Setting]:
    """The settings of one non-group field (several for a ``keys=`` mapping field)."""
    m = f.metadata.get(_META)
    if m is None:
        return []
    common = dict(min=m["min"], max=m["max"], choices=m["choices"], read_only=m["read_only"], field=f.name)
    default = _field_default(f)
    if m["keys"]:
        return [
            Setting(f"{f.name}.{k}", default[k], m["description"].format(key=k), key=k, **common) for k in m["keys"]
        ]
    return [Setting(f.name, default, m["description"], dynamic_typing=m["dynamic_typing"], **common)]


def settings_of(cls: type) -> List[Setting]:
    """Every parameter of a config dataclass, groups flattened, in declaration order."""
    out: List[Setting] = []
    for f in dataclasses.fields(cls):
        out.extend(settings_of(f.metadata[_GROUP]) if _GROUP in f.metadata else _own(f))
    return out


def defaults(cls: type) -> Dict[str, Any]:
    """{parameter name: default} of a config dataclass."""
    return {s.name: s.default for s in settings_of(cls)}


def from_values(cls: type, values: Mapping[str, Any]) -> Any:
    """Build ``cls`` from flat parameter values (missing names keep their defaults); ValueError when invalid."""
    kwargs: Dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if _GROUP in f.metadata:
            kwargs[f.name] = from_values(f.metadata[_GROUP], values)
            continue
        for s in _own(f):
            value = s.coerce(values[s.name]) if s.name in values else s.default
            if s.key:
                kwargs.setdefault(f.name, {})[s.key] = value
            else:
                kwargs[f.name] = value
    try:
        return cls(**kwargs)
    except TypeError as exc:  # a value of the wrong type deep in a constructor
        raise ValueError(str(exc)) from exc


def values_of(config: Any) -> Dict[str, Any]:
    """The flat parameter values of a config object (the inverse of :func:`from_values`)."""
    out: Dict[str, Any] = {}
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if _GROUP in f.metadata:
            out.update(values_of(value))
            continue
        for s in _own(f):
            out[s.name] = value[s.key] if s.key else value
    return out


def check_settings(config: Any) -> None:
    """Check every own setting field of ``config`` against its type, range and choices (call in __post_init__)."""
    for f in dataclasses.fields(config):
        for s in _own(f):
            value = getattr(config, f.name)
            if s.key:
                if not isinstance(value, Mapping) or s.key not in value:
                    continue  # the config's own check names the missing key
                value = value[s.key]
            value = s.coerce(value)
            if type(value) is not type(s.default):
                raise ValueError(f"{s.name}={value!r}: must be of type {type(s.default).__name__}")
            s.check(value)


def readable(config: Any) -> str:
    """A config dataclass as ``name=value`` pairs (strings quoted), for one log line a person reads."""
    return " ".join(f"{f.name}={getattr(config, f.name)!r}" for f in dataclasses.fields(config))
