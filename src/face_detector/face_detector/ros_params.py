"""Typed, described, validated ROS parameters for FaceCoach nodes (node-side helper; imports rclpy).

Each node lists its parameters once as ``Param`` specs. ``declare`` declares them with a
ParameterDescriptor (description, range, read_only) and returns their values. ``on_set`` builds a
parameter callback: it merges the proposed values into the current ones, runs the node's
``build`` (the frozen config dataclass, whose constructor validates across fields), and rejects the
whole change with the reason when it raises ValueError. Only when everything is valid is ``apply``
called with the new config, so a rejected change leaves the node exactly as it was. (Humble has no
post-set callback; this is the only on-set callback of each node, so "accepted" is final here.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Dict, Optional, Sequence

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor, SetParametersResult
from rclpy.node import Node
from rclpy.parameter import Parameter


@dataclass(frozen=True)
class Param:
    """One parameter: name, default (its type is the parameter's type), description, optional range."""

    name: str
    default: Any
    description: str
    min: Optional[float] = None
    max: Optional[float] = None
    step: Optional[float] = None
    read_only: bool = False
    choices: Optional[Sequence[str]] = None

    def descriptor(self) -> ParameterDescriptor:
        """The ParameterDescriptor advertised to `ros2 param describe`."""
        text = self.description
        if self.choices:
            text += " (one of: " + ", ".join(self.choices) + ")"
        d = ParameterDescriptor(name=self.name, description=text, read_only=self.read_only)
        if self.min is not None and isinstance(self.default, bool) is False:
            if isinstance(self.default, int):
                d.integer_range = [
                    IntegerRange(from_value=int(self.min), to_value=int(self.max), step=int(self.step or 1))
                ]
            elif isinstance(self.default, float):
                d.floating_point_range = [
                    FloatingPointRange(
                        from_value=float(self.min), to_value=float(self.max), step=float(self.step or 0.0)
                    )
                ]
        return d


def declare(node: Node, params: Sequence[Param]) -> Dict[str, Any]:
    """Declare every parameter and return {name: value} (values from launch/params files applied)."""
    for p in params:
        node.declare_parameter(p.name, p.default, p.descriptor())
    return {p.name: node.get_parameter(p.name).value for p in params}


def on_set(
    node: Node,
    params: Sequence[Param],
    current: Callable[[], Dict[str, Any]],
    build: Callable[[Dict[str, Any]], Any],
    apply: Callable[[Any, Dict[str, Any]], None],
) -> Callable[[Sequence[Parameter]], SetParametersResult]:
    """Return an on-set-parameters callback that validates with ``build`` and then calls ``apply``."""
    specs = {p.name: p for p in params}

    def callback(changes: Sequence[Parameter]) -> SetParametersResult:
        values = dict(current())
        for c in changes:
            spec = specs.get(c.name)
            if spec is None:
                continue  # parameters such as use_sim_time are rclpy's own business
            if spec.choices and c.value not in spec.choices:
                return _reject(node, f"{c.name}={c.value!r}: must be one of {list(spec.choices)}")
            values[c.name] = c.value
        try:
            config = build(values)
        except (ValueError, TypeError) as exc:
            return _reject(node, f"{exc}")
        changed = {c.name: c.value for c in changes if c.name in specs}
        if changed:
            apply(config, changed)
        return SetParametersResult(successful=True)

    return callback


def _reject(node: Node, reason: str) -> SetParametersResult:
    node.get_logger().warning(f"parameter change refused: {reason}")
    return SetParametersResult(successful=False, reason=reason)


def run_node(factory: Callable[[], Node], name: str, fatal=(ValueError,), args=None) -> None:
    """The console-script main of every FaceCoach node: init, build, spin until Ctrl-C, clean up.

    A configuration error raised while building the node (one of ``fatal``: bad -p values, a
    cascade or camera that can never work) is said once, without a traceback, and exits with 2.
    """
    import rclpy
    from rclpy.exceptions import ParameterException
    from rclpy.executors import ExternalShutdownException

    rclpy.init(args=args)
    try:
        node = factory()
    except (ParameterException, *fatal) as exc:
        hint = " (write floats with a decimal point, e.g. 8.0)" if "expecting type 'DOUBLE'" in str(exc) else ""
        rclpy.logging.get_logger(name).fatal(f"cannot start: {exc}{hint}")
        rclpy.try_shutdown()
        raise SystemExit(2) from None
    try:
        rclpy.spin(node)  # single-threaded: see emotion_classifier.node.main for why not multi-threaded
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
