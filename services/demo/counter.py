"""demo.hit() -> (int): a counter kept in module-level state.

Each call returns the next number (1, 2, 3, ...). The count lives as long as
this script stays loaded on a server and resets to 0 when it is redeployed
with different contents. Each server has its own count.
"""

_count = 0


def hit() -> int:
    """Increment the counter and return its new value."""
    global _count
    _count += 1
    return _count
