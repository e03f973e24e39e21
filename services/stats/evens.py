"""stats.evens(List[int]) -> (List[int]): keep only the even numbers."""


def evens(values: list[int]) -> list[int]:
    """Return the even members of values, in order."""
    return [v for v in values if v % 2 == 0]
