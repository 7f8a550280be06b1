"""The span a thread or task is working for, so outbound calls know their parent.

The server filter sets it while a request is being handled; the client hook reads it to
make the calls a service makes (token validation, image lookup) children of that request.

NOTE: standard library only, Python 3.8+.
"""

from __future__ import annotations

import contextvars
from typing import Callable, NamedTuple, Optional


class SpanContext(NamedTuple):
    trace_id: str
    span_id: str


_current: contextvars.ContextVar[Optional[SpanContext]] = contextvars.ContextVar(
    "stacktap_current_span", default=None
)


#: ``current_span()``: the span being served right now in this thread/task, if any.
#: NOTE: the ContextVar's own ``get`` (a C call), not a function around it: the client hooks
#: call it for every outbound call.
current_span: Callable[[], Optional[SpanContext]] = _current.get


def set_current_span(trace_id: str, span_id: str) -> contextvars.Token:
    """Make (trace_id, span_id) the parent of calls made from here on; keep the token to reset."""
    return _current.set(SpanContext(trace_id, span_id))


def reset_current_span(token: contextvars.Token) -> None:
    _current.reset(token)


def parse_traceparent(value: Optional[str]) -> Optional[SpanContext]:
    """The (trace id, parent span id) of a W3C ``traceparent`` header, or None if malformed."""
    if not value:
        return None
    parts = value.strip().split("-")
    if len(parts) < 4 or len(parts[0]) != 2 or len(parts[1]) != 32 or len(parts[2]) != 16:
        return None
    version, trace_id, span_id = parts[0].lower(), parts[1].lower(), parts[2].lower()
    if version == "ff" or trace_id == "0" * 32 or span_id == "0" * 16:
        return None
    try:
        int(trace_id, 16)
        int(span_id, 16)
    except ValueError:
        return None
    return SpanContext(trace_id, span_id)


def format_traceparent(trace_id: str, span_id: str, sampled: bool = True) -> str:
    """A W3C ``traceparent`` header value."""
    return "00-%s-%s-%s" % (trace_id, span_id, "01" if sampled else "00")
