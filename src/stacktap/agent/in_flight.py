"""Whether this thread/task is already inside a recorded call.

``requests`` sits on top of urllib3: while the requests hook records a call, the urllib3
hook must stay out of it (and urllib3's own retries re-enter ``urlopen``).

NOTE: a ContextVar, not threading.local: under eventlet (nova, glance) each green
thread has its own context. Standard library only, Python 3.8+.
"""

from __future__ import annotations

import contextvars

in_recorded_call: contextvars.ContextVar[bool] = contextvars.ContextVar("stacktap_in_call", default=False)
