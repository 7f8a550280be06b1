"""One client HTTP exchange in flight: the cheap facts the hot path collects.

The hooks fill an ``Exchange`` (no model objects, no redaction, no JSON) and hand it to
the recorder when its response body ends; the writer thread turns it into a ``model.Call``.

NOTE: standard library only, Python 3.8+ (runs inside traced programs).
"""

from __future__ import annotations

import threading
import time
from typing import Any, List, Optional, Tuple

from stacktap.agent import context
from stacktap.agent.callsite import capture_frames
from stacktap.model import new_span_id, new_trace_id

# NOTE: the ids come from stacktap.model (one pooled generator for the whole of stacktap).
__all__ = ["new_span_id", "new_trace_id"]


_current_span = context.current_span


def error_name(exc: BaseException) -> str:
    """``requests.exceptions.ConnectTimeout``; builtins without their module."""
    klass = type(exc)
    if klass.__module__ == "builtins":
        return klass.__qualname__
    return "%s.%s" % (klass.__module__, klass.__qualname__)


class Exchange(object):
    """Facts about one call, filled as it goes: request, headers back, body end.

    NOTE: what is not known when the call starts defaults to None at class level (no
    ``__slots__``): the hot path pays one store per attribute it sets, so it sets only what
    it has. ``request_headers`` defaults to a shared empty list: the hooks assign their own.
    """

    request_headers: List[Tuple[str, str]] = []
    #: None, bytes or str (the body as sent), or a BodyCapture (a stream, teed).
    request_body: Any = None
    parent_span_id: Optional[str] = None
    status: Optional[int] = None
    reason: Optional[str] = None
    #: As the HTTP library gives them (urllib3's HTTPHeaderDict).
    response_headers: Any = None
    #: None, bytes (urllib3, preloaded) or a BodyCapture.
    response_body: Any = None
    time_to_headers: Optional[float] = None
    duration: Optional[float] = None
    error_type: Optional[str] = None
    error_message: Optional[str] = None

    def __init__(self, recorder: Any, method: str, url: str, skip_frames: int = 3) -> None:
        self._recorder = recorder
        self.method = method
        self.url = url
        self.site, self.stack = capture_frames(skip_frames)
        parent = _current_span()
        if parent is None:
            self.trace_id = recorder.trace_id or new_trace_id()
        else:
            self.trace_id = parent.trace_id
            self.parent_span_id = parent.span_id
        self.span_id = new_span_id()
        self.thread = threading.current_thread().name
        self.start = time.time()
        self.t0 = time.perf_counter()

    def traceparent(self) -> str:
        return context.format_traceparent(self.trace_id, self.span_id)

    def adopt_traceparent(self, value: str) -> None:
        """The program sent its own traceparent: join its trace as its child."""
        parsed = context.parse_traceparent(value)
        if parsed is not None:
            self.trace_id, self.parent_span_id = parsed.trace_id, parsed.span_id

    def headers_received(self, status: Optional[int], reason: Optional[str], headers: Any) -> None:
        self.time_to_headers = time.perf_counter() - self.t0
        self.status = status
        self.reason = reason
        self.response_headers = headers

    def failed(self, exc: BaseException) -> None:
        """The call raised (connection refused, timeout...): record it now."""
        self.duration = time.perf_counter() - self.t0
        self.error_type = error_name(exc)
        self.error_message = str(exc)[:2000]
        self._recorder.submit_exchange(self)

    def finish(self, complete: bool = True) -> None:
        """The response body ended (or will never be read): record it now."""
        if self.duration is None:
            self.duration = time.perf_counter() - self.t0
        self._recorder.submit_exchange(self)


_UNKNOWN = object()


def body_expected(method: str, status: Optional[int], headers: Any, raw: Any = None) -> bool:
    """False when the response cannot have a body (HEAD, 1xx, 204, 304, length 0).

    ``raw``: the urllib3 response, if at hand. NOTE: its ``length_remaining`` (set from
    Content-Length before anything is read; None without one) answers without a lookup in
    ``headers`` (a Python-level ``get`` and ``__getitem__``).
    """
    if method == "HEAD" or status in (204, 304) or (status is not None and 100 <= status < 200):
        return False
    remaining = getattr(raw, "length_remaining", _UNKNOWN)
    if remaining is None or type(remaining) is int:
        return remaining != 0
    try:
        length = headers.get("content-length")
    except Exception:
        return True
    return length is None or length.strip() != "0"
