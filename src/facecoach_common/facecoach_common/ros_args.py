"""A process's ``--ros-args`` checked before rcl parses them, and rcl's refusals as one line (no rclpy).

``rclpy.init`` parses every ``--params-file`` while it parses the arguments: a file that is missing or not
YAML makes it raise rcl's RCLError, which used to end a node with a traceback and exit code 1, so
``ros2 launch`` respawned it for ever. A configuration error is exit code 2 (launch then ends with the
reason, see facecoach.launch_description), with one line that says what is wrong: the parameters files
are read here first, with PyYAML, which names the line and column of a syntax error; what rcl still
refuses (a file that is YAML but not a parameters file, a malformed ``-p`` or ``-r`` rule) is turned into
one line by :func:`rcl_reason`.
"""

import re
from typing import List, Sequence

import yaml

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's when PyYAML has it: fast on big files
# rcl appends where in its C sources each layer failed: ", at /project/src/parse.c:776, at .../arguments.c:415".
_C_SOURCE = re.compile(r",? at [^,]*\.c:\d+")


class RosArgumentsError(ValueError):
    """ROS arguments that cannot be used (a parameters file that cannot be read or parsed, a malformed rule)."""


def params_files(argv: Sequence[str]) -> List[str]:
    """The files of every ``--params-file`` inside a ``--ros-args`` section (up to ``--``), as rcl reads them."""
    files: List[str] = []
    in_ros = False
    args = list(argv)
    for i, arg in enumerate(args):
        if arg == "--ros-args":
            in_ros = True
        elif arg == "--":
            in_ros = False
        elif in_ros and arg == "--params-file" and i + 1 < len(args):
            files.append(args[i + 1])
    return files


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def check_params_file(path: str) -> None:
    """RosArgumentsError unless ``path`` is a readable YAML file whose documents are mappings (node: ...)."""
    try:
        with open(path, "rb") as f:
            documents = list(yaml.compose_all(f, Loader=_LOADER))  # the syntax only: no value is constructed
    except OSError as exc:
        raise RosArgumentsError(f"parameters file {path}: cannot read it ({exc.strerror or exc})") from None
    except yaml.YAMLError as exc:  # its text names the file, the line and the column
        raise RosArgumentsError(f"parameters file {path} is not valid YAML: {_one_line(exc)}") from None
    for doc in documents:
        if doc is not None and not isinstance(doc, yaml.MappingNode):
            raise RosArgumentsError(
                f"parameters file {path}: line {doc.start_mark.line + 1}: the top level must map node names to "
                "their parameters (node_name: {ros__parameters: {name: value}}), not a list or a single value"
            )


def check_ros_arguments(argv: Sequence[str]) -> None:
    """RosArgumentsError for the first parameters file of ``argv`` that rcl could not parse."""
    for path in params_files(argv):
        check_params_file(path)


def rcl_reason(message: str) -> str:
    """The init error of rcl on one line, without its C source locations.

    'failed to initialize rcl: Couldn't parse params file: '--params-file p.yaml'. Error: Cannot have a value
    before ros__parameters at line 1, at /project/src/parse.c:800, at /project/src/rcl/arguments.c:415'
    -> 'Couldn't parse params file: '--params-file p.yaml'. Error: Cannot have a value before ros__parameters
    at line 1'
    """
    text = _C_SOURCE.sub("", _one_line(message))
    prefix = "failed to initialize rcl: "
    return text[len(prefix) :] if text.startswith(prefix) else text
