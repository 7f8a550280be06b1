"""Record every call made through ``requests``: a wrapper around ``HTTPAdapter.send``.

Before the call: a span id, a ``traceparent`` header (unless propagation is off), the
call site, a tee on a streamed request body. After the headers: status and headers; the
response body is teed as the program reads it and the call is recorded at its end.
Connection errors and timeouts are recorded as failed calls and re-raised unchanged.

NOTE: standard library only, Python 3.8+ (runs inside traced programs).
"""

from __future__ import annotations

import functools
from collections import OrderedDict
from types import ModuleType
from typing import Any, Callable, List, Tuple

from stacktap.capture.body_capture import BodyCapture
from stacktap.capture.exchange import Exchange, body_expected
from stacktap.capture.in_flight import in_recorded_call
from stacktap.capture.recorder import get_recorder
from stacktap.capture.request_tee import tee_request_body
from stacktap.capture.response_tee import ResponseTap, patch_response_class

_MARK = "_stacktap_original"


def _wrap_send(original: Callable[..., Any]) -> Callable[..., Any]:
    recorder = get_recorder()

    @functools.wraps(original)
    def send(self: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
        if not recorder.enabled or in_recorded_call.get():
            return original(self, request, *args, **kwargs)
        try:
            exchange = Exchange(recorder, request.method or "GET", request.url)
            headers = request.headers
            if recorder.propagate:
                existing = headers.get("traceparent")
                if existing:
                    exchange.adopt_traceparent(existing)
                else:
                    headers["traceparent"] = exchange.traceparent()
            exchange.request_headers = _header_pairs(headers)
            original_body = request.body
            request.body, exchange.request_body = tee_request_body(original_body, recorder.body_cap)
        except Exception:
            # NOTE: stacktap's own failure: the program's call goes on untraced.
            return original(self, request, *args, **kwargs)
        token = in_recorded_call.set(True)
        try:
            response = original(self, request, *args, **kwargs)
        except BaseException as exc:
            exchange.failed(exc)
            raise
        finally:
            in_recorded_call.reset(token)
            request.body = original_body
        _watch_response(recorder, exchange, response, kwargs.get("stream", args[0] if args else False))
        return response

    setattr(send, _MARK, original)
    return send


def _header_pairs(headers: Any) -> List[Tuple[str, str]]:
    """The (name, value) pairs of request headers, as sent.

    NOTE: ``requests``' CaseInsensitiveDict keeps ``lower -> (name, value)`` in ``_store``:
    copying its values is ~8x cheaper than ``items()``, a Python generator calling
    ``__getitem__`` per header. Anything else (a plain dict) goes the slow way.
    """
    store = getattr(headers, "_store", None)
    if type(store) is OrderedDict:
        return list(store.values())
    return list(headers.items())


def _watch_response(recorder: Any, exchange: Exchange, response: Any, stream: bool) -> None:
    try:
        raw = response.raw
        exchange.headers_received(response.status_code, response.reason, getattr(raw, "headers", None))
        if not body_expected(exchange.method, response.status_code, response.headers) or raw is None:
            exchange.finish()
            return
        capture = BodyCapture(recorder.body_cap, streamed=bool(stream))
        exchange.response_body = capture
        tap = ResponseTap(raw, capture, exchange.finish)
        recorder.track(exchange, lambda: tap.end(complete=False))
    except Exception:
        exchange.finish()


def patch(module: ModuleType) -> None:
    """Wrap ``module.HTTPAdapter.send`` (once)."""
    import urllib3.response

    patch_response_class(urllib3.response.HTTPResponse)
    adapter = module.HTTPAdapter
    if getattr(adapter.send, _MARK, None) is None:
        adapter.send = _wrap_send(adapter.send)


def unpatch(module: ModuleType) -> None:
    original = getattr(module.HTTPAdapter.send, _MARK, None)
    if original is not None:
        module.HTTPAdapter.send = original
