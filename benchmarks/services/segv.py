import ctypes


def segv():
    """Crashes its worker process with SIGSEGV (a NULL read in C)."""
    ctypes.string_at(0)
    return 0
