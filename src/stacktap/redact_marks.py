"""Keyed marks: a secret is replaced by an HMAC-SHA256 of it under a per-installation key.

Equal secrets get equal marks within one installation (and across hosts that share the
key), so a token can still be followed from call to call; but without the key, a guessed
password cannot be confirmed against a trace (a plain hash could be).

The key is, in order:

- ``$STACKTAP_MARK_KEY`` (any text; for fleets: give every host the same value, and
  traces merged from them stay linkable);
- the file ``$STACKTAP_MARK_KEY_FILE``, else ``<user data dir>/stacktap/mark.key``
  (``$XDG_DATA_HOME`` or ``~/.local/share``), created on first use with mode 0600 and 32
  random bytes; the dev cloud's services and the clients of the same user share it;
- when that file can neither be read nor created: a random key for this process only.

NOTE: runs inside traced programs: Python 3.8+, standard library only.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import threading
from typing import Optional

MARK_KEY_ENV = "STACKTAP_MARK_KEY"
MARK_KEY_FILE_ENV = "STACKTAP_MARK_KEY_FILE"

_lock = threading.Lock()
_base: Optional["hmac.HMAC"] = None


def key_path() -> str:
    """Where the per-installation key lives."""
    env = os.environ.get(MARK_KEY_FILE_ENV)
    if env:
        return env
    base = os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share")
    return os.path.join(base, "stacktap", "mark.key")


def _load_key() -> bytes:
    env = os.environ.get(MARK_KEY_ENV)
    if env:
        return env.encode("utf-8", "surrogatepass")
    path = key_path()
    try:
        with open(path, "rb") as handle:
            key = handle.read().strip()
        if key:
            return key
    except OSError:
        pass
    key = secrets.token_hex(32).encode("ascii")
    try:
        os.makedirs(os.path.dirname(path) or ".", mode=0o700, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(key + b"\n")
        return key
    except FileExistsError:  # NOTE: another process created it first: use theirs
        try:
            with open(path, "rb") as handle:
                return handle.read().strip() or key
        except OSError:
            return key
    except OSError:
        return key


def keyed_hasher(data: bytes = b"") -> "hmac.HMAC":
    """A running HMAC-SHA256 under the mark key, fed ``data`` (``update()`` it with more).

    Body hashes use it too: a plain sha256 of a small secret body (a barbican payload, a
    one-line password file) could be confirmed by hashing guesses.
    """
    global _base
    base = _base
    if base is None:
        with _lock:
            if _base is None:
                _base = hmac.new(_load_key(), digestmod=hashlib.sha256)
            base = _base
    digest = base.copy()
    if data:
        digest.update(data)
    return digest


def keyed_digest(data: bytes) -> str:
    """Hex HMAC-SHA256 of ``data`` under the mark key."""
    return keyed_hasher(data).hexdigest()


def reset_mark_key() -> None:
    """Forget the loaded key (tests, or after ``$STACKTAP_MARK_KEY`` changed)."""
    global _base
    with _lock:
        _base = None
