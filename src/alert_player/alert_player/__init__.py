"""FaceCoach alert player: emotion → good/acceptable/bad, the cue decision, and the user's own voice cue."""
