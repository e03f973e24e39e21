"""stats.echo(str) -> (str): return the argument unchanged (a round-trip check)."""


def echo(text: str) -> str:
    """Return text as received."""
    return text
