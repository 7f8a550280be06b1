"""A minimal OTLP/HTTP receiver on 127.0.0.1 that keeps what it is sent.

For tests, benchmarks, and to see what an export would send without running a backend.
It accepts ``POST /v1/traces`` (protobuf or JSON), stores the raw bodies with their
content type, and answers 200 with an empty ``ExportTraceServiceResponse``. Decoding is
left to the caller (``opentelemetry-proto`` for protobuf).

NOTE: standard library only.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import List, Optional, Tuple

from stacktap.export.endpoint import TRACES_PATH


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        if self.path.split("?")[0] != TRACES_PATH:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        with self.server.lock:
            self.server.received.append((content_type, body, dict(self.headers.items())))
        # An empty response message: ``{}`` in JSON, no bytes at all in protobuf.
        payload = b"{}" if content_type == "application/json" else b""
        self.send_response(200)
        self.send_header("Content-Type", content_type or "application/x-protobuf")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:
        pass  # quiet: tests and benchmarks read the bodies, not the access log


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: Tuple[str, int]) -> None:
        super().__init__(address, _Handler)
        self.lock = threading.Lock()
        self.received: List[Tuple[str, bytes, dict]] = []


class Receiver:
    """``with Receiver() as rx: ... rx.url ... rx.bodies()``; ``rx.stop()`` to play a dead backend."""

    def __init__(self, port: int = 0) -> None:
        self._server: Optional[_Server] = _Server(("127.0.0.1", port))
        self._stopped = self._server
        self.port = self._server.server_address[1]
        self.base_url = "http://127.0.0.1:%d" % self.port
        self.url = self.base_url + TRACES_PATH
        self._thread = threading.Thread(target=self._server.serve_forever, name="otlp-receiver", daemon=True)
        self._thread.start()

    def requests(self) -> List[Tuple[str, bytes, dict]]:
        """(content type, body, headers) of every export request received so far."""
        server = self._server or self._stopped
        with server.lock:
            return list(server.received)

    def bodies(self, content_type: Optional[str] = None) -> List[bytes]:
        return [body for ctype, body, _ in self.requests() if content_type in (None, ctype)]

    def stop(self) -> None:
        """Stop listening: later exports find the port closed."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
        # NOTE: the stopped server keeps its list: a request accepted just before the stop
        # may still be answered (and so counted as sent by its exporter) after it.
        self._stopped = self._server
        self._server = None

    def __enter__(self) -> Receiver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
