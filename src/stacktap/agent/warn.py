"""The one warning a traced process may print: stacktap failed, the program goes on.

NOTE: standard library only, Python 3.8+ (runs inside traced programs).
"""

from __future__ import annotations

import sys

_warned = False


def warn_once(message: str) -> None:
    """Print ``stacktap: warning: <message>`` on stderr, the first time only; never raises."""
    global _warned
    if _warned:
        return
    _warned = True
    try:
        sys.stderr.write("stacktap: warning: %s (stacktap keeps quiet from now on)\n" % message)
        sys.stderr.flush()
    except Exception:
        pass


def reset_for_tests() -> None:
    global _warned
    _warned = False
