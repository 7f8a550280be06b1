"""Record every call made through ``requests``: a wrapper around ``HTTPAdapter.send``.

Before the call: a span id, a ``traceparent`` header (unless propagation is off), the
call site, a tee on a streamed request body. After the headers: status and headers; the
response body is teed as the program reads it and the call is recorded at its end.
Connection errors and timeouts are recorded as failed calls and re-raised unchanged.

NOTE: standard library only, Python 3.8+ (runs inside traced programs). This runs on the
program's thread for every call: keep it lean (the heavy work is the writer's).
"""

from __future__ import annotations

import functools
from types import ModuleType
from typing import Any, Callable, Optional

from stacktap.agent.body_capture import BodyCapture
from stacktap.agent.exchange import Exchange, body_expected
from stacktap.agent.in_flight import in_recorded_call
from stacktap.agent.recorder import Recorder, get_recorder
from stacktap.agent.request_tee import tee_request_body
from stacktap.agent.response_tee import has_signature, patch_response_class, tap_response

_MARK = "_stacktap_original"

#: ``HTTPAdapter.send``'s parameters in every requests 2.x.
_SEND_NAMES = ("self", "request", "stream", "timeout", "verify", "cert", "proxies")
_SEND_DEFAULTS = (False, None, True, None, None)


def _wrap_send(original: Callable[..., Any], header_dict: Optional[type] = None) -> Callable[..., Any]:
    """The recording ``send``; ``header_dict`` is requests' ``CaseInsensitiveDict`` (whose
    internals :func:`_start` reads), None if unknown."""
    recorder = get_recorder()
    in_call = in_recorded_call.get

    send: Callable[..., Any]
    if has_signature(original, _SEND_NAMES, _SEND_DEFAULTS):
        # NOTE: the exact signature: arguments go on positionally, no dict (see has_signature).
        def send(
            self: Any,
            request: Any,
            stream: Any = False,
            timeout: Any = None,
            verify: Any = True,
            cert: Any = None,
            proxies: Any = None,
        ) -> Any:
            if not recorder.enabled or in_call():
                return original(self, request, stream, timeout, verify, cert, proxies)
            body = request.body
            exchange = _start(recorder, request, header_dict)
            if exchange is None:
                return original(self, request, stream, timeout, verify, cert, proxies)
            token = in_recorded_call.set(True)
            try:
                response = original(self, request, stream, timeout, verify, cert, proxies)
            except BaseException as exc:
                exchange.failed(exc)
                raise
            finally:
                in_recorded_call.reset(token)
                if request.body is not body:
                    request.body = body
            _watch_response(recorder, exchange, response, stream)
            return response

    else:

        def send(self: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
            if not recorder.enabled or in_call():
                return original(self, request, *args, **kwargs)
            body = request.body
            exchange = _start(recorder, request, header_dict)
            if exchange is None:
                return original(self, request, *args, **kwargs)
            token = in_recorded_call.set(True)
            try:
                response = original(self, request, *args, **kwargs)
            except BaseException as exc:
                exchange.failed(exc)
                raise
            finally:
                in_recorded_call.reset(token)
                if request.body is not body:
                    request.body = body
            _watch_response(recorder, exchange, response, kwargs.get("stream", args[0] if args else False))
            return response

    functools.update_wrapper(send, original)
    setattr(send, _MARK, original)
    return send


def _start(recorder: Recorder, request: Any, header_dict: Any) -> Optional[Exchange]:
    """The exchange for ``request``, which gets its ``traceparent`` header and, when its body
    is a stream, a tee in its place (the caller puts the body back after the call). None
    when stacktap itself fails: the call then goes on untraced.

    NOTE: ``requests``' CaseInsensitiveDict keeps ``lower -> (name, value)`` in ``_store``
    (what its ``__setitem__`` writes): reading and writing it directly skips Python calls,
    and copying its values is ~8x cheaper than ``items()``, a generator calling
    ``__getitem__`` per header. Anything else (a plain dict) goes the slow way.
    """
    body = request.body
    try:
        exchange = Exchange(recorder, request.method or "GET", request.url, skip_frames=4)
        headers = request.headers
        if type(headers) is header_dict:
            store = headers._store
            if recorder.propagate:
                existing = store.get("traceparent")
                if existing is not None and existing[1]:
                    exchange.adopt_traceparent(existing[1])
                else:
                    store["traceparent"] = ("traceparent", exchange.traceparent())
            exchange.request_headers = list(store.values())
        else:
            if recorder.propagate:
                existing = headers.get("traceparent")
                if existing:
                    exchange.adopt_traceparent(existing)
                else:
                    headers["traceparent"] = exchange.traceparent()
            exchange.request_headers = list(headers.items())
        if body is None or type(body) is bytes or type(body) is str:
            exchange.request_body = body
        else:
            request.body, exchange.request_body = tee_request_body(body, recorder.body_cap)
        return exchange
    except Exception:
        request.body = body
        return None


def _watch_response(recorder: Recorder, exchange: Exchange, response: Any, stream: Any) -> None:
    try:
        raw = response.raw
        status = response.status_code
        exchange.headers_received(status, response.reason, getattr(raw, "headers", None))
        if raw is None or not body_expected(exchange.method, status, response.headers, raw):
            exchange.finish()
            return
        capture = BodyCapture(recorder.body_cap, bool(stream))
        exchange.response_body = capture
        recorder.track(exchange, tap_response(raw, capture, exchange.finish).unread)
    except Exception:
        exchange.finish()


def patch(module: ModuleType) -> None:
    """Wrap ``module.HTTPAdapter.send`` (once)."""
    import urllib3.response

    patch_response_class(urllib3.response.HTTPResponse)
    adapter = module.HTTPAdapter
    if getattr(adapter.send, _MARK, None) is None:
        adapter.send = _wrap_send(adapter.send, getattr(module, "CaseInsensitiveDict", None))


def unpatch(module: ModuleType) -> None:
    original = getattr(module.HTTPAdapter.send, _MARK, None)
    if original is not None:
        module.HTTPAdapter.send = original
