"""stats.mean(List[float]) -> (float): the arithmetic mean.

An empty list raises statistics.StatisticsError (an Execution Exception).
"""

import statistics


def mean(values: list[float]) -> float:
    """Return the mean of values."""
    return statistics.fmean(values)
