"""Turn the bytes of a body (whole, or as a ``BodyCapture`` saw them) into a stored ``Body``.

Text of a known-safe kind (JSON, form data, text/*, XML, YAML, multipart forms) is kept
redacted, up to the cap, with ``truncated``; other text (a PEM file served as
``application/x-pem-file``) and binary data keep only size and sha256 (``stream`` when it
was streamed); a body the program never read to the end is ``unread`` with the size and
hash of what went by. Hashes are keyed (an HMAC under the mark key), so a small secret body
cannot be confirmed from its hash. Runs in the writer thread.

NOTE: standard library only, Python 3.8+ (runs inside traced programs).
"""

from __future__ import annotations

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
from stacktap.redact_marks import keyed_digest

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


#: Content types whose text is kept (redacted); any other text keeps size and hash only.
_KEPT_TEXT_RE = re.compile(r"^text/|json|x-www-form-urlencoded|xml|yaml|javascript|multipart/form-data")
_CHARSET_RE = re.compile(r"charset\s*=\s*\"?([A-Za-z0-9_.:\-]+)")


def _kept_as_text(content_type: Optional[str]) -> bool:
    """Whether a text body of this type is of a known-safe kind (the redaction rules know
    its layout); untyped text counts: the rules and the fail-closed check still apply.
    A PEM file served as ``application/x-pem-file``, a ``application/pkcs8`` key... are not."""
    ctype = (content_type or "").split(";", 1)[0].strip().lower()
    return not ctype or bool(_KEPT_TEXT_RE.search(ctype))


def _decode(data: bytes, content_type: Optional[str]) -> str:
    """The text of a body: its declared charset, else UTF-8, else Latin-1 (every byte is a
    character: a Latin-1 password stays one word for the rules and the echo memory, where
    U+FFFD replacements would cut it and leave its pieces readable)."""
    match = _CHARSET_RE.search(content_type or "")
    if match:
        try:
            return data.decode(match.group(1), "strict")
        except (LookupError, UnicodeDecodeError):
            pass
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start >= len(data) - 3:
            # NOTE: a body cut at the cap in the middle of a multi-byte character.
            try:
                return data[: exc.start].decode("utf-8")
            except UnicodeDecodeError:
                pass
        return data.decode("latin-1")


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
        sha = keyed_digest(raw)
        data = raw[:cap] if size > cap else raw
    if size == 0 and complete:
        return Body(kind=BODY_NONE, content_type=content_type, size=0)
    if not complete:
        return Body(kind=BODY_UNREAD, content_type=content_type, size=size, sha256=sha)
    truncated = size > len(data)
    if _looks_textual(content_type, data) and _kept_as_text(content_type):
        text = _decode(data, content_type)
        kind, redacted = redactor.body_text(text, content_type)
        return Body(
            kind=kind, text=redacted, content_type=content_type, size=size, sha256=sha, truncated=truncated
        )
    return Body(
        kind=BODY_STREAM if streamed else BODY_BINARY, content_type=content_type, size=size, sha256=sha
    )
