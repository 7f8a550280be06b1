"""Exchanges as plain values: what crosses from a traced process to the collector."""

from __future__ import annotations

import io
import marshal

import pytest

from stacktap.agent import wire
from stacktap.agent.body_capture import BodyCapture
from stacktap.agent.exchange import Exchange
from stacktap.launcher.collector import _read_message
from stacktap.redact_marks import keyed_digest


class _Settings:
    trace_id = None


class _Header:
    def __str__(self) -> str:
        return "made-by-the-program"


def _issue_call() -> Exchange:
    return Exchange(_Settings(), "POST", "http://127.0.0.1:5000/v2/images?x=1", skip_frames=1)


def test_an_exchange_crosses_whole() -> None:
    ex = _issue_call()
    ex.request_headers = [("X-Auth-Token", "secret"), (b"X-Raw", b"\xff"), ("X-Obj", _Header())]  # type: ignore[list-item]
    capture = BodyCapture(10, streamed=True)
    for chunk in (b"0123456789", b"abcdef"):
        capture.feed(chunk)
    capture.complete = True
    ex.request_body = capture
    ex.headers_received(201, "Created", {"Content-Type": "application/json"})
    ex.response_body = b'{"id": "1"}'
    ex.duration = 0.5

    data = wire.frame((wire.EXCHANGE, wire.encode_exchange(ex)))
    got = wire.ReceivedExchange(wire.unframe(data[wire.LENGTH_SIZE :])[1])

    assert (got.method, got.url, got.status, got.reason) == (ex.method, ex.url, 201, "Created")
    assert got.request_headers == [
        ("X-Auth-Token", "secret"),
        (b"X-Raw", b"\xff"),
        ("X-Obj", "made-by-the-program"),
    ]
    assert got.response_headers == [("Content-Type", "application/json")]
    assert got.response_body == b'{"id": "1"}'
    body = got.request_body
    assert isinstance(body, wire.ReceivedBody)
    assert (body.data, body.size, body.truncated, body.complete, body.streamed) == (
        b"0123456789",
        16,
        True,
        True,
        True,
    )
    assert body.sha256() == keyed_digest(b"0123456789abcdef")
    assert (got.trace_id, got.span_id, got.start, got.duration) == (ex.trace_id, ex.span_id, ex.start, 0.5)
    assert got.call_site is not None
    assert (got.call_site.file, got.call_site.function) == (__file__, "_issue_call")
    assert got.call_site.line == _issue_call.__code__.co_firstlineno + 1
    assert got.stack[0].endswith(":test_an_exchange_crosses_whole")


def test_frames_are_readable_by_older_pythons() -> None:
    # NOTE: marshal format 4 is what 3.4+ reads; newer formats must never be written.
    data = wire.frame((wire.HELLO, wire.PROTOCOL, 1, ["prog"], "run", None, 1024))
    assert marshal.loads(data[wire.LENGTH_SIZE :]) == (
        wire.HELLO,
        wire.PROTOCOL,
        1,
        ["prog"],
        "run",
        None,
        1024,
    )
    assert wire.MARSHAL_VERSION == 4 <= marshal.version


def test_a_stream_reads_back_message_by_message() -> None:
    stream = io.BytesIO(wire.hello(7, ["a"], "run", "glance", 10) + wire.frame((wire.BYE,)) + b"\x00\x00")
    assert _read_message(stream) == (wire.HELLO, wire.PROTOCOL, 7, ["a"], "run", "glance", 10)
    assert _read_message(stream) == (wire.BYE,)
    assert _read_message(stream) is None  # NOTE: a frame cut short: the stream ends there


@pytest.mark.parametrize("data", [b"\xff\xff\xff\xff", b"\x00\x00\x00\x02N\x00"])
def test_what_is_not_a_stream_is_an_error(data: bytes) -> None:
    with pytest.raises((ValueError, EOFError)):
        _read_message(io.BytesIO(data + b"\x00" * 8))


def test_urllib3_header_dict_keeps_repeated_headers() -> None:
    urllib3 = pytest.importorskip("urllib3")
    headers = urllib3.HTTPHeaderDict()
    headers.add("Set-Cookie", "a=1")
    headers.add("Set-Cookie", "b=2")
    headers["Content-Type"] = "text/plain"
    assert wire.header_pairs(headers) == [
        ("Set-Cookie", "a=1"),
        ("Set-Cookie", "b=2"),
        ("Content-Type", "text/plain"),
    ]
