"""Report a fault inside stacktap once, and let the program or the request go on.

``warn_once``: the one warning a traced process may print (stacktap failed, the program goes
on). ``report_fault``: a fault in the server filter, logged once per kind.

The filter runs inside glance-api, nova-api and keystone: whatever goes wrong in stacktap
(an unwritable store, a bug, an odd environ) must never fail or slow a request. The first
fault of each kind is logged through ``logging`` (so it lands in the service's log) and
one line goes to stderr; later ones are counted silently.

NOTE: standard library only, Python 3.8+ (runs inside service processes).
"""

from __future__ import annotations

import sys
from typing import Dict

#: The logger faults go to (``logging`` is imported on the first fault only: the bootstrap
#: imports this module in every traced Python, where start-up time counts).
LOGGER_NAME = "stacktap.wsgi"

#: How often each kind of fault happened in this process (for tests and debugging).
fault_counts: Dict[str, int] = {}


def report_fault(where: str, exc: BaseException) -> None:
    """Log ``exc`` raised in ``where`` the first time that kind of fault happens; never raises."""
    try:
        key = "%s:%s" % (where, type(exc).__name__)
        seen = fault_counts.get(key, 0)
        fault_counts[key] = seen + 1
        if seen:
            return
        import logging

        logging.getLogger(LOGGER_NAME).warning(
            "stacktap: %s failed (%s: %s); requests go on untraced there",
            where,
            type(exc).__name__,
            exc,
            exc_info=exc,
        )
        warn_once("%s failed: %s: %s" % (where, type(exc).__name__, exc))
    except Exception:  # NOTE: reporting must not become the fault
        pass


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
