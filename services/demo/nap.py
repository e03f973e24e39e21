"""demo.nap(float) -> (str): sleep for some seconds, then say so.

Blocking calls like this overlap on the server: two 1-second naps called at
the same time both finish after about one second.
"""

import time


def nap(seconds: float) -> str:
    """Sleep for seconds (>= 0) and return a short report."""
    if seconds < 0:
        raise ValueError(f"seconds must be >= 0, got {seconds}")
    start = time.monotonic()
    time.sleep(seconds)
    return f"slept {time.monotonic() - start:.3f}s"
