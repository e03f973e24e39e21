"""text.words(str) -> (List[str]): split text on runs of whitespace."""


def words(text: str) -> list[str]:
    """Return the whitespace-separated words of text ([] for blank text)."""
    return text.split()
