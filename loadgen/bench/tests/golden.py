"""The golden tests' fixtures: a real run's setup and runs, and the section it must render as.

The expected sections are what the bash scripts this package replaced wrote for those runs, with
only the benchmark's own command and script paths renamed.
"""

import json
from pathlib import Path

from bench.machine import Machine
from bench.runs import Run, Runs

DATA = Path(__file__).resolve().parent / "data"


def fixture(name):
    """(setup fields, Runs, expected section) of tests/data/NAME.{json,md}."""
    recorded = json.loads((DATA / f"{name}.json").read_text())
    setup = dict(recorded["setup"], machine=Machine(**recorded["setup"]["machine"]))
    runs = Runs(Run(**run) for run in recorded["runs"])
    return setup, runs, (DATA / f"{name}.md").read_text()
