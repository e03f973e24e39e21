"""stats.is_even(int) -> (bool): whether n is even (returns a bool)."""


def is_even(n: int) -> bool:
    """Return True when n is divisible by 2."""
    return n % 2 == 0
