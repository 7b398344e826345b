"""The `facecoach` command: thin front-ends over the libraries (the bring-up, facecoach_bag, the node packages).

``cli`` assembles the sub-commands of ``commands`` and ``bench``; ``launcher`` (with ``children``,
``supervisor`` and ``supervision``) starts and supervises the graph where `ros2 launch` is not installed;
``pipeline``, ``bag_eval`` and ``session_report`` evaluate a recorded interview offline; ``sample`` makes the
bundled one.
"""
