"""FaceCoach bring-up: the graph description, the launcher, bag replay/record and the facecoach command."""
