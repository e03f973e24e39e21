"""stats.big(int) -> (int): 2 ** n, to show arbitrary-precision ints on the wire.

big(100) is 1267650600228229401496703205376, far beyond 64 bits. Negative n
raises ValueError (the result would not be an int).
"""


def big(n: int) -> int:
    """Return 2 ** n for n >= 0."""
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    return 2 ** n
