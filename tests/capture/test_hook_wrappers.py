"""The requests and urllib3 wrappers in-process, around stand-in originals: the arguments
reach the original unchanged, whichever wrapper (exact signature or generic) serves them."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest
import requests
import urllib3
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict

from stacktap.agent import recorder as recorder_module
from stacktap.agent.in_flight import in_recorded_call
from stacktap.agent.requests_hook import _wrap_send
from stacktap.agent.response_tee import patch_response_class
from stacktap.agent.urllib3_hook import _wrap_urlopen

BODY = b'{"images": []}'
#: What the stand-in originals were called with.
seen: list[tuple[Any, ...]] = []


class Response(urllib3.response.HTTPResponse):
    pass


patch_response_class(Response)


def _raw(body: bytes = BODY) -> Response:
    return Response(
        body=io.BytesIO(body),
        headers={"Content-Length": str(len(body))},
        status=200,
        reason="OK",
        preload_content=False,
        request_method="GET",
    )


class Recorded:
    def __init__(self) -> None:
        self.exchanges: list[Any] = []
        self.pending: dict[int, Any] = {}

    def submit_exchange(self, exchange: Any) -> None:
        self.pending.pop(id(exchange), None)
        self.exchanges.append(exchange)

    def track(self, exchange: Any, on_exit: Callable[[], None]) -> None:
        self.pending[id(exchange)] = on_exit


@pytest.fixture()
def recorded(monkeypatch: pytest.MonkeyPatch) -> Recorded:
    out = Recorded()
    rec = recorder_module.get_recorder()
    for name, value in (
        ("enabled", True),
        ("propagate", True),
        ("trace_id", None),
        ("body_cap", 1 << 20),
        ("submit_exchange", out.submit_exchange),
        ("track", out.track),
    ):
        monkeypatch.setattr(rec, name, value)
    return out


def _send_exact(
    self: Any,
    request: Any,
    stream: bool = False,
    timeout: Any = None,
    verify: Any = True,
    cert: Any = None,
    proxies: Any = None,
) -> Any:
    seen.append((stream, timeout, verify, cert, proxies, request.headers.get("traceparent")))
    return self.build_response(request, _raw())


def _send_other(self: Any, request: Any, stream: bool = False, *rest: Any, **kw: Any) -> Any:
    seen.append((stream, rest, kw, request.headers.get("traceparent")))
    return self.build_response(request, _raw())


def _prepared(**headers: str) -> requests.PreparedRequest:
    return requests.Request("GET", "http://127.0.0.1:9/v2/images", headers=headers).prepare()


@pytest.mark.parametrize("original", [_send_exact, _send_other])
def test_a_requests_call_is_recorded_by_either_wrapper(recorded: Recorded, original: Any) -> None:
    seen.clear()
    send = _wrap_send(original, CaseInsensitiveDict)
    response = send(HTTPAdapter(), _prepared(), stream=False, timeout=5, verify=False, cert=None, proxies={})
    assert recorded.exchanges == [] and len(recorded.pending) == 1  # NOTE: the body is still unread
    assert response.content == BODY
    [ex] = recorded.exchanges
    traceparent = f"00-{ex.trace_id}-{ex.span_id}-01"
    if original is _send_exact:
        assert seen == [(False, 5, False, None, {}, traceparent)]
    else:
        passed = {"timeout": 5, "verify": False, "cert": None, "proxies": {}}
        assert seen == [(False, (), passed, traceparent)]
    assert (ex.method, ex.url, ex.status, ex.reason) == ("GET", "http://127.0.0.1:9/v2/images", 200, "OK")
    assert ("traceparent", traceparent) in ex.request_headers
    assert ex.response_body.data == BODY and ex.response_body.complete and not ex.response_body.streamed
    assert ex.site[0].co_name == "test_a_requests_call_is_recorded_by_either_wrapper"
    assert recorded.pending == {} and in_recorded_call.get() is False


def test_the_programs_own_traceparent_is_joined_not_replaced(recorded: Recorded) -> None:
    seen.clear()
    mine = "00-" + "a" * 32 + "-" + "b" * 16 + "-01"
    assert _wrap_send(_send_exact, CaseInsensitiveDict)(HTTPAdapter(), _prepared(TraceParent=mine)).content
    [ex] = recorded.exchanges
    assert (ex.trace_id, ex.parent_span_id) == ("a" * 32, "b" * 16)
    assert seen[0][-1] == mine
    assert ("TraceParent", mine) in ex.request_headers


def test_recording_off_passes_the_call_through_untouched(recorded: Recorded) -> None:
    recorder_module.get_recorder().enabled = False
    seen.clear()
    assert _wrap_send(_send_exact, CaseInsensitiveDict)(HTTPAdapter(), _prepared(), True, 3).content
    assert seen == [(True, 3, True, None, None, None)] and recorded.exchanges == []


def test_a_failure_of_stacktap_leaves_the_call_untraced(
    recorded: Recorded, monkeypatch: pytest.MonkeyPatch
) -> None:
    from stacktap.agent import requests_hook

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("stacktap bug")

    monkeypatch.setattr(requests_hook, "Exchange", broken)
    request = _prepared()
    request.body = io.BytesIO(b"streamed")
    response = _wrap_send(_send_exact, CaseInsensitiveDict)(HTTPAdapter(), request)
    assert response.content == BODY and recorded.exchanges == []
    assert isinstance(request.body, io.BytesIO)


class Pool:
    scheme, host, port, headers = "http", "127.0.0.1", 8774, {}


class _Default:
    pass


def _urlopen_v2(
    self: Any,
    method: str,
    url: str,
    body: Any = None,
    headers: Any = None,
    retries: Any = None,
    redirect: bool = True,
    assert_same_host: bool = True,
    timeout: Any = _Default,
    pool_timeout: Any = None,
    release_conn: Any = None,
    chunked: bool = False,
    body_pos: Any = None,
    preload_content: bool = True,
    decode_content: bool = True,
    **response_kw: Any,
) -> Any:
    args = (body, headers, retries, redirect, assert_same_host, timeout, pool_timeout, release_conn, chunked)
    seen.append((method, url, *args, body_pos, preload_content, decode_content, response_kw))
    return _raw()


def _urlopen_v1(
    self: Any,
    method: str,
    url: str,
    body: Any = None,
    headers: Any = None,
    retries: Any = None,
    redirect: bool = True,
    assert_same_host: bool = True,
    timeout: Any = _Default,
    pool_timeout: Any = None,
    release_conn: Any = None,
    chunked: bool = False,
    body_pos: Any = None,
    **response_kw: Any,
) -> Any:
    args = (body, headers, retries, redirect, assert_same_host, timeout, pool_timeout, release_conn, chunked)
    seen.append((method, url, *args, body_pos, response_kw))
    return _raw()


@pytest.mark.parametrize("original", [_urlopen_v2, _urlopen_v1])
@pytest.mark.parametrize(
    "call",
    [
        ((), {}),
        (("GET", "/x"), {}),
        (("GET", "/x", b"1", {"a": "b"}, 3, False), {"timeout": 2, "preload_content": False, "x": 1}),
        ((), {"method": "GET", "url": "/x", "headers": {"a": "b"}, "release_conn": False, "chunked": True}),
    ],
)
def test_urlopen_passes_every_argument_through(original: Any, call: Any) -> None:
    args, kwargs = call
    if not args and "method" not in kwargs:
        args = ("GET", "/x")
    seen.clear()
    original(Pool(), *args, **kwargs)
    expected = seen.pop()
    token = in_recorded_call.set(True)  # NOTE: inside a requests call: stay out of the way
    try:
        _wrap_urlopen(original)(Pool(), *args, **kwargs)
    finally:
        in_recorded_call.reset(token)
    assert seen == [expected]


@pytest.mark.parametrize("original", [_urlopen_v2, _urlopen_v1])
def test_a_direct_urllib3_call_is_recorded(recorded: Recorded, original: Any) -> None:
    seen.clear()
    urlopen = _wrap_urlopen(original)
    response = urlopen(Pool(), "GET", "/v2.1/servers", headers={"X-A": "1"}, preload_content=False)
    assert response.read() == BODY
    [ex] = recorded.exchanges
    assert ex.url == "http://127.0.0.1:8774/v2.1/servers" and ex.response_body.data == BODY
    traceparent = f"00-{ex.trace_id}-{ex.span_id}-01"
    assert ex.request_headers == [("X-A", "1"), ("traceparent", traceparent)]
    sent_headers = seen[0][3]
    assert sent_headers == {"X-A": "1", "traceparent": traceparent}
    assert ex.site[0].co_name == "test_a_direct_urllib3_call_is_recorded"
