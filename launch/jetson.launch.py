"""FaceCoach on the device: camera -> face_detector -> emotion_classifier -> alert_player.

    ros2 launch facecoach jetson.launch.py camera_source:=0 model_variant:=int8 cue_wav:=/home/me/cue.wav
    ros2 launch facecoach jetson.launch.py params_file:=my_params.yaml namespace:=coach log_level:=debug

Nodes, parameters and remappings come from config/facecoach.yaml (the one graph description,
also read by `facecoach run`); this file only turns it into launch actions. `--show-args` lists
every argument.
"""

from facecoach.launch_description import graph_launch_description


def generate_launch_description():
    """The live graph."""
    return graph_launch_description("live")
