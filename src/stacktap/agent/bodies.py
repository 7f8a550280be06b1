"""Turn the bytes of a body (whole, or as a ``BodyCapture`` saw them) into a stored ``Body``.

Text (JSON, form data, plain text, XML...) is kept redacted, up to the cap, with
``truncated``; binary data keeps only size and sha256 (``stream`` when it was streamed);
a body the program never read to the end is ``unread`` with the size and hash of what went
by. Runs in the writer thread.

NOTE: standard library only, Python 3.8+ (runs inside traced programs).
"""

from __future__ import annotations

import hashlib
import re
from typing import Any, Optional

from stacktap.agent.body_capture import BodyCapture
from stacktap.agent.wire import ReceivedBody
from stacktap.model import (
    BODY_BINARY,
    BODY_NONE,
    BODY_STREAM,
    BODY_UNREAD,
    Body,
)

_TEXT_MARKERS = ("json", "text/", "x-www-form-urlencoded", "xml", "javascript", "yaml")
_BINARY_MARKERS = ("octet-stream", "image/", "audio/", "video/", "zip", "gzip", "x-tar", "pdf")


_TEXT_RE = re.compile("|".join(re.escape(marker) for marker in _TEXT_MARKERS))
_BINARY_RE = re.compile("|".join(re.escape(marker) for marker in _BINARY_MARKERS))


def _looks_textual(content_type: Optional[str], data: bytes) -> bool:
    ctype = (content_type or "").lower()
    if _TEXT_RE.search(ctype):
        return True
    if _BINARY_RE.search(ctype):
        return False
    sample = data[:4096]
    if b"\x00" in sample:
        return False
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        # NOTE: a sample cut in the middle of a multi-byte character is still text.
        return exc.start >= len(sample) - 3
    return True


def make_body(raw: Any, content_type: Optional[str], cap: int, redactor: Any) -> Body:
    """The ``Body`` to store for ``raw``: None, bytes/str (the whole body), a BodyCapture or
    a body received from a traced process."""
    if raw is None:
        return Body(kind=BODY_NONE, content_type=content_type)
    if isinstance(raw, (BodyCapture, ReceivedBody)):
        data, size, complete, streamed = raw.data, raw.size, raw.complete, raw.streamed
        sha = raw.sha256()
    else:
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        elif not isinstance(raw, bytes):
            raw = bytes(raw)
        size, complete, streamed = len(raw), True, False
        sha = hashlib.sha256(raw).hexdigest()
        data = raw[:cap] if size > cap else raw
    if size == 0 and complete:
        return Body(kind=BODY_NONE, content_type=content_type, size=0)
    if not complete:
        return Body(kind=BODY_UNREAD, content_type=content_type, size=size, sha256=sha)
    truncated = size > len(data)
    if _looks_textual(content_type, data):
        text = data.decode("utf-8", "replace")
        kind, redacted = redactor.body_text(text, content_type)
        return Body(
            kind=kind, text=redacted, content_type=content_type, size=size, sha256=sha, truncated=truncated
        )
    return Body(
        kind=BODY_STREAM if streamed else BODY_BINARY, content_type=content_type, size=size, sha256=sha
    )
