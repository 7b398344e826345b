"""FaceCoach bring-up: what the device runs. The graph description, the launch files' actions, single-process mode.

Runtime code (Python 3.6). The launch files start the node packages' executables and facecoach_bag's player;
the facecoach command (facecoach_cli) starts the same graph from the same description where `ros2 launch`
is not installed.
"""
