import numpy as np


def outer(a, b):
    return np.outer(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64))
