"""text.upper(str) -> (str): the text in upper case (Unicode-aware)."""


def upper(text: str) -> str:
    """Return text.upper(), e.g. 'straße' -> 'STRASSE'."""
    return text.upper()
