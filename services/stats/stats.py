"""stats.stats(List[float]) -> (float, float): mean and sample standard deviation.

Returns two values, so the RPC declares two return types and the answer's
return-values list has two entries. Fewer than two values raises
statistics.StatisticsError (an Execution Exception).
"""

import statistics


def stats(values: list[float]) -> tuple[float, float]:
    """Return (mean, stdev) of values."""
    return statistics.fmean(values), float(statistics.stdev(values))
