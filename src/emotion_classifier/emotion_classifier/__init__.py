"""FaceCoach emotion classifier: the paper's CNN, its weight variants and the tooling that makes them."""
