"""One inbound request while it is being served, and the Call it becomes at the end.

The hot path only takes timestamps and keeps references; headers are converted, bodies
described and the Call built once, when the response iterable is closed.

NOTE: standard library only, Python 3.8+ (runs inside service processes).
"""

from __future__ import annotations

import contextvars
import os
import socket
import sys
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Tuple
from urllib.parse import quote

from stacktap.agent.body_capture import BodyCapture
from stacktap.model import BODY_NONE, BODY_UNREAD, SERVER, Body, Call, CallSite, Layer, PolicyCheck
from stacktap.paths import default_port

#: The environ key holding the ServerExchange of the request (layers and nested filters look here).
ENVIRON_KEY = "stacktap.exchange"

_HOST: List[str] = []

#: One policy check as the hook notes it on the request thread: [rule, the check object the
#: enforcer used, result, exception class name, creds (names/ids), offset, total duration,
#: count]. The same check repeated (glance checks ``get_image`` per image listed) only adds to
#: the count and the duration. The check object becomes its string only in ``to_call``.
RawPolicyCheck = List[Any]


def _hostname() -> str:
    if not _HOST:
        try:
            _HOST.append(socket.gethostname())
        except Exception:
            _HOST.append("?")
    return _HOST[0]


def request_url(environ: Dict[str, Any]) -> str:
    """The URL the client asked for, rebuilt as PEP 3333 describes."""
    scheme = environ.get("wsgi.url_scheme", "http")
    host = environ.get("HTTP_HOST")
    if not host:
        host = environ.get("SERVER_NAME", "localhost")
        port = str(environ.get("SERVER_PORT", ""))
        if port and port != str(default_port(scheme)):
            host = "%s:%s" % (host, port)
    url = "%s://%s%s%s" % (
        scheme,
        host,
        quote(environ.get("SCRIPT_NAME", "")),
        quote(environ.get("PATH_INFO", "")),
    )
    query = environ.get("QUERY_STRING")
    return url + "?" + query if query else url


def _header_name(key: str) -> str:
    """``HTTP_X_AUTH_TOKEN`` -> ``X-Auth-Token`` (WSGI loses the original case)."""
    return "-".join(part.capitalize() for part in key.split("_"))


def _check_text(check: Any) -> Optional[str]:
    """The check string of an oslo.policy check object (``str()`` of its tree), capped."""
    if check is None:
        return None
    try:
        return str(check)[:2000]
    except Exception:
        return None


