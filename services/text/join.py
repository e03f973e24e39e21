"""text.join(List[str], str) -> (str): join parts with a separator."""


def join(parts: list[str], sep: str) -> str:
    """Return sep.join(parts), e.g. (['a', 'b'], '-') -> 'a-b'."""
    return sep.join(parts)
