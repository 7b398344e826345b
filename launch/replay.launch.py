"""FaceCoach on a recorded interview: the bag instead of the camera, played once the graph is ready.

    ros2 launch facecoach replay.launch.py bag:=/path/to/interview rate:=1.0 model_variant:=pruned

`ros2 bag play` plays it where rosbag2 is installed, FaceCoach's facecoach_player elsewhere
(use_ros2_bag:=false|true chooses). Nodes, parameters and remappings come from config/facecoach.yaml,
like jetson.launch.py; `--show-args` lists every argument.
"""

from facecoach.launch_description import graph_launch_description


def generate_launch_description():
    """The replay graph plus the bag player."""
    return graph_launch_description("replay")
