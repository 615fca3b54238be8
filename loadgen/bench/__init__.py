"""The side-by-side benchmarks of ringd; the error and progress output all their parts share."""

import sys


class BenchError(Exception):
    """A benchmark cannot go on: the message says why, and the run stops with exit code 1."""


def log(message):
    """A progress line on stderr, so that stdout carries only the report."""
    print(message, file=sys.stderr, flush=True)
