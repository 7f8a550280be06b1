"""One client HTTP exchange in flight: the cheap facts the hot path collects.

The hooks fill an ``Exchange`` (no model objects, no redaction, no JSON) and hand it to
the recorder when its response body ends; the writer thread turns it into a ``model.Call``.

NOTE: standard library only, Python 3.8+ (runs inside traced programs).
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any, List, Optional, Tuple

from stacktap.capture import context
from stacktap.capture.callsite import capture_frames


def new_span_id() -> str:
    return os.urandom(8).hex()


def new_trace_id() -> str:
    return os.urandom(16).hex()


def error_name(exc: BaseException) -> str:
    """``requests.exceptions.ConnectTimeout``; builtins without their module."""
    klass = type(exc)
    if klass.__module__ == "builtins":
        return klass.__qualname__
    return "%s.%s" % (klass.__module__, klass.__qualname__)


class Exchange(object):
    """Facts about one call, filled as it goes: request, headers back, body end."""

    __slots__ = (
        "_recorder",
        "duration",
        "error_message",
        "error_type",
        "method",
        "parent_span_id",
        "reason",
        "request_body",
        "request_headers",
        "response_body",
        "response_headers",
        "site",
        "span_id",
        "stack",
        "start",
        "status",
        "t0",
        "thread",
        "time_to_headers",
        "trace_id",
        "url",
    )

    def __init__(self, recorder: Any, method: str, url: str, skip_frames: int = 3) -> None:
        self._recorder = recorder
        self.method = method
        self.url = url
        self.site, self.stack = capture_frames(skip_frames)
        parent = context.current_span()
        if parent is not None:
            self.trace_id = parent.trace_id
            self.parent_span_id: Optional[str] = parent.span_id
        else:
            self.trace_id = recorder.trace_id or new_trace_id()
            self.parent_span_id = None
        self.span_id = new_span_id()
        self.thread = threading.current_thread().name
        self.request_headers: List[Tuple[str, str]] = []
        self.request_body: Any = None
        self.status: Optional[int] = None
        self.reason: Optional[str] = None
        self.response_headers: Any = None
        self.response_body: Any = None
        self.time_to_headers: Optional[float] = None
        self.duration: Optional[float] = None
        self.error_type: Optional[str] = None
        self.error_message: Optional[str] = None
        self.start = time.time()
        self.t0 = time.perf_counter()

    def traceparent(self) -> str:
        return "00-%s-%s-01" % (self.trace_id, self.span_id)

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


def body_expected(method: str, status: Optional[int], headers: Any) -> bool:
    """False when the response cannot have a body (HEAD, 1xx, 204, 304, length 0)."""
    if method == "HEAD" or status in (204, 304) or (status is not None and 100 <= status < 200):
        return False
    try:
        length = headers.get("content-length")
    except Exception:
        return True
    return length is None or length.strip() != "0"
