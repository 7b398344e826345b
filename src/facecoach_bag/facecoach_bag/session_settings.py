"""The settings in force, as session.yaml keeps them: the graph's node parameters (imports messages, not rclpy)."""

import json
import os
from typing import Any, Dict, Optional

CALIBRATION_PARAMETER = ("emotion_classifier", "calibration_file")
CALIBRATION_MAX_BYTES = 64 * 1024  # what the classifier itself accepts


def parameter_value(value: Any) -> Any:
    """An rcl_interfaces/ParameterValue as plain data (None when not set)."""
    fields = {
        1: "bool_value",
        2: "integer_value",
        3: "double_value",
        4: "string_value",
        5: "byte_array_value",
        6: "bool_array_value",
        7: "integer_array_value",
        8: "double_array_value",
        9: "string_array_value",
    }
    name = fields.get(int(value.type))
    if name is None:
        return None
    out = getattr(value, name)
    if name == "byte_array_value":
        return [int.from_bytes(b, "little") if isinstance(b, bytes) else int(b) for b in out]
    if name.endswith("_array_value"):
        return [x.item() if hasattr(x, "item") else x for x in out]
    return out


def calibration(node: str, parameters: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    """The calibration in force (the classifier's calibration_file, read), or None without one.

    A file that cannot be read is kept as its reason: the classifier refuses such a file too.
    """
    if node != CALIBRATION_PARAMETER[0]:
        return None
    path = str(parameters.get(CALIBRATION_PARAMETER[1]) or "")
    if not path:
        return None
    path = os.path.expanduser(path)
    try:
        if os.path.getsize(path) > CALIBRATION_MAX_BYTES:
            return {"file": path, "error": "over 64 KiB"}
        with open(path, encoding="utf-8") as f:
            return {"file": path, "content": json.load(f)}
    except (OSError, ValueError) as exc:
        return {"file": path, "error": str(exc)}
