"""The console script: Ctrl-C is quiet from its first line, also while the node module imports torch."""

from facecoach_common.startup import run_program


def main() -> int:
    """``emotion_classifier``: the classifier node (emotion_classifier.node.main)."""
    return run_program("emotion_classifier", "emotion_classifier.node:main")
