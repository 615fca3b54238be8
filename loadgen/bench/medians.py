"""The median that makes a figure out of its rounds."""

import statistics


def median(values):
    """The median of the values measured (None: a run that measured nothing), or None when no
    run measured anything."""
    measured = [value for value in values if value is not None]
    return statistics.median(measured) if measured else None


def ramp_median(rates):
    """The median of ramps' highest rates: a ramp that served no step (None) counts as 0, and of
    two middle values the lower is taken, so that the figure is a rate some step ran at."""
    counted = [0.0 if rate is None else rate for rate in rates]
    return statistics.median_low(counted) if counted else None
