"""calc.add(float, float) -> (float) -- an overload of calc.add.

Same rpc name as add.py but different argument types; the server picks this
one when the request's argument-types are [float, float].
"""


def add(a: float, b: float) -> float:
    """Return a + b as a float."""
    return float(a + b)
