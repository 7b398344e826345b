"""The console scripts: Ctrl-C is quiet from their first line, also while the node modules import OpenCV."""

from facecoach_common.startup import run_program


def camera() -> None:
    """``camera``: the camera node (face_detector.camera_node.main)."""
    run_program("camera", "face_detector.camera_node:main")


def face_detector() -> None:
    """``face_detector``: the face detector node (face_detector.detector_node.main)."""
    run_program("face_detector", "face_detector.detector_node:main")
