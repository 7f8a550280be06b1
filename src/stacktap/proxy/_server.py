"""The proxy's HTTP server: forward, stream, rewrite, record.

NOTE: standard library ``ThreadingHTTPServer`` + ``http.client``: one thread per client
connection (keep-alive, concurrent clients), bodies copied in 64 KiB chunks both ways; only
JSON responses up to the body cap are held whole (to rewrite their URLs).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import ssl
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from stacktap.agent.body_capture import BodyCapture
from stacktap.agent.enrich import ProcessIdentity
from stacktap.agent.faults import warn_once
from stacktap.agent.recorder import Recorder
from stacktap.agent.wire import ReceivedExchange
from stacktap.model import new_span_id, new_trace_id
from stacktap.proxy._rewrite import Origins

CHUNK = 64 * 1024
#: Seconds an upstream may take to connect or to send the next bytes.
UPSTREAM_TIMEOUT = 120.0
#: Seconds ``close`` waits for the calls in flight to end before recording them as cut short.
DRAIN_TIMEOUT = 3.0
_HOP = {"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade"}


class ProxyError(Exception):
    """A proxy that cannot start (busy port, bad auth URL): one line for the user."""


class _ClientFailed(Exception):
    """The client closed mid-body or sent a body that is not HTTP (bad chunk framing)."""


class _Server(ThreadingHTTPServer):
    """One thread per client connection; a failure in one never reaches stderr as a traceback."""

    daemon_threads = True
    proxy: Proxy

    def handle_error(self, request: Any, client_address: Any) -> None:
        # NOTE: a client gone (reset, broken pipe) is its own business; anything else is a
        # stacktap bug, said once in one line, and the proxy goes on serving the others.
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError)):
            return
        warn_once(f"the proxy failed on a request: {type(exc).__name__}: {exc}")


class _Exchange(ReceivedExchange):
    """A client exchange seen by the proxy, in the form the collector hands the recorder
    (``wire.ReceivedExchange``: no call site, no stack: the client is another program)."""

    call_site = None
    stack: list[str] = []
    parent_span_id = None
    status: int | None = None
    reason: str | None = None
    response_headers: list[tuple[str, str]] | None = None
    response_body: Any = None
    request_body: Any = None
    time_to_headers: float | None = None
    duration: float | None = None
    error_type: str | None = None
    error_message: str | None = None

    def __init__(self, method: str, url: str, headers: list[tuple[str, str]], trace_id: str) -> None:
        self.method = method
        self.url = url
        self.request_headers = headers
        self.trace_id = trace_id
        self.span_id = new_span_id()
        self.thread = threading.current_thread().name
        self.start = time.time()
        self.t0 = time.perf_counter()


def _ssl_context(cacert: str | None, insecure: bool) -> ssl.SSLContext:
    if insecure:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    return ssl.create_default_context(cafile=cacert)


def _connect(origin: str, context: ssl.SSLContext) -> http.client.HTTPConnection:
    parts = urlsplit(origin)
    if parts.scheme == "https":
        return http.client.HTTPSConnection(parts.netloc, timeout=UPSTREAM_TIMEOUT, context=context)
    return http.client.HTTPConnection(parts.netloc, timeout=UPSTREAM_TIMEOUT)


def check_auth_url(auth_url: str, cacert: str | None = None, insecure: bool = False) -> None:
    """Raise ProxyError unless ``auth_url`` answers like keystone (version discovery)."""
    parts = urlsplit(auth_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ProxyError(f"not an http(s) URL: {auth_url}")
    conn = _connect(f"{parts.scheme}://{parts.netloc}", _ssl_context(cacert, insecure))
    conn.timeout = 10.0
    try:
        conn.request("GET", parts.path or "/", headers={"Accept": "application/json"})
        response = conn.getresponse()
        data = response.read(1024 * 1024)
    except (OSError, http.client.HTTPException) as exc:
        raise ProxyError(f"cannot reach the auth URL {auth_url}: {exc}") from None
    finally:
        conn.close()
    try:
        doc = json.loads(data)
    except ValueError:
        doc = None
    if not isinstance(doc, dict) or not ("version" in doc or "versions" in doc):
        raise ProxyError(f"not a keystone endpoint (no version document): {auth_url}")


class Proxy:
    """The proxy, listening on 127.0.0.1 and recording into ``db``'s run ``run_id``."""

    def __init__(
        self,
        auth_url: str,
        db: str,
        run_id: str,
        listen: tuple[str, int] = ("127.0.0.1", 0),
        body_cap: int | None = None,
        cacert: str | None = None,
        insecure: bool = False,
        argv: list[str] | None = None,
    ) -> None:
        try:
            self._server = _Server(listen, _Handler)
        except OSError as exc:
            raise ProxyError(f"cannot listen on {listen[0]}:{listen[1]}: {exc.strerror or exc}") from None
        host, port = self._server.server_address[:2]
        self.origins = Origins(f"http://{host!s}:{port}")
        self.auth_url = self.origins.proxy_url(auth_url.rstrip("/"))
        self.recorder = Recorder(environ={}, process=ProcessIdentity(os.getpid(), argv or ["stacktap-proxy"]))
        self.recorder.configure(db=db, run_id=run_id, enabled=True, body_cap=body_cap)
        self.trace_id = new_trace_id()
        self.context = _ssl_context(cacert, insecure)
        #: The exchanges in flight (recorded by their handler, or by ``close`` when cut short).
        self._active: set[_Exchange] = set()
        self._active_lock = threading.Lock()
        self._idle = threading.Condition(self._active_lock)
        self._closed = False
        self._server.proxy = self
        self._thread = threading.Thread(target=self._server.serve_forever, name="stacktap-proxy", daemon=True)

    def start(self) -> Proxy:
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving and store every call recorded, the ones in flight too.

        NOTE: handler threads are daemons (a client holding a keep-alive connection must not
        keep the proxy up): calls still running after ``DRAIN_TIMEOUT`` are recorded as cut
        short by the stop, before the recorder's last flush, so nothing seen is lost.
        """
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()
        deadline = time.monotonic() + DRAIN_TIMEOUT
        with self._idle:
            while self._active and time.monotonic() < deadline:
                self._idle.wait(max(0.0, deadline - time.monotonic()))
            self._closed = True
            left = list(self._active)
            self._active.clear()
        for exchange in left:
            exchange.error_type = "ProxyStopped"
            exchange.error_message = "the proxy stopped before the call ended"
            if exchange.duration is None:
                exchange.duration = time.perf_counter() - exchange.t0
            self.recorder.submit_exchange(exchange)
        self.recorder.close()

    def begin(self, exchange: _Exchange) -> bool:
        """Count ``exchange`` in flight; False once closed (a kept-alive client connection
        may still send after ``close``: nothing would record it)."""
        with self._active_lock:
            if self._closed:
                return False
            self._active.add(exchange)
            return True

    def end(self, exchange: _Exchange) -> None:
        """Record ``exchange`` unless ``close`` did already."""
        with self._idle:
            if exchange not in self._active:
                return
            self._active.discard(exchange)
            self._idle.notify_all()
        if exchange.duration is None:
            exchange.duration = time.perf_counter() - exchange.t0
        self.recorder.submit_exchange(exchange)


def _length(value: str | None) -> int:
    """A request's Content-Length (0 when absent); _ClientFailed when it is not a number."""
    if value is None or not value.strip():
        return 0
    try:
        length = int(value)
    except ValueError:
        raise _ClientFailed(f"bad Content-Length: {value[:40]!r}") from None
    if length < 0:
        raise _ClientFailed(f"bad Content-Length: {value[:40]!r}")
    return length


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "stacktap-proxy"
    # NOTE: status line, headers and a small body leave in one write (the buffer is flushed
    # after each response and each streamed chunk), with no Nagle: otherwise the client's
    # delayed ACK adds ~40 ms to every call.
    wbufsize = CHUNK
    disable_nagle_algorithm = True

    def setup(self) -> None:
        super().setup()
        #: Upstream connections kept alive for this client connection, by origin.
        self._upstreams: dict[str, http.client.HTTPConnection] = {}

    def finish(self) -> None:
        for conn in self._upstreams.values():
            conn.close()
        self._upstreams.clear()
        with contextlib.suppress(OSError):
            super().finish()

    def log_message(self, format: str, *args: Any) -> None:  # NOTE: no access log on stderr
        return

    def _proxy(self) -> None:
        proxy: Proxy = self.server.proxy  # type: ignore[attr-defined]  # NOTE: always a _Server
        target = proxy.origins.upstream(self.path)
        if target is None:
            self._plain(404, "stacktap proxy: unknown path prefix\n")
            return
        origin, path = target
        headers = [(k, v) for k, v in self.headers.items() if k.lower() not in _HOP and k.lower() != "host"]
        exchange = _Exchange(self.command, origin + path, headers, proxy.trace_id)
        if not proxy.begin(exchange):
            self.close_connection = True
            self._plain(503, "stacktap proxy: stopped\n")
            return
        try:
            self._forward(proxy, origin, path, headers, exchange)
        finally:
            proxy.end(exchange)

    def _request_chunks(self) -> Iterator[bytes]:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            while True:
                line = self.rfile.readline(1024)
                if not line:
                    raise _ClientFailed("the client closed mid-body")
                try:
                    size = int(line.split(b";")[0].strip(), 16)
                except ValueError:
                    raise _ClientFailed(f"bad chunk size in the request body: {line[:40]!r}") from None
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    return
                data = self.rfile.read(size)
                if len(data) < size:
                    raise _ClientFailed("the client closed mid-body")
                self.rfile.readline(1024)
                yield data
        remaining = _length(self.headers.get("Content-Length"))
        while remaining > 0:
            data = self.rfile.read(min(CHUNK, remaining))
            if not data:
                raise _ClientFailed("the client closed mid-body")
            remaining -= len(data)
            yield data

    def _forward(self, proxy: Proxy, origin: str, path: str, headers: list, exchange: _Exchange) -> None:
        cap = proxy.recorder.body_cap
        chunked = "chunked" in self.headers.get("Transfer-Encoding", "").lower()
        try:
            has_body = chunked or _length(self.headers.get("Content-Length")) > 0
        except _ClientFailed as exc:
            self._client_failed(exchange, exc)
            return
        capture = BodyCapture(cap, streamed=chunked) if has_body else None
        exchange.request_body = capture
        kept = self._upstreams.pop(origin, None)
        conn = kept or _connect(origin, proxy.context)
        try:
            try:
                response = self._send(conn, path, headers, chunked, capture)
            except (ConnectionError, http.client.RemoteDisconnected):
                if kept is None or has_body:
                    raise
                # NOTE: a kept-alive upstream connection the upstream closed meanwhile: a
                # request without a body is sent again, once, on a new connection.
                conn.close()
                conn = _connect(origin, proxy.context)
                response = self._send(conn, path, headers, chunked, capture)
        except _ClientFailed as exc:
            self._client_failed(exchange, exc)
            conn.close()
            return
        except TimeoutError as exc:
            self._fail(exchange, exc, 504)
            conn.close()
            return
        except (OSError, http.client.HTTPException) as exc:
            self._fail(exchange, exc, 502)
            conn.close()
            return
        try:
            self._respond(proxy, response, exchange, cap)
        except (OSError, http.client.HTTPException) as exc:
            # NOTE: mid-response: the client went away, or the upstream did (timeout, reset);
            # the status is sent already, so the client sees the connection closed.
            exchange.error_type = type(exc).__qualname__
            exchange.error_message = str(exc)[:2000]
            self.close_connection = True
            conn.close()
            return
        if response.will_close or not response.isclosed():
            conn.close()
        else:
            self._upstreams[origin] = conn  # NOTE: reused by this client's next call there

    def _send(
        self,
        conn: http.client.HTTPConnection,
        path: str,
        headers: list[tuple[str, str]],
        chunked: bool,
        capture: BodyCapture | None,
    ) -> http.client.HTTPResponse:
        """Send the request (its body streamed from the client) and read the response head."""
        conn.putrequest(self.command, path, skip_host=False, skip_accept_encoding=True)
        for name, value in headers:
            conn.putheader(name, value)
        if chunked:
            conn.putheader("Transfer-Encoding", "chunked")
        conn.endheaders()
        if capture is not None:
            for data in self._request_chunks():
                capture.feed(data)
                conn.send(b"%x\r\n%s\r\n" % (len(data), data) if chunked else data)
            if chunked:
                conn.send(b"0\r\n\r\n")
            capture.complete = True
        return conn.getresponse()

    def _fail(self, exchange: _Exchange, exc: BaseException, status: int) -> None:
        exchange.error_type = type(exc).__qualname__
        exchange.error_message = str(exc)[:2000]
        self.close_connection = True  # NOTE: the request body may be left half-read
        with contextlib.suppress(OSError):
            self._plain(status, f"stacktap proxy: upstream failed: {type(exc).__name__}: {exc}\n")

    def _client_failed(self, exchange: _Exchange, exc: _ClientFailed) -> None:
        """Record the client's failure; answer 400 if it still listens; end the connection."""
        exchange.error_type = "ClientFailed"
        exchange.error_message = str(exc)
        self.close_connection = True
        with contextlib.suppress(OSError):
            self._plain(400, f"stacktap proxy: {exc}\n")

    def _respond(
        self, proxy: Proxy, response: http.client.HTTPResponse, exchange: _Exchange, cap: int
    ) -> None:
        exchange.time_to_headers = time.perf_counter() - exchange.t0
        exchange.status, exchange.reason = response.status, response.reason
        upstream_headers = response.getheaders()
        exchange.response_headers = upstream_headers
        ctype = response.getheader("Content-Type", "") or ""
        length = response.getheader("Content-Length")
        out = [
            (k, proxy.origins.rewrite_text(v) if k.lower() in ("location", "content-location") else v)
            for k, v in upstream_headers
            if k.lower() not in _HOP and k.lower() != "content-length"
        ]
        capture = BodyCapture(cap, streamed=length is None)
        exchange.response_body = capture
        no_body = self.command == "HEAD" or response.status in (204, 304) or response.status < 200
        small = length is not None and int(length) <= cap
        if "json" in ctype.lower() and small and not no_body:
            # NOTE: catalogs, version links, "next" links: rewritten whole (bounded by the cap).
            data = response.read()
            capture.feed(data)
            capture.complete = True
            body = proxy.origins.rewrite_text(data.decode("utf-8", "surrogateescape")).encode(
                "utf-8", "surrogateescape"
            )
            self._head(response.status, response.reason, [*out, ("Content-Length", str(len(body)))])
            self.wfile.write(body)
            return
        if no_body:
            self._head(
                response.status, response.reason, out + ([("Content-Length", length)] if length else [])
            )
            capture.complete = True
            return
        framing = [("Content-Length", length)] if length is not None else [("Transfer-Encoding", "chunked")]
        self._head(response.status, response.reason, out + framing)
        while True:
            data = response.read1(CHUNK)
            if not data:
                break
            capture.feed(data)
            self.wfile.write(data if length is not None else b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()  # NOTE: streamed: each chunk reaches the client as it comes
        if length is None:
            self.wfile.write(b"0\r\n\r\n")
        capture.complete = True

    def _head(self, status: int, reason: str, headers: list[tuple[str, str]]) -> None:
        self.send_response_only(status, reason)
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()

    def _plain(self, status: int, text: str) -> None:
        body = text.encode()
        self._head(
            status,
            http.client.responses.get(status, ""),
            [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))],
        )
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _proxy
