"""Turn server tracing on and off while the services run, without a restart.

Tracing stops while a control file exists next to the store:

- ``<db dir>/stacktap.disabled``            every traced service writing to that store;
- ``<db dir>/stacktap.<service>.disabled``  one service (``stacktap.glance-api.disabled``).

``touch`` one to stop, ``rm`` it to resume. The filter looks at most once per second
(one ``os.stat`` per file), so a toggle takes effect within a second and costs nothing
per request. The ``enabled = false`` filter option turns tracing off for good.

NOTE: standard library only, Python 3.8+ (runs inside service processes).
"""

from __future__ import annotations

import os
import time
from typing import List, Optional

CHECK_INTERVAL = 1.0


def control_files(db_path: str, service: Optional[str] = None) -> List[str]:
    """The control files that turn tracing off for ``service`` writing to ``db_path``."""
    directory = os.path.dirname(os.path.abspath(db_path))
    files = [os.path.join(directory, "stacktap.disabled")]
    if service:
        files.append(os.path.join(directory, "stacktap.%s.disabled" % service))
    return files


class Switch(object):
    """Answers "trace this request?" from the option and the control files (cached 1 s)."""

    __slots__ = ("_enabled", "_files", "_interval", "_next_check", "_on")

    def __init__(
        self,
        db_path: Optional[str],
        service: Optional[str] = None,
        enabled: bool = True,
        interval: float = CHECK_INTERVAL,
    ) -> None:
        self._files = control_files(db_path, service) if db_path else []
        self._enabled = enabled
        self._interval = interval
        self._on = enabled
        self._next_check = 0.0

    def on(self) -> bool:
        """Whether tracing is on right now."""
        if not self._enabled:
            return False
        now = time.monotonic()
        if now >= self._next_check:
            self._next_check = now + self._interval
            self._on = not any(os.path.exists(path) for path in self._files)
        return self._on
