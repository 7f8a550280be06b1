"""Per-request overhead of the stacktap WSGI filter, side by side with osprofiler's and
OpenTelemetry's WSGI middlewares, on the same trivial app, in one process.

Run: ``.venv/bin/python benchmarks/bench_wsgi.py [requests]``. Prints us/request and the
microseconds each middleware adds over the bare app (best of several rounds). Target: the
stacktap filter without layer timing adds at most 30 us per request.

"stacktap (hot path)" hands calls to a recorder that drops them; "stacktap (recorder)"
uses the real recorder writing to a temporary store (its writer thread redacts and stores
in the background, sharing the GIL with the requests).
"""

from __future__ import annotations

import io
import os
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

ROUNDS = 5


def app(environ: dict, start_response: Callable[..., Any]) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", "2")])
    return [b"{}"]


def passthrough_factory(global_conf: dict, **local: Any) -> Callable[[Any], Any]:
    def make(next_app: Any) -> Any:
        def middleware(environ: dict, start_response: Callable[..., Any]) -> Any:
            return next_app(environ, start_response)

        return middleware

    return make


def environ(headers: dict[str, str] | None = None) -> dict[str, Any]:
    env = {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": "/v2/images",
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "9292",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "127.0.0.1:9292",
        "HTTP_USER_AGENT": "openstacksdk/4.0 keystoneauth1/5.0 python-requests/2.32",
        "HTTP_ACCEPT": "application/json",
        "HTTP_X_AUTH_TOKEN": "gAAAAAB-token",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
    }
    for name, value in (headers or {}).items():
        env["HTTP_" + name.upper().replace("-", "_")] = value
    return env


def per_request_us(wsgi_app: Any, requests: int, headers: dict[str, str] | None = None) -> float:
    template = environ(headers)

    def start_response(status: str, headers: Any, exc_info: Any = None) -> None:
        return None

    best = float("inf")
    for _ in range(ROUNDS):
        started = time.perf_counter()
        for _ in range(requests):
            result = wsgi_app(dict(template), start_response)
            for _chunk in result:
                pass
            close = getattr(result, "close", None)
            if close is not None:
                close()
        best = min(best, (time.perf_counter() - started) / requests * 1e6)
    return best


class DroppingRecorder:
    def submit(self, call: Any, request_body: Any = None, response_body: Any = None) -> None:
        pass


def stacked(filters: int, factory: Callable[..., Any]) -> Any:
    wrapped: Any = app
    for index in reversed(range(filters)):
        wrapped = factory(index)(wrapped)
    return wrapped


def main() -> None:
    requests = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    tmp = tempfile.mkdtemp(prefix="stacktap-bench-")
    os.environ["STACKTAP_DB"] = os.path.join(tmp, "stacktap.db")
    os.environ.pop("STACKTAP_RUN_ID", None)

    from opentelemetry.instrumentation.wsgi import OpenTelemetryMiddleware
    from opentelemetry.sdk.trace import TracerProvider
    from osprofiler import profiler, web

    from stacktap.agent.server.filter import TraceMiddleware
    from stacktap.agent.server.layers import wrap_filter

    hmac_key = "bench-key"
    profiler.init(hmac_key)
    traced_headers = web.get_trace_id_headers()
    profiler.clean()

    layered = stacked(5, lambda i: wrap_filter(passthrough_factory({}), f"f{i}", "bench:passthrough"))
    plain_filters = stacked(5, lambda i: passthrough_factory({}))
    cases: list[tuple[str, Any, dict[str, str] | None, Any]] = [
        ("bare app", app, None, None),
        ("stacktap (hot path)", TraceMiddleware(app, service="bench", recorder=DroppingRecorder()), None,
         "bare app"),
        ("stacktap (recorder)", TraceMiddleware(app, service="bench"), None, "bare app"),
        ("osprofiler untraced", web.WsgiMiddleware(app, hmac_keys=hmac_key, enabled=True), None, "bare app"),
        ("osprofiler traced", web.WsgiMiddleware(app, hmac_keys=hmac_key, enabled=True), traced_headers,
         "bare app"),
        ("opentelemetry", OpenTelemetryMiddleware(app, tracer_provider=TracerProvider()), None, "bare app"),
        ("5 plain filters", plain_filters, None, None),
        ("stacktap + 5 timed layers",
         TraceMiddleware(layered, service="bench", recorder=DroppingRecorder()), None, "5 plain filters"),
    ]  # fmt: skip
    results: dict[str, float] = {}
    print(f"{'case':<28} {'us/request':>12} {'added us':>12}")
    for name, wsgi_app, headers, baseline in cases:
        per_request_us(wsgi_app, max(requests // 10, 100), headers)  # warm up
        results[name] = per_request_us(wsgi_app, requests, headers)
        added = "" if baseline is None else f"{results[name] - results[baseline]:+.1f}"
        print(f"{name:<28} {results[name]:>12.1f} {added:>12}")
    hot = results["stacktap (hot path)"] - results["bare app"]
    verdict = "OK" if hot <= 30 else "MISSED"
    print(f"target: stacktap without layers adds <= 30 us/request: {verdict} ({hot:.1f} us)")
    from stacktap.agent.recorder import get_recorder

    get_recorder().flush(30)


if __name__ == "__main__":
    main()
