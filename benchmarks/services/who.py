import os


def who(n):
    """n and the answering worker's pid, in one int: n * 10^7 + pid."""
    return n * 10000000 + os.getpid()
