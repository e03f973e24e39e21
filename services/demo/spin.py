"""demo.spin() -> (int): loop forever.

It never returns on its own; init.yaml gives it `timeout: 2`, so the server
interrupts it and the caller gets a "Timeout" RPC-EX after about 2 seconds.
"""


def spin() -> int:
    """Busy-loop until the server interrupts the call."""
    while True:
        pass
