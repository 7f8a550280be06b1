"""The records stacktap keeps: a Run, the Calls seen in it, and the Layers and policy checks
of a server call.

The shape follows OpenTelemetry spans (trace id, span id, parent span id, kind) so that
exporting is a mapping, not a rewrite.

NOTE: this module is imported inside traced programs, which may run any Python from 3.8
on and have nothing but the standard library: keep it that way.
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, List, Optional, Tuple

Headers = List[Tuple[str, str]]

CLIENT = "client"
SERVER = "server"

#: Record kinds, as stored in ``Call.kind`` (see ``stacktap.store.schema``, migration 2 -> 3).
KIND_HTTP = "http"
KIND_RPC_CALL = "rpc.call"  # oslo.messaging call: waits for the reply (client side)
KIND_RPC_CAST = "rpc.cast"  # oslo.messaging cast or fanout: returns once published (client side)
KIND_RPC_SERVER = "rpc.server"  # a message dispatched to an endpoint method (server side)
KIND_DB = "db"  # one SQL statement, placeholders only
RPC_KINDS = (KIND_RPC_CALL, KIND_RPC_CAST, KIND_RPC_SERVER)

#: Body kinds, as stored in ``Body.kind``.
BODY_NONE = "none"  # no body at all
BODY_JSON = "json"  # ``text`` holds the (redacted) JSON text
BODY_TEXT = "text"  # ``text`` holds (redacted) text: form data, plain text, HTML...
BODY_BINARY = "binary"  # only size and sha256 are kept
BODY_STREAM = "stream"  # a streamed body that was not kept: size and sha256 as it went by
BODY_REDACTED = "redacted"  # could not be parsed but might hold a secret: replaced whole
BODY_UNREAD = "unread"  # the program never read (all of) it


# NOTE: os.urandom(n).hex() is exactly secrets.token_hex(n) (its SystemRandom reads
# os.urandom) without importing secrets, which loads hashlib (OpenSSL), random and hmac:
# ~5 ms of the start-up of `stacktap run`, which only needs ids.
#: Span ids drawn from one ``os.urandom`` call.
POOL_IDS = 512
_POOL_DIGITS = 16 * POOL_IDS
_ZERO_SPAN = "0" * 16
_EMPTY_POOL = ("", itertools.repeat(_POOL_DIGITS))

# NOTE: ids come from a pool, ``(hex digits of os.urandom(8 * POOL_IDS), slot counter)``: one
# getrandom() system call per 512 ids instead of one per id (~0.5 us each). No lock: the tuple
# is read and replaced whole, and ``next()`` on an ``itertools.count`` is atomic under the GIL,
# so each 16-digit slot of a pool goes to one caller only (two threads refilling at once each
# make a new pool: no slot is handed out twice). The pool starts empty (nothing drawn at
# import), and empty again in a forked child, or parent and child would hand out the same ids.
_pool: Tuple[str, Iterator[int]] = _EMPTY_POOL


def _refill_pool() -> None:
    global _pool
    _pool = (os.urandom(_POOL_DIGITS // 2).hex(), itertools.count(0, 16))


def _empty_pool() -> None:
    global _pool
    _pool = _EMPTY_POOL


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_empty_pool)


def new_span_id() -> str:
    """A random W3C span id: 16 lowercase hex digits, not all zero."""
    digits, slots = _pool
    start = next(slots)
    if start < _POOL_DIGITS:
        span = digits[start : start + 16]
        if span != _ZERO_SPAN:  # NOTE: invalid in W3C (one chance in 2**64)
            return span
    else:
        _refill_pool()
    return new_span_id()


def new_trace_id() -> str:
    """A random W3C trace id: 32 lowercase hex digits, not all zero."""
    return new_span_id() + new_span_id()


def new_run_id() -> str:
    """A short random run id, easy to type (12 hex digits)."""
    return os.urandom(6).hex()


@dataclass
class Body:
    """One request or response body as stored: redacted, capped, or only measured."""

    kind: str = BODY_NONE
    text: Optional[str] = None
    content_type: Optional[str] = None
    size: Optional[int] = None  # bytes that went over the wire (after any content decoding)
    sha256: Optional[str] = None  # hex digest of all the bytes, even when text is capped
    truncated: bool = False  # text holds only the first ``cap`` bytes

    def to_dict(self) -> Dict[str, Any]:
        return {
            "kind": self.kind,
            "text": self.text,
            "content_type": self.content_type,
            "size": self.size,
            "sha256": self.sha256,
            "truncated": self.truncated,
        }

    @classmethod
    def from_dict(cls, data: Optional[Dict[str, Any]]) -> Body:
        if not data:
            return cls()
        return cls(
            kind=data.get("kind") or BODY_NONE,
            text=data.get("text"),
            content_type=data.get("content_type"),
            size=data.get("size"),
            sha256=data.get("sha256"),
            truncated=bool(data.get("truncated")),
        )


@dataclass
class CallSite:
    """A place in Python code: where a client call was issued (the first frame outside
    HTTP/auth plumbing), or the handler that answered a server-side request."""

    file: str
    line: int
    function: str
    module: Optional[str] = None
    cls: Optional[str] = None

    @property
    def label(self) -> str:
        """``openstackclient/image/v2/image.py:ListImage.take_action``."""
        func = "%s.%s" % (self.cls, self.function) if self.cls else self.function
        return "%s:%s" % (short_path(self.file), func)

    def to_dict(self) -> Dict[str, Any]:
        return {
            "file": self.file,
            "line": self.line,
            "function": self.function,
            "module": self.module,
            "cls": self.cls,
        }

    @classmethod
    def from_dict(cls, data: Optional[Dict[str, Any]]) -> Optional[CallSite]:
        if not data:
            return None
        return cls(
            file=data.get("file") or "?",
            line=int(data.get("line") or 0),
            function=data.get("function") or "?",
            module=data.get("module"),
            cls=data.get("cls"),
        )


def short_path(path: str) -> str:
    """Cut a file path after ``site-packages/`` (or ``dist-packages/``) for display."""
    for marker in ("site-packages" + os.sep, "dist-packages" + os.sep):
        idx = path.rfind(marker)
        if idx >= 0:
            return path[idx + len(marker) :]
    return path


@dataclass
class Layer:
    """One middleware layer a server call passed (cors, request_id, authtoken...)."""

    span_id: str  # the server Call this layer belongs to
    order: int  # 0 = outermost
    name: str  # the paste section / filter name, e.g. ``authtoken``
    factory: Optional[str] = None  # e.g. ``keystonemiddleware.auth_token:filter_factory``
    enter_offset: float = 0.0  # seconds from the call's start
    exit_offset: Optional[float] = None  # seconds from the call's start; None: never returned
    answered: bool = False  # this layer produced the response itself (did not call the next one)
    status: Optional[int] = None  # status the layer returned upward

    def to_dict(self) -> Dict[str, Any]:
        return {
            "span_id": self.span_id,
            "order": self.order,
            "name": self.name,
            "factory": self.factory,
            "enter_offset": self.enter_offset,
            "exit_offset": self.exit_offset,
            "answered": self.answered,
            "status": self.status,
        }

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> Layer:
        return cls(
            span_id=data["span_id"],
            order=int(data["order"]),
            name=data["name"],
            factory=data.get("factory"),
            enter_offset=float(data.get("enter_offset") or 0.0),
            exit_offset=data.get("exit_offset"),
            answered=bool(data.get("answered")),
            status=data.get("status"),
        )


#: ``PolicyCheck.result`` values.
POLICY_ALLOWED = "allowed"
POLICY_DENIED = "denied"  # the enforcer said no (returned False, or raised its "not authorized")
POLICY_RAISED = "raised"  # the check itself failed (an unregistered rule, bad credentials...)


@dataclass
class PolicyCheck:
    """One oslo.policy rule a service checked while it handled a server call."""

    span_id: str  # the server Call that made the check
    order: int  # 0 = first check of the call
    rule: str  # ``os_compute_api:servers:index``, ``get_images``
    check: Optional[str] = None  # the check string the enforcer resolved the rule to
    result: str = POLICY_ALLOWED
    error: Optional[str] = None  # the exception class raised (``PolicyNotAuthorized``...)
    #: Who asked, as names and ids only: ``roles``, ``user_id``, ``project_id``, ``domain_id``...
    creds: Dict[str, Any] = field(default_factory=dict)
    offset: float = 0.0  # seconds from the call's start (the first time)
    duration: Optional[float] = None  # seconds the enforcer took (all ``count`` times together)
    count: int = 1  # times the call checked it with this result (glance: once per image listed)

    @property
    def allowed(self) -> bool:
        return self.result == POLICY_ALLOWED

    def to_dict(self) -> Dict[str, Any]:
        return {
            "span_id": self.span_id,
            "order": self.order,
            "rule": self.rule,
            "check": self.check,
            "result": self.result,
            "error": self.error,
            "creds": dict(self.creds),
            "offset": self.offset,
            "duration": self.duration,
            "count": self.count,
        }

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> PolicyCheck:
        creds = data.get("creds")
        return cls(
            span_id=data["span_id"],
            order=int(data["order"]),
            rule=str(data["rule"]),
            check=data.get("check"),
            result=data.get("result") or POLICY_ALLOWED,
            error=data.get("error"),
            creds=dict(creds) if isinstance(creds, dict) else {},
            offset=float(data.get("offset") or 0.0),
            duration=data.get("duration"),
            count=int(data.get("count") or 1),
        )


@dataclass
class Peer:
    """The service a call talked to, named from the keystone catalog."""

    service_type: Optional[str] = None  # ``compute``, ``image``, ``identity``...
    service_name: Optional[str] = None  # ``nova``, ``glance``, ``keystone``...
    interface: Optional[str] = None  # ``public``, ``internal``, ``admin``
    region: Optional[str] = None
    endpoint: Optional[str] = None  # the catalog URL that matched

    @property
    def label(self) -> Optional[str]:
        return self.service_name or self.service_type


@dataclass
class Call:
    """One exchange seen from one side (``client`` or ``server``): HTTP, RPC or SQL (``kind``).

    For RPC records ``method`` is the RPC method, ``url`` ``rabbit://exchange/topic.server``
    and ``handler`` (server side) ``EndpointClass.method``; for DB records ``method`` is the
    SQL verb and ``attributes["statement"]`` the statement (placeholders only, never values).
    """

    run_id: str
    method: str
    url: str
    start: float  # epoch seconds
    trace_id: str = field(default_factory=new_trace_id)
    span_id: str = field(default_factory=new_span_id)
    parent_span_id: Optional[str] = None
    side: str = CLIENT
    # The process that saw the call.
    pid: int = 0
    process_name: Optional[str] = None
    process_argv: Optional[List[str]] = None
    thread: Optional[str] = None
    local_service: Optional[str] = None  # the service this process belongs to (``glance-api``)
    host: Optional[str] = None  # hostname of the machine that recorded the call
    peer: Peer = field(default_factory=Peer)
    path_template: Optional[str] = None  # ``/v2/images/{image_id}``
    request_headers: Headers = field(default_factory=list)
    request_body: Body = field(default_factory=Body)
    status: Optional[int] = None
    reason: Optional[str] = None
    response_headers: Headers = field(default_factory=list)
    response_body: Body = field(default_factory=Body)
    time_to_headers: Optional[float] = None  # seconds from start to response headers
    duration: Optional[float] = None  # seconds from start to the end of the response body
    request_id: Optional[str] = None  # x-openstack-request-id / x-compute-request-id
    global_request_id: Optional[str] = None  # openstack-request-id sent by the caller
    #: Client side: the code that issued the call; server side: the handler that answered it
    #: (the controller method's file and ``def`` line).
    call_site: Optional[CallSite] = None
    stack: List[str] = field(default_factory=list)  # compact ``file:line:function`` frames above
    error_type: Optional[str] = None
    error_message: Optional[str] = None
    handler: Optional[str] = None  # server side: ``ImagesController.index``
    app: Optional[str] = None  # server side: the final WSGI app
    layers: List[Layer] = field(default_factory=list)
    #: Server side: the oslo.policy rules checked while handling the call, in order.
    policy_checks: List[PolicyCheck] = field(default_factory=list)
    kind: str = KIND_HTTP
    #: The kind's own facts (rpc: exchange, topic, server, fanout, version, namespace,
    #: reply_type, reply_size; db: system, rowcount), JSON-serializable, already redacted.
    attributes: Dict[str, Any] = field(default_factory=dict)
    # Filled by the store on read: order of the call in its run, from 1.
    seq: Optional[int] = None

    @property
    def failed(self) -> bool:
        return self.error_type is not None

    @property
    def end(self) -> float:
        return self.start + (self.duration or self.time_to_headers or 0.0)

    @property
    def denied_by(self) -> Optional[PolicyCheck]:
        """The policy check that refused a 403 answer: its last check that was not allowed."""
        if self.status != 403:
            return None
        for check in reversed(self.policy_checks):
            if check.result != POLICY_ALLOWED:
                return check
        return None

    def header(self, name: str, response: bool = True) -> Optional[str]:
        """First header ``name`` (case-insensitive) of the response (or request)."""
        wanted = name.lower()
        for key, value in self.response_headers if response else self.request_headers:
            if key.lower() == wanted:
                return value
        return None


@dataclass
class Run:
    """One traced command, one ``stacktap.trace()`` block, or one server process session."""

    id: str = field(default_factory=new_run_id)
    kind: str = "command"  # ``command`` | ``api`` | ``server`` | ``import``
    label: Optional[str] = None
    argv: List[str] = field(default_factory=list)
    cwd: Optional[str] = None
    host: Optional[str] = None
    user: Optional[str] = None
    started: float = 0.0
    ended: Optional[float] = None
    exit_code: Optional[int] = None


@dataclass
class CatalogEntry:
    """One endpoint of the keystone catalog, as seen in a run."""

    service_type: str
    url: str
    service_name: Optional[str] = None
    interface: Optional[str] = None
    region: Optional[str] = None
    service_id: Optional[str] = None
