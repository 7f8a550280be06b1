"""Tests never touch the user's real mark key: a fixed one, inherited by subprocesses."""

from __future__ import annotations

import os

os.environ.setdefault("STACKTAP_MARK_KEY", "stacktap-tests-mark-key")
