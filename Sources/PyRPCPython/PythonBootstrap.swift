/// Python source run once at start in the helper module `_pyrpc`: the timeout exception,
/// and stdout/stderr streams that send each printed line to the server log (never the wire).
enum PythonBootstrap {
    static let moduleName = "_pyrpc"

    static let source = #"""
import importlib
import io
import site
import sys
import threading
import traceback


class RPCTimeout(BaseException):
    """Raised inside an RPC that ran past its time limit.

    A BaseException so that `except Exception:` in user code does not swallow it.
    """


class _LogStream(io.TextIOBase):
    """A text stream that forwards whole lines to the server log, one buffer per thread."""

    def __init__(self, sink, name):
        self._sink = sink
        self._local = threading.local()
        self._name = name

    @property
    def name(self):
        return self._name

    @property
    def encoding(self):
        return "utf-8"

    def writable(self):
        return True

    def isatty(self):
        return False

    def write(self, s):
        if not isinstance(s, str):
            raise TypeError("write() argument must be str, not " + type(s).__name__)
        pending = getattr(self._local, "pending", "") + s
        if "\n" in pending:
            *lines, pending = pending.split("\n")
            for line in lines:
                self._sink(line)
        self._local.pending = pending
        return len(s)

    def flush(self):
        pending = getattr(self._local, "pending", "")
        if pending:
            self._local.pending = ""
            self._sink(pending)


# SPEC: ints are arbitrary precision end to end, so lift 3.11's 4300-digit text limit.
if hasattr(sys, "set_int_max_str_digits"):
    sys.set_int_max_str_digits(0)

# The interpreter's own site-packages, which a venv made without
# --system-site-packages hides, as the venv's own python would.
_system_site_packages = site.getsitepackages()


def use_environment(site_dirs, extra, keep_system):
    """Puts a venv's site-packages (with its .pth files) and extra folders first on sys.path."""
    before = list(sys.path)
    for folder in site_dirs:
        site.addsitedir(folder)
    added = [p for p in sys.path if p not in before]
    rest = [p for p in before if keep_system or p not in _system_site_packages]
    sys.path[:] = extra + [p for p in added if p not in extra] + [p for p in rest if p not in extra]
    importlib.invalidate_caches()


# A process a script forks (os.fork, multiprocessing) must never touch the server's
# sockets nor outlive it; see pyrpc_after_fork_in_child.
import os as _os
_os.register_at_fork(after_in_child=lambda: _after_fork_in_child(None))
# A call that exits its worker process is answered, and its connections handed over, first.
_os._exit = _exit

sys.stdout = _LogStream(_log_out, "<stdout>")
sys.stderr = _LogStream(_log_err, "<stderr>")
sys.stdin = io.StringIO("")
format_exception = traceback.format_exception
"""#
}
