"""The runs a comparison measured: one value per figure, server and round, with a note."""

from dataclasses import dataclass

from bench import log


@dataclass(frozen=True)
class Run:
    figure: str
    server: str
    round: int
    value: float | None  # None: the run measured nothing
    note: str = ""


class Runs:
    """Every run so far, in the order they were measured."""

    def __init__(self, runs=()):
        self._runs = list(runs)

    def record(self, figure, server, round_number, value, note=""):
        """Keeps a run and shows it on stderr."""
        self._runs.append(Run(figure, server, round_number, value, note))
        log(f"  {figure:<10} {server:<10} round {round_number}: {value} {note}")

    def of(self, figure, server):
        return [run for run in self._runs if (run.figure, run.server) == (figure, server)]

    def values(self, figure, server):
        return [run.value for run in self.of(figure, server)]
