"""stats.total(List[float]) -> (float): the sum of the values."""

import math


def total(values: list[float]) -> float:
    """Return the exact-rounded sum of values (0.0 for an empty list)."""
    return math.fsum(values)
