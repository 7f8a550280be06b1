"""Record calls made with urllib3 directly (Tempest's RestClient is a PoolManager subclass).

The wrapper sits on ``HTTPConnectionPool.urlopen``, which every urllib3 request goes
through. It stays out of the way when the call is already being recorded: by the requests
hook (requests sits on top of urllib3) or by an outer ``urlopen`` (urllib3 retries by
calling itself), so no call is recorded twice.

NOTE: standard library only, Python 3.8+ (runs inside traced programs).
"""

from __future__ import annotations

import functools
from types import ModuleType
from typing import Any, Callable, Dict, List

from stacktap.capture.body_capture import BodyCapture
from stacktap.capture.exchange import Exchange, body_expected
from stacktap.capture.in_flight import in_recorded_call
from stacktap.capture.recorder import get_recorder
from stacktap.capture.request_tee import tee_request_body
from stacktap.capture.response_tee import ResponseTap, patch_response_class

_MARK = "_stacktap_original"


def _full_url(pool: Any, url: str) -> str:
    if "://" in url:
        return url
    host = pool.host or ""
    if ":" in host and not host.startswith("["):
        host = "[%s]" % host
    port = pool.port
    default = 443 if pool.scheme == "https" else 80
    netloc = host if port in (None, default) else "%s:%s" % (host, port)
    return "%s://%s%s" % (pool.scheme or "http", netloc, url)


def _wrap_urlopen(original: Callable[..., Any]) -> Callable[..., Any]:
    recorder = get_recorder()

    @functools.wraps(original)
    def urlopen(self: Any, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        if not recorder.enabled or in_recorded_call.get():
            return original(self, method, url, *args, **kwargs)
        try:
            positional: List[Any] = list(args)
            exchange = Exchange(recorder, method, _full_url(self, url))
            headers: Dict[str, Any] = dict(
                (positional[1] if len(positional) > 1 else kwargs.get("headers")) or self.headers or {}
            )
            if recorder.propagate:
                existing = next((v for k, v in headers.items() if k.lower() == "traceparent"), None)
                if existing:
                    exchange.adopt_traceparent(existing)
                else:
                    headers["traceparent"] = exchange.traceparent()
            exchange.request_headers = list(headers.items())
            body = positional[0] if positional else kwargs.get("body")
            body, exchange.request_body = tee_request_body(body, recorder.body_cap)
            if len(positional) > 1:
                positional[1] = headers
            else:
                kwargs["headers"] = headers
            if positional:
                positional[0] = body
            else:
                kwargs["body"] = body
        except Exception:
            return original(self, method, url, *args, **kwargs)
        token = in_recorded_call.set(True)
        try:
            response = original(self, method, url, *positional, **kwargs)
        except BaseException as exc:
            exchange.failed(exc)
            raise
        finally:
            in_recorded_call.reset(token)
        _watch_response(recorder, exchange, response, kwargs.get("preload_content", True))
        return response

    setattr(urlopen, _MARK, original)
    return urlopen


def _watch_response(recorder: Any, exchange: Exchange, response: Any, preload: bool) -> None:
    try:
        exchange.headers_received(response.status, getattr(response, "reason", None), response.headers)
        if preload or not body_expected(exchange.method, response.status, response.headers):
            exchange.response_body = getattr(response, "_body", None) or b""
            exchange.finish()
            return
        capture = BodyCapture(recorder.body_cap, streamed=True)
        exchange.response_body = capture
        tap = ResponseTap(response, capture, exchange.finish)
        recorder.track(exchange, lambda: tap.end(complete=False))
    except Exception:
        exchange.finish()


def patch(module: ModuleType) -> None:
    """Wrap ``module.HTTPConnectionPool.urlopen`` (once)."""
    import urllib3.response

    patch_response_class(urllib3.response.HTTPResponse)
    pool = module.HTTPConnectionPool
    if getattr(pool.urlopen, _MARK, None) is None:
        pool.urlopen = _wrap_urlopen(pool.urlopen)


def unpatch(module: ModuleType) -> None:
    original = getattr(module.HTTPConnectionPool.urlopen, _MARK, None)
    if original is not None:
        module.HTTPConnectionPool.urlopen = original
