"""demo.exit(int) -> (int): call sys.exit(code).

sys.exit raises SystemExit; the server must report it to the caller as an
"Execution Exception" ("SystemExit: <code>") and keep running.
"""

import sys


def exit(code: int) -> int:  # noqa: A001 - the rpc is deliberately named exit
    """Raise SystemExit(code); never returns."""
    sys.exit(code)
