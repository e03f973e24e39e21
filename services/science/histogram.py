"""science.histogram(List[float], int) -> (List[int]): counts of values in `bins` equal bins.

np.histogram returns a numpy array of int64, which goes back as a list of ints.
"""
import numpy as np


def histogram(values: list[float], bins: int) -> list[int]:
    """Return how many values fall in each of `bins` equal-width bins."""
    counts, _edges = np.histogram(np.asarray(values), bins=bins)
    return counts
