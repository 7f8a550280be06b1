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
from typing import Any, Callable, Dict, List, Tuple

from stacktap.agent.body_capture import BodyCapture
from stacktap.agent.exchange import Exchange, body_expected
from stacktap.agent.in_flight import in_recorded_call
from stacktap.agent.recorder import get_recorder
from stacktap.agent.request_tee import tee_request_body
from stacktap.agent.response_tee import has_signature, patch_response_class, tap_response
from stacktap.paths import default_port

_MARK = "_stacktap_original"


def _full_url(pool: Any, url: str) -> str:
    if "://" in url:
        return url
    host = pool.host or ""
    if ":" in host and not host.startswith("["):
        host = "[%s]" % host
    port = pool.port
    default = default_port(pool.scheme)
    netloc = host if port in (None, default) else "%s:%s" % (host, port)
    return "%s://%s%s" % (pool.scheme or "http", netloc, url)


#: ``HTTPConnectionPool.urlopen``'s parameters in urllib3 2.x (then ``**response_kw``).
_URLOPEN_NAMES = (
    "self",
    "method",
    "url",
    "body",
    "headers",
    "retries",
    "redirect",
    "assert_same_host",
    "timeout",
    "pool_timeout",
    "release_conn",
    "chunked",
    "body_pos",
    "preload_content",
    "decode_content",
)


def _wrap_urlopen(original: Callable[..., Any]) -> Callable[..., Any]:
    recorder = get_recorder()
    in_call = in_recorded_call.get

    def record(self: Any, method: str, url: str, args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> Any:
        """``original(self, method, url, *args, **kwargs)``, recorded."""
        try:
            positional: List[Any] = list(args)
            exchange = Exchange(recorder, method, _full_url(self, url), skip_frames=4)
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

    urlopen: Callable[..., Any]
    if has_signature(original, _URLOPEN_NAMES, len(_URLOPEN_NAMES) - 3, var_keywords=True):
        # NOTE: requests calls ``urlopen`` with 11 keyword arguments, for every call: with
        # the exact signature they go on positionally (see has_signature), ~0.5 us less.
        # Its own defaults (``timeout``'s is a sentinel object) are repeated as they are.
        defaults: Any = getattr(original, "__defaults__", None)
        (
            body_,
            headers_,
            retries_,
            redirect_,
            assert_same_host_,
            timeout_,
            pool_timeout_,
            release_conn_,
            chunked_,
            body_pos_,
            preload_content_,
            decode_content_,
        ) = defaults

        def urlopen(
            self: Any,
            method: str,
            url: str,
            body: Any = body_,
            headers: Any = headers_,
            retries: Any = retries_,
            redirect: Any = redirect_,
            assert_same_host: Any = assert_same_host_,
            timeout: Any = timeout_,
            pool_timeout: Any = pool_timeout_,
            release_conn: Any = release_conn_,
            chunked: Any = chunked_,
            body_pos: Any = body_pos_,
            preload_content: Any = preload_content_,
            decode_content: Any = decode_content_,
            **response_kw: Any,
        ) -> Any:
            if not recorder.enabled or in_call():
                return original(
                    self,
                    method,
                    url,
                    body,
                    headers,
                    retries,
                    redirect,
                    assert_same_host,
                    timeout,
                    pool_timeout,
                    release_conn,
                    chunked,
                    body_pos,
                    preload_content,
                    decode_content,
                    **response_kw,
                )
            kwargs = dict(
                body=body,
                headers=headers,
                retries=retries,
                redirect=redirect,
                assert_same_host=assert_same_host,
                timeout=timeout,
                pool_timeout=pool_timeout,
                release_conn=release_conn,
                chunked=chunked,
                body_pos=body_pos,
                preload_content=preload_content,
                decode_content=decode_content,
            )
            kwargs.update(response_kw)
            return record(self, method, url, (), kwargs)

    else:

        def urlopen(self: Any, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
            if not recorder.enabled or in_call():
                return original(self, method, url, *args, **kwargs)
            return record(self, method, url, args, kwargs)

    functools.update_wrapper(urlopen, original)
    setattr(urlopen, _MARK, original)
    return urlopen


def _watch_response(recorder: Any, exchange: Exchange, response: Any, preload: bool) -> None:
    try:
        exchange.headers_received(response.status, getattr(response, "reason", None), response.headers)
        if preload or not body_expected(exchange.method, response.status, response.headers, response):
            exchange.response_body = getattr(response, "_body", None) or b""
            exchange.finish()
            return
        capture = BodyCapture(recorder.body_cap, streamed=True)
        exchange.response_body = capture
        recorder.track(exchange, tap_response(response, capture, exchange.finish).unread)
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
