"""Message definitions for a bag from the installed .msg files, where rosbags is missing (the device).

rosbag2 (Iron and later) keeps each type's definition in the bag: the type's .msg text, then every type it
uses, each after a line of 80 '=' and ``MSG: pkg/Type``. rosbags generates that on the development machine;
on the device (Python 3.6, no rosbags) it is read from ``share/<pkg>/msg/<Type>.msg`` and the type hash from
the ``.json`` beside it (Iron and later; Humble has none and reads no hash).
"""

import json
import re
from typing import List, Tuple

SEPARATOR = "=" * 80
PRIMITIVES = {
    "bool", "byte", "char", "float32", "float64", "int8", "uint8", "int16", "uint16",
    "int32", "uint32", "int64", "uint64", "string", "wstring",
}  # fmt: skip


def _clean(text: str, package: str) -> List[str]:
    """The .msg lines as rosbag2 stores them.

    No comments or blank lines, string constants unquoted, field types of the same package qualified
    (``Parameter`` -> ``rcl_interfaces/Parameter``).
    """
    out = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        m = re.match(r'^(string\S*)\s+(\w+)\s*=\s*(".*?"|\'.*?\')', stripped)
        if m:
            out.append(f"{m.group(1)} {m.group(2)}={m.group(3)[1:-1]}")
            continue
        stripped = stripped.split("#")[0].rstrip()
        words = stripped.split()
        base = re.sub(r"(\[.*\]|<=\d+)$", "", words[0])
        if len(words) > 1 and "=" not in stripped and base not in PRIMITIVES and "/" not in base:
            words[0] = ("std_msgs/" if base == "Header" else package + "/") + words[0]
            stripped = " ".join(words)
        out.append(stripped)
    return out


def _used_types(lines: List[str], package: str) -> List[str]:
    """``pkg/Type`` of every non-primitive field, in order."""
    used = []
    for line in lines:
        if "=" in line.split()[1] if len(line.split()) > 1 else False:
            continue  # a constant
        base = re.sub(r"(\[.*\]|<=\d+)$", "", line.split()[0])
        base = re.sub(r"<=\d+$", "", base)
        if base in PRIMITIVES:
            continue
        name = base if "/" in base else f"{package}/{base}"
        if name == "Header":
            name = "std_msgs/Header"
        used.append(name)
    return used


def _msg_text(package: str, name: str) -> str:
    from facecoach_common.paths import resource

    return resource(package, "msg", name + ".msg").read_text(encoding="utf-8")


def definition(msgtype: str) -> Tuple[str, str]:
    """(ros2msg definition, RIHS01 type hash or '') of ``pkg/msg/Type`` from the installed files."""
    package, _, name = msgtype.split("/")
    lines = _clean(_msg_text(package, name), package)
    parts = ["\n".join(lines) + "\n"]
    seen, queue = set(), _used_types(lines, package)
    while queue:
        dep = queue.pop(0)
        if dep in seen:
            continue
        seen.add(dep)
        dep_pkg, dep_name = dep.split("/")[0], dep.split("/")[-1]
        dep_lines = _clean(_msg_text(dep_pkg, dep_name), dep_pkg)
        parts.append("{}\nMSG: {}/{}\n{}\n".format(SEPARATOR, dep_pkg, dep_name, "\n".join(dep_lines)))
        queue = _used_types(dep_lines, dep_pkg) + queue
    return "".join(parts), _type_hash(package, name)


def _type_hash(package: str, name: str) -> str:
    from facecoach_common.paths import ResourceNotFound, resource

    try:
        data = json.loads(resource(package, "msg", name + ".json").read_text(encoding="utf-8"))
        return str(data["type_hashes"][0]["hash_string"])
    except (ResourceNotFound, OSError, ValueError, KeyError, IndexError, TypeError):
        return ""
