"""The Fast DDS profile of the graph's node processes (config/fastdds.xml): they announce themselves often.

A node answers a new participant's first announcement at once only sometimes; otherwise the newcomer finds it at
the node's next periodic announcement, every 3 s by default. A short-lived command (`facecoach get-mapping`,
`ros2 param get`) then waited 2-3 s for a graph that was running all along; with the nodes announcing every
0.25 s it waits at most that. Set for the processes the launch files and `facecoach run`/`demo` start, and for the
`facecoach` command's own participant (its bag player, its observers, its calls), unless the user chose a profile
file of their own. With the command's participant on the 3 s default, the live graph also stalled once, for about
0.3 s, about 3.5 s after it started (`python tools/live_startup_stall.py` compares the two).
"""

import os
from typing import Dict, Mapping

PROFILE_VARIABLES = ("FASTDDS_DEFAULT_PROFILES_FILE", "FASTRTPS_DEFAULT_PROFILES_FILE")  # Fast DDS 3, Fast DDS 2
# Fast DDS 2 (Humble, Iron, Jazzy) reads only FASTRTPS_...; Fast DDS 3 (Kilted on) reads FASTDDS_... and, deprecated,
# FASTRTPS_... too: both set, it loads the file twice and refuses the profile's second copy. So one is set.
FAST_DDS_2_DISTROS = ("humble", "iron", "jazzy")


def profile_path() -> str:
    """The installed config/fastdds.xml."""
    from facecoach_common.paths import share_dir

    return str(share_dir("facecoach") / "config" / "fastdds.xml")


def profile_environment(environ: Mapping[str, str] = os.environ) -> Dict[str, str]:
    """The variable to set for a node process (the one its Fast DDS reads), or none when the user set either."""
    if any(environ.get(v) for v in PROFILE_VARIABLES):
        return {}
    path = profile_path()
    if not os.path.isfile(path):
        return {}
    fast_dds_2 = environ.get("ROS_DISTRO", "") in FAST_DDS_2_DISTROS
    return {PROFILE_VARIABLES[1] if fast_dds_2 else PROFILE_VARIABLES[0]: path}
