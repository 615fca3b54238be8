"""Runs a comparison: `python3 loadgen/bench ntp|ftp|transfer [FLAGS]` from the repository."""

import sys
from pathlib import Path

if not __package__:
    # Started as `python3 loadgen/bench`: Python put this folder first on the path; the package
    # is imported from its parent instead, so that no module here shadows a standard one.
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

from bench.cli import main  # noqa: E402 (needs the path above)

sys.exit(main(sys.argv[1:]))
