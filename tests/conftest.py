"""Tests never touch the user's real mark key: a fixed one, inherited by subprocesses."""

from __future__ import annotations

import os

os.environ.setdefault("STACKTAP_MARK_KEY", "stacktap-tests-mark-key")

# NOTE: spill files of stores that cannot take them may go to the user cache dir: a
# temporary one, inherited by subprocesses, keeps the real one clean.
if "STACKTAP_TESTS_CACHE" not in os.environ:
    import atexit
    import shutil
    import tempfile

    _cache = tempfile.mkdtemp(prefix="stacktap-cache-")
    os.environ["STACKTAP_TESTS_CACHE"] = os.environ["XDG_CACHE_HOME"] = _cache
    atexit.register(shutil.rmtree, _cache, True)
