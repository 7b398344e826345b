"""Model tooling: datasets, training, pruning, int8 calibration, evaluation, ONNX export and their commands.

Runs on the development machine with its own PyTorch; the classifier node never imports this package.
"""
