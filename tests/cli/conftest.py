"""Fixtures of the command-line tests: a keystone-like upstream on 127.0.0.1 for ``stacktap
proxy`` and ``run --proxy`` (its version document at ``/v3``, any other path echoed)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


class _Keystone(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        doc = {"version": {"id": "v3.14", "links": []}} if self.path == "/v3" else {"path": self.path}
        body = json.dumps(doc).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def keystone() -> Iterator[str]:
    """The stand-in keystone's /v3 URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Keystone)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v3"
    server.shutdown()
    server.server_close()
