"""FaceCoach camera and face detector (OpenCV; never imports torch)."""