class ServerExchange(object):
    """What the filter learns about one request; ``to_call()`` turns it into a Call."""

    __slots__ = (
        "content_length",
        "content_type",
        "duration",
        "error",
        "final_app",
        "handler",
        "handler_site",
        "headers",
        "layers",
        "method",
        "open_layers",
        "parent_span_id",
        "path_info",
        "policy_checks",
        "policy_index",
        "request_capture",
        "response_capture",
        "response_headers",
        "service",
        "span_id",
        "start",
        "status",
        "t0",
        "time_to_headers",
        "trace_id",
        "url",
        "werkzeug_request",
    )  # fmt: skip

    def __init__(
        self,
        environ: Dict[str, Any],
        service: str,
        trace_id: str,
        span_id: str,
        parent_span_id: Optional[str],
        record_layers: bool,
    ) -> None:
        self.start = time.time()
        self.t0 = time.perf_counter()
        self.service = service
        self.trace_id = trace_id
        self.span_id = span_id
        self.parent_span_id = parent_span_id
        self.method = environ.get("REQUEST_METHOD", "GET")
        self.url = request_url(environ)
        #: The path below the app's mount point, as the filter saw it (middlewares may rewrite it).
        self.path_info: str = environ.get("PATH_INFO", "")
        self.headers = [(k, v) for k, v in environ.items() if k[:5] == "HTTP_"]
        self.content_type = environ.get("CONTENT_TYPE")
        self.content_length = environ.get("CONTENT_LENGTH")
        self.request_capture: Optional[BodyCapture] = None
        self.response_capture: Optional[BodyCapture] = None
        self.status: Optional[str] = None
        self.response_headers: List[Tuple[str, str]] = []
        self.time_to_headers: Optional[float] = None
        self.duration: Optional[float] = None
        self.error: Optional[BaseException] = None
        self.layers: Optional[List[Layer]] = [] if record_layers else None
        self.open_layers: Dict[int, Layer] = {}  # id(layer wrapper) -> its Layer, this request
        self.handler: Optional[str] = None
        #: Where the handler's code is (file and ``def`` line): the server side's ``call_site``.
        self.handler_site: Optional[CallSite] = None
        self.final_app: Optional[str] = None
        self.werkzeug_request: Any = None
        #: The oslo.policy checks made while handling it (``stacktap.agent.server.policy``).
        self.policy_checks: List[RawPolicyCheck] = []
        #: (rule, result, error, id(creds)) -> index in ``policy_checks`` (repeats are counted).
        self.policy_index: Dict[Tuple[Any, ...], int] = {}

    def elapsed(self) -> float:
        """Seconds since the request came in (monotonic)."""
        return time.perf_counter() - self.t0

    def wrap_start_response(
        self, environ: Dict[str, Any], start_response: Callable[..., Any]
    ) -> Callable[..., Any]:
        """A start_response that notes status, headers and time to headers, then goes on."""

        def traced_start_response(status: str, headers: List[Tuple[str, str]], exc_info: Any = None) -> Any:
            self.time_to_headers = time.perf_counter() - self.t0
            # NOTE: Flask clears environ['werkzeug.request'] when its request context ends,
            # before the response is closed: keep the request (and its url_rule) now.
            if self.werkzeug_request is None:
                self.werkzeug_request = environ.get("werkzeug.request")
            self.status = status
            self.response_headers = list(headers)
            if exc_info is None:
                return start_response(status, headers)
            return start_response(status, headers, exc_info)

        return traced_start_response

    def to_call(self) -> Call:
        """The server Call, unredacted (the recorder redacts)."""
        status_code: Optional[int] = None
        reason: Optional[str] = None
        if self.status:
            code, _, reason = self.status.partition(" ")
            try:
                status_code = int(code)
            except ValueError:
                reason = self.status
        headers = [(_header_name(k[5:]), v) for k, v in self.headers]
        if self.content_type:
            headers.append(("Content-Type", self.content_type))
        if self.content_length:
            headers.append(("Content-Length", self.content_length))
        call = Call(
            run_id="",
            method=self.method,
            url=self.url,
            start=self.start,
            trace_id=self.trace_id,
            span_id=self.span_id,
            parent_span_id=self.parent_span_id,
            side=SERVER,
            pid=os.getpid(),
            process_name=os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else None,
            thread=threading.current_thread().name,
            local_service=self.service,
            host=_hostname(),
            request_headers=headers,
            request_body=self._request_body(),
            status=status_code,
            reason=reason or None,
            response_headers=self.response_headers,
            response_body=self._response_body(),
            time_to_headers=self.time_to_headers,
            duration=self.duration,
            call_site=self.handler_site,
            handler=self.handler,
            app=self.final_app,
            layers=self.layers or [],
        )
        for layer in call.layers:
            layer.span_id = call.span_id
        call.policy_checks = [
            PolicyCheck(
                span_id=call.span_id,
                order=order,
                rule=rule,
                check=_check_text(check),
                result=result,
                error=error,
                creds=creds,
                offset=offset,
                duration=duration,
                count=count,
            )
            for order, (rule, check, result, error, creds, offset, duration, count) in enumerate(
                self.policy_checks
            )
        ]
        for key, value in self.response_headers:
            lower = key.lower()
            if lower == "x-openstack-request-id" or (lower == "x-compute-request-id" and not call.request_id):
                call.request_id = value
        for key, value in self.headers:
            if key == "HTTP_X_OPENSTACK_REQUEST_ID":
                call.global_request_id = value
        if self.error is not None:
            call.error_type = type(self.error).__name__
            call.error_message = str(self.error)[:1000]
        return call

    def _request_body(self) -> Body:
        capture = self.request_capture
        expected = self.expected_length()
        if (capture is None or not capture.size) and expected:
            return Body(kind=BODY_UNREAD, content_type=self.content_type, size=expected)
        return Body(kind=BODY_NONE, content_type=self.content_type)

    def _response_body(self) -> Body:
        for key, value in self.response_headers:
            if key.lower() == "content-type":
                return Body(kind=BODY_NONE, content_type=value)
        return Body(kind=BODY_NONE)

    def expected_length(self) -> int:
        """The request's Content-Length (0 when absent or junk)."""
        try:
            return int(self.content_length or 0)
        except ValueError:
            return 0

    def body_records(self) -> Tuple[Optional[BodyCapture], Optional[BodyCapture]]:
        """The (request, response) captures for the recorder, which describes them off the
        request thread (kind, text, sha256) from the first ``cap`` bytes, size and flags."""
        request = self.request_capture
        if request is not None:
            if not request.size:
                request = None
            elif request.size >= self.expected_length() > 0:
                # NOTE: apps read Content-Length bytes and never ask for EOF: that is the end.
                request.complete = True
        response = self.response_capture
        if response is not None and not response.size:
            response.complete = True
        return request, response


_current: contextvars.ContextVar[Optional[ServerExchange]] = contextvars.ContextVar(
    "stacktap_current_exchange", default=None
)

#: ``current_exchange()``: the traced request this thread/task is handling, if any (the
#: policy hook attaches its checks there). NOTE: the ContextVar's own C ``get``: it is read
#: on every policy check, traced or not.
current_exchange: Callable[[], Optional[ServerExchange]] = _current.get


def set_current_exchange(exchange: ServerExchange) -> contextvars.Token:
    """Make ``exchange`` the request being handled from here on; keep the token to reset."""
    return _current.set(exchange)


def reset_current_exchange(token: contextvars.Token) -> None:
    _current.reset(token)
