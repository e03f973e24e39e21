"""calc.add(int, int) -> (int).

Adds two integers. Python ints have arbitrary precision, so this works for
numbers of any length. The (float, float) overload lives in add_float.py.
"""


def add(a: int, b: int) -> int:
    """Return a + b."""
    return a + b
