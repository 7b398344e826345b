"""ROS parameters derived from the config dataclasses' settings (node-side helper; imports rclpy).

``declare`` declares a node's settings (``facecoach_common.settings.settings_of(ItsConfig)``) with a
ParameterDescriptor (description, range, read_only) and returns their values. ``on_set`` builds a
parameter callback: it merges the proposed values into the current ones, runs the node's ``build``
(the frozen config dataclass, whose constructor validates ranges and across fields), and rejects the
whole change with the reason when it raises ValueError. Only when everything is valid is ``apply``
called with the new config, so a rejected change leaves the node exactly as it was. (Humble has no
post-set callback; this is the only on-set callback of each node, so "accepted" is final here.)
"""

from typing import Any, Callable, Dict, Sequence

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor, SetParametersResult
from rclpy.node import Node
from rclpy.parameter import Parameter

from .ros_args import RosArgumentsError, check_ros_arguments, rcl_reason
from .settings import Setting


def descriptor(s: Setting) -> ParameterDescriptor:
    """The ParameterDescriptor advertised to `ros2 param describe`."""
    text = s.description
    if s.choices:
        text += " (one of: " + ", ".join(str(c) for c in s.choices) + ")"
    d = ParameterDescriptor(name=s.name, description=text, read_only=s.read_only, dynamic_typing=s.dynamic_typing)
    if s.min is not None and s.max is not None and not isinstance(s.default, bool):
        if isinstance(s.default, int):
            d.integer_range = [IntegerRange(from_value=int(s.min), to_value=int(s.max), step=1)]
        elif isinstance(s.default, float):
            d.floating_point_range = [FloatingPointRange(from_value=float(s.min), to_value=float(s.max), step=0.0)]
    return d


def declare(node: Node, settings: Sequence[Setting]) -> Dict[str, Any]:
    """Declare every parameter and return {name: value} (values from launch/params files applied)."""
    for s in settings:
        node.declare_parameter(s.name, s.default, descriptor(s))
    return {s.name: s.coerce(node.get_parameter(s.name).value) for s in settings}


def on_set(
    node: Node,
    settings: Sequence[Setting],
    current: Callable[[], Dict[str, Any]],
    build: Callable[[Dict[str, Any]], Any],
    apply: Callable[[Any, Dict[str, Any]], None],
) -> Callable[[Sequence[Parameter]], SetParametersResult]:
    """Return an on-set-parameters callback that validates with ``build`` and then calls ``apply``."""
    specs = {s.name: s for s in settings}

    def callback(changes: Sequence[Parameter]) -> SetParametersResult:
        values = dict(current())
        for c in changes:
            spec = specs.get(c.name)
            if spec is None:
                continue  # parameters such as use_sim_time are rclpy's own business
            values[c.name] = spec.coerce(c.value)
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


def ignore_interrupts() -> None:
    """Let any further SIGINT only be counted in this process: its clean-up has begun and must finish.

    A terminal's Ctrl-C reaches every process of its group, and `ros2 launch` then sends each node a
    SIGINT of its own: that second one must not land in ``destroy_node`` or the executor's shutdown as a
    KeyboardInterrupt traceback ("process has died"). It is kept (``stopping``), which raises nothing, so
    that ``stopping.linger_for_launch`` sees it come.
    """
    from .stopping import take_stop_signals

    try:
        take_stop_signals()
    except ValueError:  # not the main thread: the caller's main thread owns the signals
        pass


def init_context(args: Any = None) -> None:
    """``rclpy.init(args=args)`` for a node process, with arguments it cannot use as a RosArgumentsError in one line.

    Stop signals are the process's own (``stopping.take_stop_signals``): rclpy installs no handler, so Ctrl-C never
    shuts the context down under a running callback; the spin loop (``spin_until_stopped``) ends instead.

    A parameters file that is missing or not YAML is found before rcl reads it (its line and column named);
    anything else rcl refuses (a file that is YAML but no parameters file, a malformed ``-p``/``-r`` rule, a
    bad log level) comes from rcl's RCLError, whose message is put on one line.
    """
    import sys

    import rclpy
    from rclpy.impl.implementation_singleton import rclpy_implementation
    from rclpy.signals import SignalHandlerOptions

    from .stopping import take_stop_signals

    check_ros_arguments(sys.argv if args is None else args)
    take_stop_signals()  # before rclpy.init, and instead of rclpy's handlers: see stopping
    try:
        rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    except rclpy_implementation.RCLError as exc:
        raise RosArgumentsError(rcl_reason(str(exc))) from None


