"""Client exchanges as plain values: what a traced process sends to ``stacktap run``'s collector.

Under ``stacktap run`` a traced process does not redact, encode or store its calls itself
(that is CPU the program would wait for: it shares the GIL with the writer thread). Its
writer thread turns each ``Exchange`` into a tuple of plain values, frames it and sends it
to the collector (``stacktap.launcher.collector``), which rebuilds it as a
``ReceivedExchange`` and does the heavy work in its own process.

A frame is a 4-byte big-endian length and a ``marshal`` dump (format 4, readable by every
Python from 3.4 on, whichever Python the traced program runs) of one message:

- ``(HELLO, version, pid, argv, run_id, service, body_cap)``: first on each connection, again
  when the settings change;
- ``(EXCHANGE, record)``: one call (``encode_exchange``);
- ``(BYE,)``: the process will send nothing more on this connection.

The collector answers only once, with ``BYE_BYTES`` when it is about to stop: the process
then says ``BYE`` and stores what comes next itself.

NOTE: standard library only, Python 3.8+ (runs inside traced programs). ``marshal`` is not
meant for untrusted input: the socket sits in a private (0700) directory of the same user.
"""

from __future__ import annotations

import marshal
import struct
from typing import TYPE_CHECKING, Any, Iterable, List, Optional, Tuple

from stacktap.agent.callsite import format_stack, resolve_site

if TYPE_CHECKING:
    from stacktap.agent.exchange import Exchange
    from stacktap.model import CallSite

PROTOCOL = 1
HELLO = "hello"
EXCHANGE = "exchange"
BYE = "bye"
#: What the collector sends when it stops listening.
BYE_BYTES = b"bye"
MARSHAL_VERSION = 4
#: A length prefix beyond this is a broken stream, not a frame.
MAX_FRAME = 1 << 30

_LENGTH = struct.Struct(">I")
LENGTH_SIZE = _LENGTH.size


def frame(message: tuple) -> bytes:
    data = marshal.dumps(message, MARSHAL_VERSION)
    return _LENGTH.pack(len(data)) + data


def frame_length(prefix: bytes) -> int:
    """The length announced by a 4-byte prefix; ValueError when it cannot be a frame."""
    (length,) = _LENGTH.unpack(prefix)
    if length > MAX_FRAME:
        raise ValueError("frame of %d bytes: not a stacktap stream" % length)
    return length


def unframe(data: bytes) -> tuple:
    message = marshal.loads(data)
    if not isinstance(message, tuple) or not message:
        raise ValueError("not a stacktap message")
    return message


def header_pairs(headers: Any) -> Any:
    """The (name, value) pairs of a header list, a dict-like or urllib3's HTTPHeaderDict."""
    if headers is None:
        return ()
    if isinstance(headers, list):
        return headers
    container = getattr(headers, "_container", None)
    if isinstance(container, dict):
        # NOTE: urllib3's HTTPHeaderDict (1.26 and 2.x) keeps ``lower -> [name, value...]``;
        # reading it directly is several times cheaper than its ``items()`` generator.
        try:
            return [(entry[0], value) for entry in container.values() for value in entry[1:]]
        except Exception:
            pass
    return list(headers.items())


_PLAIN = (str, bytes)


def _plain_pairs(headers: Any) -> List[Tuple[Any, Any]]:
    pairs = header_pairs(headers)
    for key, value in pairs:
        if type(key) not in _PLAIN or type(value) not in _PLAIN:
            # NOTE: rare (a program's own header objects): marshal takes only plain types.
            return [(_plain(k), _plain(v)) for k, v in pairs]
    return pairs if isinstance(pairs, list) else list(pairs)


def _plain(value: Any) -> Any:
    return value if type(value) in _PLAIN else str(value)


class ReceivedBody(object):
    """A body as a ``BodyCapture`` saw it, rebuilt from the wire (same reading API)."""

    __slots__ = ("_sha256", "complete", "data", "size", "streamed")

    def __init__(self, data: bytes, size: int, complete: bool, streamed: bool, sha256: str) -> None:
        self.data = data
        self.size = size
        self.complete = complete
        self.streamed = streamed
        self._sha256 = sha256

    @property
    def truncated(self) -> bool:
        return self.size > len(self.data)

    def sha256(self) -> str:
        return self._sha256


def _encode_body(body: Any) -> Any:
    """None, bytes and str go as they are; a BodyCapture as a tuple of its facts."""
    if body is None or type(body) in _PLAIN:
        return body
    # NOTE: the hash of a small body is computed here, in the writer thread, not on the hot path.
    return (body.data, body.size, body.complete, body.streamed, body.sha256())


def _decode_body(value: Any) -> Any:
    if isinstance(value, tuple):
        return ReceivedBody(*value)
    return value


def encode_exchange(ex: Exchange) -> tuple:
    """The plain values of an exchange, call site and stack resolved to text."""
    return (
        ex.method,
        ex.url,
        _plain_pairs(ex.request_headers),
        _encode_body(ex.request_body),
        ex.status,
        ex.reason,
        _plain_pairs(ex.response_headers),
        _encode_body(ex.response_body),
        ex.start,
        ex.time_to_headers,
        ex.duration,
        ex.thread,
        ex.trace_id,
        ex.span_id,
        ex.parent_span_id,
        resolve_site(ex.site),
        format_stack(ex.stack),
        ex.error_type,
        ex.error_message,
    )


class ReceivedExchange(object):
    """An ``Exchange`` rebuilt by the collector: same attributes, except that ``call_site``
    and ``stack`` are already resolved (the code objects stayed in the traced process)."""

    __slots__ = (
        "call_site",
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
        "span_id",
        "stack",
        "start",
        "status",
        "thread",
        "time_to_headers",
        "trace_id",
        "url",
    )

    def __init__(self, record: tuple) -> None:
        (
            self.method,
            self.url,
            self.request_headers,
            request_body,
            self.status,
            self.reason,
            self.response_headers,
            response_body,
            self.start,
            self.time_to_headers,
            self.duration,
            self.thread,
            self.trace_id,
            self.span_id,
            self.parent_span_id,
            site,
            self.stack,
            self.error_type,
            self.error_message,
        ) = record
        self.request_body = _decode_body(request_body)
        self.response_body = _decode_body(response_body)
        self.call_site: Optional[CallSite] = _decode_site(site)


def _decode_site(site: Optional[tuple]) -> Optional[CallSite]:
    if site is None:
        return None
    from stacktap.model import CallSite

    file, line, function, module, cls = site
    return CallSite(file=file, line=line, function=function, module=module, cls=cls)


def hello(pid: int, argv: List[str], run_id: str, service: Optional[str], body_cap: int) -> bytes:
    return frame((HELLO, PROTOCOL, pid, [_plain(arg) for arg in argv], run_id, service, body_cap))


def exchange_frames(exchanges: Iterable[Exchange]) -> List[bytes]:
    return [frame((EXCHANGE, encode_exchange(ex))) for ex in exchanges]
