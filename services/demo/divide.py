"""demo.divide(float, float) -> (float): a / b, raising on division by zero.

divide(1, 0) shows how a Python exception reaches the caller: an RPC-EX of
type "Execution Exception" with message "ZeroDivisionError: ...".
"""


def divide(a: float, b: float) -> float:
    """Return a / b; raise ZeroDivisionError when b == 0."""
    if b == 0:
        raise ZeroDivisionError(f"cannot divide {a} by zero")
    return a / b
