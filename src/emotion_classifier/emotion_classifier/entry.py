"""The console script: Ctrl-C is quiet from its first line, also while the node module imports torch."""

from facecoach_common.startup import run_program


def main() -> None:
    """``emotion_classifier``: the classifier node (``node_main``)."""
    run_program("emotion_classifier", "emotion_classifier.entry:node_main")


def node_main(args=None) -> None:
    """``emotion_classifier --ros-args ...``: the node module imports torch (seconds) while discovery runs."""
    from facecoach_common.ros_params import run_node

    # A single-threaded executor (run_node's): rclpy's MultiThreadedExecutor lost ~40 % of the frames at 30 fps
    # here (490 of 810 emotions for 810 faces on the sample bag), the single-threaded one none.
    run_node(_build, "emotion_classifier", (ValueError,), args, slow_factory=True)


def _build():
    from .node import EmotionClassifierNode

    return EmotionClassifierNode()
