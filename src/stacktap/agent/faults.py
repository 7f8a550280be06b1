"""Report a fault inside stacktap once, and let the request go on.

The filter runs inside glance-api, nova-api and keystone: whatever goes wrong in stacktap
(an unwritable store, a bug, an odd environ) must never fail or slow a request. The first
fault of each kind is logged through ``logging`` (so it lands in the service's log) and
one line goes to stderr; later ones are counted silently.

NOTE: standard library only, Python 3.8+ (runs inside service processes).
"""

from __future__ import annotations

import logging
from typing import Dict

LOG = logging.getLogger("stacktap.wsgi")

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
        LOG.warning(
            "stacktap: %s failed (%s: %s); requests go on untraced there",
            where,
            type(exc).__name__,
            exc,
            exc_info=exc,
        )
        from stacktap.agent.warn import warn_once

        warn_once("%s failed: %s: %s" % (where, type(exc).__name__, exc))
    except Exception:  # NOTE: reporting must not become the fault
        pass
