"""Settings declared on dataclass fields: one place for default, range, choices; flat values in and out."""

from dataclasses import dataclass
from typing import Mapping

import pytest

from facecoach_common.settings import check_settings, defaults, from_values, group, setting, settings_of, values_of


@dataclass(frozen=True)
class Inner:
    rate: float = setting(2.0, "a rate", 0.5, 10.0)
    on: bool = setting(True, "a switch")

    def __post_init__(self):
        check_settings(self)


@dataclass(frozen=True)
class Outer:
    mode: str = setting("a", "a mode", choices=("a", "b"), read_only=True)
    inner: Inner = group(Inner)
    table: Mapping[str, str] = setting({"x": "a", "y": "b"}, "entry {key}", choices=("a", "b"), keys=("x", "y"))
    count: int = setting(3, "a count", 1, 5)
    note: int = 7  # a plain field: not a parameter

    def __post_init__(self):
        check_settings(self)


def test_settings_are_flat_in_declaration_order_with_their_metadata():
    specs = settings_of(Outer)
    assert [s.name for s in specs] == ["mode", "rate", "on", "table.x", "table.y", "count"]
    by_name = {s.name: s for s in specs}
    assert by_name["mode"].read_only and by_name["mode"].choices == ("a", "b")
    assert (by_name["rate"].min, by_name["rate"].max) == (0.5, 10.0)
    assert by_name["table.y"].description == "entry y" and by_name["table.y"].default == "b"
    assert defaults(Outer) == {"mode": "a", "rate": 2.0, "on": True, "table.x": "a", "table.y": "b", "count": 3}


def test_from_values_builds_groups_and_keyed_fields_and_round_trips():
    config = from_values(Outer, {"rate": 4, "table.y": "a", "count": 5})
    assert config.inner == Inner(rate=4.0) and isinstance(config.inner.rate, float)
    assert config.table == {"x": "a", "y": "a"} and config.count == 5 and config.note == 7
    assert from_values(Outer, values_of(config)) == config


@pytest.mark.parametrize(
    "values, message",
    [
        ({"rate": 0.1}, "rate=0.1: must be >= 0.5 (range 0.5..10)"),
        ({"rate": float("inf")}, "rate=inf: must be a finite number"),
        ({"count": 6}, "count=6: must be <= 5 (range 1..5)"),
        ({"mode": "c"}, "mode='c': must be one of ['a', 'b']"),
        ({"table.x": "z"}, "table.x='z': must be one of ['a', 'b']"),
        ({"count": "3"}, "count='3': must be of type int"),
    ],
)
def test_out_of_range_values_are_refused_naming_the_parameter(values, message):
    with pytest.raises(ValueError) as info:
        from_values(Outer, values)
    assert str(info.value) == message


def test_default_factories_are_not_shared():
    a, b = Outer(), Outer()
    assert a.table == b.table and a.table is not b.table
