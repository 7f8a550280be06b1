"""Stored bodies as the text renderers print them.

JSON is pretty-printed; binary and streamed bodies, which were never kept, print as a
one-line placeholder with their size and sha256; a capped body ends with a truncation mark
and a body the program never (fully) read says so. Bodies are stored redacted already.
"""

from __future__ import annotations

import json

from stacktap.model import (
    BODY_BINARY,
    BODY_JSON,
    BODY_NONE,
    BODY_REDACTED,
    BODY_STREAM,
    BODY_UNREAD,
    Body,
)


def has_body(body: Body) -> bool:
    """Whether there is anything to show: text, or bytes that went by."""
    return body.kind != BODY_NONE or bool(body.text) or bool(body.size)


def pretty_json(text: str) -> str:
    """``text`` re-indented by 2 when it parses as JSON, else unchanged."""
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except (ValueError, RecursionError):
        return text


def _digest(body: Body) -> str:
    return f" sha256={body.sha256}" if body.sha256 else ""


def placeholder(body: Body) -> str | None:
    """The one-line stand-in for a body whose content was not kept, or ``None``."""
    size = body.size or 0
    if body.kind == BODY_BINARY:
        return f"<binary {size} bytes{_digest(body)}>"
    if body.kind == BODY_STREAM:
        return f"<streamed {size} bytes{_digest(body)}, not kept>"
    if body.kind == BODY_UNREAD:
        return f"<unread: the program did not read the body ({size} bytes seen){_digest(body)}>"
    return None


def truncation_mark(body: Body) -> str | None:
    """``<truncated: first N of M bytes shown>`` for a capped body, else ``None``."""
    if not body.truncated:
        return None
    shown = len((body.text or "").encode("utf-8", "surrogatepass"))
    if body.size:
        return f"<truncated: first {shown} of {body.size} bytes shown>"
    return f"<truncated: first {shown} bytes shown>"


def body_text(body: Body, pretty: bool = True) -> str:
    """The body as text renderers print it ('' when there is none).

    NOTE: a capped JSON body does not parse, so it prints as stored, then the truncation mark.
    """
    stand_in = placeholder(body)
    if stand_in is not None:
        return stand_in
    text = body.text or ""
    if body.kind == BODY_JSON and pretty and not body.truncated:
        text = pretty_json(text)
    mark = truncation_mark(body)
    if mark is not None and body.kind != BODY_REDACTED:
        text = f"{text}\n{mark}" if text else mark
    return text
