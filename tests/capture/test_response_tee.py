"""Response bodies teed as the program reads them, in-process (no server, no recorder)."""

from __future__ import annotations

import gc
import io
from collections.abc import Iterator
from typing import Any

import pytest
import urllib3

from stacktap.agent.body_capture import BodyCapture
from stacktap.agent.response_tee import has_signature, patch_response_class, tap_response

BODY = bytes(range(256)) * 40


class Response(urllib3.response.HTTPResponse):
    """A urllib3 response of its own, patched here without touching urllib3's class."""


patch_response_class(Response)


def _response(body: bytes = BODY, **kw: Any) -> Response:
    return Response(
        body=io.BytesIO(body),
        headers={"Content-Length": str(len(body))},
        status=200,
        preload_content=False,
        request_method="GET",
        **kw,
    )


@pytest.fixture()
def no_gc() -> Iterator[None]:
    """Dropped responses must be finished by reference counting alone (no cycle)."""
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def test_chunks_read_are_teed_and_the_end_is_seen_without_reading_ahead() -> None:
    response, capture, ended = _response(), BodyCapture(1 << 20), []
    tap_response(response, capture, ended.append)
    first = response.read(1000)
    assert capture.data == first == BODY[:1000] and ended == []
    rest = b"".join(response.stream(4096))
    assert first + rest == BODY and capture.data == BODY and capture.size == len(BODY)
    assert ended == [True] and capture.complete
    assert response.read() == b"" and ended == [True]  # NOTE: finished once


def test_a_body_read_whole_at_once_ends_there() -> None:
    response, capture, ended = _response(b'{"a": 1}'), BodyCapture(100), []
    tap_response(response, capture, ended.append)
    assert response.data == b'{"a": 1}' and ended == [True] and capture.data == b'{"a": 1}'


def test_a_response_dropped_unread_is_finished_at_once(no_gc: None) -> None:
    response, capture, ended = _response(), BodyCapture(100), []
    tap_response(response, capture, ended.append)
    response.read(10)
    del response
    assert ended == [False] and not capture.complete and capture.data == BODY[:10]


def test_unread_finishes_once_and_later_reads_pass_through() -> None:
    response, capture, ended = _response(), BodyCapture(100), []
    tap = tap_response(response, capture, ended.append)
    tap.unread()
    tap.unread()
    assert ended == [False]
    assert response.read() == BODY and capture.size == 0


def test_an_untapped_response_reads_as_ever() -> None:
    response = _response()
    assert response.read(10) == BODY[:10] and response.read() == BODY[10:]


def test_reads_inside_a_read_are_not_fed_twice() -> None:
    class Reentrant(Response):
        def read(self, amt: Any = None, decode_content: Any = None, cache_content: bool = False) -> bytes:
            return super().read(amt, decode_content, cache_content)

    patch_response_class(Reentrant)
    response = Reentrant(body=io.BytesIO(BODY), preload_content=False, headers={}, status=200)
    capture, ended = BodyCapture(1 << 20), []
    tap_response(response, capture, ended.append)
    assert response.read() == BODY and capture.size == len(BODY) and ended == [True]


def test_the_generic_wrapper_serves_another_signature() -> None:
    class Other:
        _stacktap_tap = None

        def __init__(self) -> None:
            self._fp = io.BytesIO(b"abcdef")

        def read(self, amt: Any = None, *, flag: bool = False) -> bytes:
            return self._fp.read(amt)

        def read_chunked(self, amt: Any = None) -> Iterator[bytes]:
            yield self._fp.read()

    read_names = ("self", "amt", "decode_content", "cache_content")
    assert not has_signature(Other.read, read_names, (None, None, False))
    patch_response_class(Other)
    response, capture, ended = Other(), BodyCapture(100), []
    tap_response(response, capture, ended.append)
    assert response.read(2, flag=True) == b"ab" and capture.data == b"ab" and ended == []
    assert response.read() == b"cdef" and capture.data == b"abcdef" and ended == [True]


def test_has_signature() -> None:
    def send(self: Any, request: Any, stream: bool = False, timeout: Any = None) -> None:
        pass

    def varargs(self: Any, request: Any, *args: Any) -> None:
        pass

    def kwargs(self: Any, request: Any, stream: bool = False, **kw: Any) -> None:
        pass

    names = ("self", "request", "stream", "timeout")
    assert has_signature(send, names, (False, None)) and has_signature(send, names, 2)
    assert not has_signature(send, names, (True, None)) and not has_signature(send, names[:3], 1)
    assert not has_signature(varargs, ("self", "request"), ())
    assert has_signature(kwargs, ("self", "request", "stream"), 1, var_keywords=True)
    assert not has_signature(kwargs, ("self", "request", "stream"), 1)
    assert not has_signature(len, ("obj",), ())
