"""The facts an exchange starts with: ids, parent span, and whether a body is to come."""

from __future__ import annotations

import os
import re
import threading
from typing import Any

import pytest

from stacktap import model
from stacktap.agent import context
from stacktap.agent.exchange import Exchange, body_expected
from stacktap.model import new_span_id, new_trace_id

SPAN = re.compile(r"[0-9a-f]{16}")
TRACE = re.compile(r"[0-9a-f]{32}")


def test_ids_are_w3c_hex_non_zero_and_unique_across_pool_refills() -> None:
    spans = [new_span_id() for _ in range(3 * model.POOL_IDS + 7)]
    traces = [new_trace_id() for _ in range(100)]
    assert all(SPAN.fullmatch(s) and s != "0" * 16 for s in spans)
    assert all(TRACE.fullmatch(t) and t != "0" * 32 for t in traces)
    assert len(set(spans)) == len(spans) and len(set(traces)) == len(traces)


def test_an_all_zero_draw_is_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(model, "_pool", ("0" * 16 + "0123456789abcdef", iter([0, 16])))
    assert new_span_id() == "0123456789abcdef"


def test_threads_never_get_the_same_id() -> None:
    drawn: list[list[str]] = [[] for _ in range(8)]

    def draw(out: list[str]) -> None:
        for _ in range(2000):
            out.append(new_span_id())

    threads = [threading.Thread(target=draw, args=(out,)) for out in drawn]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = [span for out in drawn for span in out]
    assert len(set(every)) == len(every) == 16000


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_draws_ids_of_its_own() -> None:
    new_span_id()  # NOTE: the parent's pool is filled: a child would inherit it
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.close(read_end)
        os.write(write_end, ",".join(new_span_id() for _ in range(200)).encode())
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        child = pipe.read().decode().split(",")
    os.waitpid(pid, 0)
    parent = [new_span_id() for _ in range(200)]
    assert len(child) == 200 and not set(child) & set(parent)


class _Recorder:
    trace_id = "b42975e79902f842e77048d323164d6a"

    def __init__(self) -> None:
        self.submitted: list[Any] = []

    def submit_exchange(self, ex: Any) -> None:
        self.submitted.append(ex)


def _new_exchange(recorder: Any) -> Exchange:
    return Exchange(recorder, "GET", "http://127.0.0.1/v2/images", skip_frames=1)


def test_a_new_exchange_has_its_ids_and_nothing_of_the_answer_yet() -> None:
    recorder = _Recorder()
    ex = _new_exchange(recorder)
    assert (ex.trace_id, ex.parent_span_id) == (recorder.trace_id, None)
    assert SPAN.fullmatch(ex.span_id) and ex.thread == threading.current_thread().name
    assert ex.site is not None and ex.site[0].co_name == "_new_exchange"
    assert ex.request_headers == [] and ex.request_body is None
    assert (ex.status, ex.reason, ex.response_headers, ex.response_body) == (None, None, None, None)
    assert (ex.time_to_headers, ex.duration, ex.error_type, ex.error_message) == (None, None, None, None)
    ex.headers_received(200, "OK", {"Content-Length": "2"})
    ex.finish()
    assert recorder.submitted == [ex] and ex.duration is not None and ex.status == 200
    assert ex.time_to_headers is not None and 0 <= ex.time_to_headers <= ex.duration
    # NOTE: the defaults live on the class: an exchange's values never leak into another.
    assert _new_exchange(recorder).status is None and Exchange.request_headers == []


def test_inside_a_served_request_the_exchange_is_its_child() -> None:
    token = context.set_current_span("a" * 32, "b" * 16)
    try:
        ex = _new_exchange(_Recorder())
    finally:
        context.reset_current_span(token)
    assert (ex.trace_id, ex.parent_span_id) == ("a" * 32, "b" * 16) and ex.span_id != "b" * 16
    assert _new_exchange(_Recorder()).parent_span_id is None


class _Raw:
    def __init__(self, length_remaining: Any) -> None:
        self.length_remaining = length_remaining


def test_body_expected_from_method_status_and_length() -> None:
    assert body_expected("GET", 200, {"content-length": "12"})
    assert body_expected("GET", 200, {})  # chunked or read to the end of the connection
    assert not body_expected("GET", 200, {"content-length": " 0 "})
    assert not body_expected("HEAD", 200, {"content-length": "12"})
    assert not any(body_expected("GET", status, {}) for status in (100, 101, 204, 304))
    # urllib3's own reading of Content-Length, when the response is at hand:
    assert body_expected("GET", 200, {"content-length": "0"}, _Raw(12))
    assert not body_expected("GET", 200, {"content-length": "12"}, _Raw(0))
    assert body_expected("GET", 200, {}, _Raw(None))
    assert not body_expected("GET", 204, {}, _Raw(None))
    assert not body_expected("GET", 200, {"content-length": "0"}, object())  # no length_remaining
