"""Talking to running nodes from a short-lived rclpy node: parameters, Trigger services."""

from __future__ import annotations

import signal
import time
from contextlib import contextmanager
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import rclpy
from rcl_interfaces.msg import Parameter as ParameterMsg
from rcl_interfaces.msg import ParameterType, ParameterValue
from rcl_interfaces.srv import GetParameters, SetParameters
from rclpy.node import Node

from facecoach_common.services import call_idempotent


class NoAnswer(TimeoutError):
    """A node's service is not there or did not answer in time."""


@contextmanager
def command_node(name: str, **init: Any) -> Iterator[Node]:
    """An rclpy context (``rclpy.init(**init)``) and a node for one command, torn down in order however it ends.

    rclpy.spin_once's global executor keeps its wait half-run between calls, holding the entities it waits on;
    left so (Ctrl-C can stop it anywhere), destroy_node waits for them for ever, so that executor is shut down
    first. It is made here, while the context is valid: made at the teardown, it could meet a context that
    rclpy's Ctrl-C handler shuts down from its own thread (RCLError "the given context is not valid").
    A Ctrl-C during the teardown is ignored; SIGINT's handler is then put back as it was before.
    """
    before = signal.getsignal(signal.SIGINT)
    rclpy.init(**init)
    try:
        executor = rclpy.get_global_executor()
        node = rclpy.create_node(name)
    except BaseException:
        rclpy.try_shutdown()
        raise
    try:
        yield node
    finally:
        _set_sigint(signal.SIG_IGN)
        try:
            executor.shutdown()
            node.destroy_node()
            rclpy.try_shutdown()
        finally:
            _set_sigint(before if before is not None else signal.SIG_DFL)


def _set_sigint(handler) -> None:
    try:
        signal.signal(signal.SIGINT, handler)
    except ValueError:  # not the main thread: the caller's main thread owns the signals
        pass


def _value_msg(value) -> ParameterValue:
    if isinstance(value, bool):
        return ParameterValue(type=ParameterType.PARAMETER_BOOL, bool_value=value)
    if isinstance(value, int):
        return ParameterValue(type=ParameterType.PARAMETER_INTEGER, integer_value=value)
    if isinstance(value, float):
        return ParameterValue(type=ParameterType.PARAMETER_DOUBLE, double_value=value)
    return ParameterValue(type=ParameterType.PARAMETER_STRING, string_value=str(value))


POLL_S = 0.01  # how often a wait looks at the graph (rclpy's own wait_for_service sleeps 0.25 s at a time)


def _in_graph(node: Node, target: str) -> bool:
    """Whether the graph that ``node`` sees holds a node with the fully qualified name ``target``.

    (Service names would not do: the graph lists a service that has only our own client.)
    """
    namespace, _, name = target.rstrip("/").rpartition("/")
    return (name, namespace or "/") in node.get_node_names_and_namespaces()


def _ready(node: Node, client, name: str, wait: float, target: Optional[str] = None, node_wait: Optional[float] = None):
    """NoAnswer unless ``client``'s service ``name`` appears within ``wait`` seconds.

    Returns as soon as the service is matched. With ``target`` and ``node_wait``, it gives up after
    ``node_wait`` seconds when the graph holds no node ``target`` (discovery on one host takes well under a
    second), rather than waiting all of ``wait`` for a node that is not running.
    """
    t0 = time.monotonic()
    while not client.service_is_ready():
        elapsed = time.monotonic() - t0
        if elapsed >= wait:
            raise NoAnswer(f"no service {name} after {wait:g} s: is the node running (same ROS_DOMAIN_ID)?")
        if target is not None and node_wait is not None and elapsed >= node_wait and not _in_graph(node, target):
            seen = sorted(f"{ns.rstrip('/')}/{n}" for n, ns in node.get_node_names_and_namespaces())
            seen = [s for s in seen if s != node.get_fully_qualified_name()]
            raise NoAnswer(
                f"no node {target} in the graph after {elapsed:.1f} s (nodes seen: {', '.join(seen) or 'none'}):"
                " is the graph running (same ROS_DOMAIN_ID)? (a graph still starting: --wait 30)"
            )
        time.sleep(POLL_S)  # a short-lived command's own thread: no executor to block


