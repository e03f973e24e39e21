"""text.shout(str) -> (str): upper-case the text and add an exclamation mark.

Non-ASCII is fine ('héllo wörld' -> 'HÉLLO WÖRLD!'). This is the one example
that prints: the line goes to the server's log (stdout), not to the caller.
"""


def shout(text: str) -> str:
    """Return text.upper() + '!' and print a line to the server log."""
    loud = text.upper() + "!"
    print(f"shout: {text!r} -> {loud!r}", flush=True)
    return loud