def _shutdown_quietly(name: str) -> None:
    """``rclpy.try_shutdown()``; a failure there (a node's clean-up that raised) is said in one line.

    Jazzy's context destroys the nodes still alive at shutdown, also one whose ``__init__`` failed half-way:
    its ``destroy_node`` must not turn a configuration error's exit code 2 into a traceback and 1.
    """
    import rclpy

    try:
        rclpy.try_shutdown()
    except Exception as exc:  # noqa: BLE001 - said, and the exit code stays the one already decided
        rclpy.logging.get_logger(name).error(f"clean-up at shutdown failed: {type(exc).__name__}: {exc}")


SPIN_WAKE_S = 0.1  # how soon a spin loop sees a stop signal (its handler runs once rcl_wait returns)


def spin_until_stopped(executor) -> None:
    """Spin ``executor`` until a stop signal came (``stopping.take_stop_signals``) or the context went.

    rcl_wait holds the main thread, where Python runs signal handlers: the bounded wait lets the handler run.
    """
    from .stopping import stop_requested

    while not stop_requested() and executor.context.ok():
        executor.spin_once(timeout_sec=SPIN_WAKE_S)


def run_node(
    factory: Callable[[], Node], name: str, fatal: tuple = (ValueError,), args: Any = None, slow_factory: bool = False
) -> None:
    """The console-script main of every FaceCoach node: init, build, spin until Ctrl-C, clean up.

    A configuration error (ROS arguments rcl cannot use, such as a parameters file that is not YAML, or
    one of ``fatal`` raised while building the node: bad -p values, a cascade or camera that can never
    work) is said once, without a traceback, and exits with 2 (the launch files end the launch on it:
    respawning cannot help). Ctrl-C or SIGTERM, at any time, ends it quietly with 0: the signal is kept
    (``stopping``), the spin loop ends between two callbacks, and the node and the context are torn down in
    order; while the node is still built, the stop comes at its next import.

    ``slow_factory``: the factory takes seconds (it imports torch). DDS discovery starts with a process's first
    node, so a hidden one is made first and discovery runs meanwhile: a restarted node is matched seconds
    sooner. Not for a quick factory: endpoints made while the peers are still matching the new participant
    can wait for the next discovery heartbeat (seconds) to be matched.
    """
    import rclpy
    from rclpy.exceptions import ParameterException
    from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor

    from .stopping import building, stop_requested

    try:
        init_context(args)
    except RosArgumentsError as exc:  # a parameters file or rule that can never work: no respawn, no traceback
        rclpy.logging.get_logger(name).fatal(f"cannot start: {exc}")
        raise SystemExit(2) from None
    node = None
    try:
        with building():
            herald = None
            if slow_factory:
                hidden = "_" + name + "_starting"
                herald = rclpy.create_node(
                    hidden, use_global_arguments=False, enable_rosout=False, start_parameter_services=False
                )
            try:
                node = factory()
            except Exception as exc:  # noqa: BLE001 - sorted out below
                if not isinstance(exc, (ParameterException,) + tuple(fatal)):
                    raise
                hint = " (write floats with a decimal point, e.g. 8.0)" if "expecting type 'DOUBLE'" in str(exc) else ""
                rclpy.logging.get_logger(name).fatal(f"cannot start: {exc}{hint}")
                raise SystemExit(2) from None
            finally:
                if herald is not None:
                    herald.destroy_node()
        # single-threaded: see emotion_classifier.entry.node_main for why not multi-threaded
        executor = SingleThreadedExecutor()
        try:
            executor.add_node(node)
            spin_until_stopped(executor)
        except ExternalShutdownException:
            pass
        except Exception:  # noqa: BLE001 - see below
            if rclpy.ok() and not stop_requested():
                raise
            # A callback still running when the context went ("publisher's context is invalid"): the stop.
        finally:
            executor.shutdown()
    except KeyboardInterrupt:
        pass  # Ctrl-C while the node was being built (the classifier imports torch and loads its weights)
    finally:
        ignore_interrupts()
        if node is not None:
            node.destroy_node()
        _shutdown_quietly(name)