def _call(node: Node, srv_type, name: str, request, timeout: float, target=None, node_wait=None):
    """Call a parameter service: ``timeout`` seconds for it to appear, and as long for the answer."""
    client = node.create_client(srv_type, name)
    try:
        _ready(node, client, name, timeout, target, node_wait)
        result = call_idempotent(client, request, timeout, lambda s: rclpy.spin_once(node, timeout_sec=s))
        if result is None:
            raise NoAnswer(f"{name} did not answer within {timeout} s")
        return result
    finally:
        node.destroy_client(client)


def set_parameter(
    node: Node, target: str, name: str, value, timeout: float = 30.0, node_wait: Optional[float] = None
) -> Tuple[bool, str]:
    """Set one parameter of a running node through its standard service, as `ros2 param set` does.

    Returns (successful, reason); NoAnswer when the node's service is not there or silent (after
    ``node_wait`` seconds already when the graph has no node ``target``).
    """
    req = SetParameters.Request(parameters=[ParameterMsg(name=name, value=_value_msg(value))])
    result = _call(node, SetParameters, f"{target}/set_parameters", req, timeout, target, node_wait).results[0]
    return result.successful, result.reason


def _plain(v) -> Optional[Any]:
    if v is None or v.type == ParameterType.PARAMETER_NOT_SET:
        return None
    return {
        ParameterType.PARAMETER_BOOL: v.bool_value,
        ParameterType.PARAMETER_INTEGER: v.integer_value,
        ParameterType.PARAMETER_DOUBLE: v.double_value,
        ParameterType.PARAMETER_STRING: v.string_value,
    }.get(v.type, v)


def get_parameters(
    node: Node, target: str, names: List[str], timeout: float = 10.0, node_wait: Optional[float] = None
) -> Dict[str, Any]:
    """Read parameters of a running node in one request: name -> value (None when it is not set)."""
    req = GetParameters.Request(names=list(names))
    res = _call(node, GetParameters, f"{target}/get_parameters", req, timeout, target, node_wait)
    values = list(res.values) + [None] * (len(names) - len(res.values))
    return {n: _plain(v) for n, v in zip(names, values)}


def get_parameter(
    node: Node, target: str, name: str, timeout: float = 10.0, node_wait: Optional[float] = None
) -> Optional[Any]:
    """Read one parameter of a running node (None when it is not set)."""
    return get_parameters(node, target, [name], timeout, node_wait)[name]


def wait_for_service(node: Node, srv_type, name: str, wait: float) -> None:
    """NoAnswer unless service ``name`` appears within ``wait`` seconds."""
    client = node.create_client(srv_type, name)
    try:
        _ready(node, client, name, wait)
    finally:
        node.destroy_client(client)


def trigger(
    node: Node,
    name: str,
    timeout: float,
    wait: float = 10.0,
    on_spin: Optional[Callable[[float], None]] = None,
) -> Tuple[bool, str]:
    """Call a std_srvs/Trigger service: (success, message); NoAnswer when absent for ``wait`` s or silent.

    ``on_spin(elapsed_s)`` is called while the answer is awaited (a progress display).
    """
    from std_srvs.srv import Trigger

    client = node.create_client(Trigger, name)
    try:
        _ready(node, client, name, wait)
        t0 = time.monotonic()
        future = client.call_async(Trigger.Request())
        while not future.done() and time.monotonic() - t0 < timeout:
            rclpy.spin_once(node, timeout_sec=0.1)
            if on_spin is not None:
                on_spin(time.monotonic() - t0)
        if not future.done():
            raise NoAnswer(f"{name} did not answer within {timeout} s")
        result = future.result()
        return result.success, result.message
    finally:
        node.destroy_client(client)
