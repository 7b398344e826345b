"""The class order: one home for it, shared by the weight files, the datasets and the node."""

# Index i of a model's output is CLASSES[i]; every weight file stores this list in its metadata.
CLASSES = ("fear", "happy", "neutral", "sad", "surprise")
