"""``python -m emotion_classifier.tooling <command>``: the model tooling commands without the facecoach CLI."""

import sys

from .cli import main

sys.exit(main())
