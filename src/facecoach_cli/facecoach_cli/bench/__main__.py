"""``python -m facecoach_cli.bench --json OUT ...``: the same as ``facecoach bench``."""

import sys

from .command import main

sys.exit(main())
