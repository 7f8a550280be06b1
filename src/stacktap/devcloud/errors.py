"""The one error the dev cloud raises: its message is what the user sees after ``stacktap:``."""

from __future__ import annotations


class DevcloudError(Exception):
    """Something the user can fix; ``str(exc)`` is a single line naming the log to read."""
