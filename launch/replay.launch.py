"""FaceCoach on a recorded interview: `ros2 bag play` instead of the camera.

    ros2 launch facecoach replay.launch.py bag:=/path/to/interview rate:=1.0 model_variant:=pruned

Nodes, parameters and remappings come from config/facecoach.yaml, like jetson.launch.py.
"""

from facecoach.launch_description import graph_launch_description


def generate_launch_description():
    """The replay graph plus `ros2 bag play`."""
    return graph_launch_description("replay")
