"""science.outer(List[float], List[float]) -> (List[List[float]]): the outer product.

A 2-D numpy array goes back as a list of rows.
"""
import numpy as np


def outer(a: list[float], b: list[float]) -> list[list[float]]:
    """Return the matrix a[i] * b[j]."""
    return np.outer(a, b)
