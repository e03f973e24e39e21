"""science.fit(List[float], List[float]) -> (float, float): least-squares line y = a*x + b.

Uses numpy (from the venv that examples/numpy.yaml names): np.polyfit returns numpy
float64 values, which go back as plain floats.
"""
import numpy as np


def fit(xs: list[float], ys: list[float]) -> tuple[float, float]:
    """Return the slope and intercept of the best line through the points."""
    slope, intercept = np.polyfit(np.asarray(xs), np.asarray(ys), 1)
    return slope, intercept
