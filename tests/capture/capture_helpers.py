"""A small HTTP server on 127.0.0.1 for the capture tests, and a way to run traced code.

Routes: ``/json`` (JSON with a request id), ``/chunked`` (chunked transfer), ``/bytes?size=N``
(binary), ``/upload`` (POST: echoes size and sha256 of what it got), ``/v3/auth/tokens``
(a token with a catalog), ``/protected`` (401 without the right X-Auth-Token), ``/slow``,
``/headers`` (echoes the request headers), ``/empty`` (204).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from tests.fixtures.pythons import PY38

from stacktap.launcher.env import tracing_env
from stacktap.model import Call, Run
from stacktap.store import Store

TOKEN = "gAAAAABsecret-token-value-0123456789"
PASSWORD = "very-secret-password-42"


def pattern(size: int) -> bytes:
    block = bytes(range(256)) * 4096
    return (block * (size // len(block) + 1))[:size]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:
        pass

    def _send(
        self, status: int, body: bytes, ctype: str = "application/json", extra: dict | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("x-openstack-request-id", "req-1234")
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            digest, size = hashlib.sha256(), 0
            while True:
                length = int(self.rfile.readline().strip(), 16)
                if length == 0:
                    self.rfile.readline()
                    break
                chunk = self.rfile.read(length)
                self.rfile.readline()
                digest.update(chunk)
                size += len(chunk)
            self._digest = (size, digest.hexdigest())
            return b""
        length = int(self.headers.get("Content-Length") or 0)
        remaining, digest, size = length, hashlib.sha256(), 0
        while remaining:
            chunk = self.rfile.read(min(remaining, 1 << 20))
            digest.update(chunk)
            size += len(chunk)
            remaining -= len(chunk)
        self._digest = (size, digest.hexdigest())
        return b""

    def do_HEAD(self) -> None:
        self._send(200, b'{"x": 1}')

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        if url.path == "/json":
            self._send(200, json.dumps({"hello": "world", "password": PASSWORD}).encode())
        elif url.path == "/headers":
            self._send(200, json.dumps(dict(self.headers.items())).encode())
        elif url.path == "/empty":
            self.send_response(204)
            self.end_headers()
        elif url.path == "/bytes":
            self._send(200, pattern(int(query["size"][0])), "application/octet-stream")
        elif url.path == "/chunked":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for part in (b'{"parts": [', b"1, 2, ", b"3]}"):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\n\r\n")
        elif url.path.endswith("/protected"):
            if self.headers.get("X-Auth-Token") == TOKEN:
                self._send(200, b'{"ok": true}')
            else:
                self._send(401, b'{"error": {"code": 401}}')
        elif url.path == "/slow":
            time.sleep(float(query.get("s", ["2"])[0]))
            self._send(200, b"{}")
        else:
            self._send(404, b'{"error": "not found"}')

    def do_POST(self) -> None:
        url = urlsplit(self.path)
        self._read_body()
        if url.path == "/upload":
            size, digest = self._digest
            self._send(200, json.dumps({"size": size, "sha256": digest}).encode())
        elif url.path == "/v3/auth/tokens":
            host, port = self.server.server_address[:2]
            base = f"http://{host}:{port}"
            body = {
                "token": {
                    "methods": ["password"],
                    "catalog": [
                        {
                            "type": "image",
                            "name": "glance",
                            "endpoints": [
                                {"interface": "public", "region": "RegionOne", "url": base + "/image"}
                            ],
                        },
                        {
                            "type": "identity",
                            "name": "keystone",
                            "endpoints": [
                                {"interface": "public", "region": "RegionOne", "url": base + "/v3"}
                            ],
                        },
                    ],
                }
            }
            self._send(201, json.dumps(body).encode(), extra={"X-Subject-Token": TOKEN})
        else:
            self._send(404, b"{}")


class _QuietServer(ThreadingHTTPServer):
    """Keeps handler errors (clients that hang up on purpose, timeouts) off stderr.

    NOTE: socketserver prints them to ``sys.stderr`` from a daemon thread, possibly while a later
    test has it redirected (click's CliRunner), which would corrupt that test's output.
    """

    errors: list[str] = []

    def handle_error(self, request: object, client_address: object) -> None:
        self.errors.append(repr(sys.exc_info()[1]))


class LocalServer:
    def __init__(self) -> None:
        self.httpd = _QuietServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def new_run(db: Path) -> Run:
    run = Run(kind="command")
    with Store(str(db)) as store:
        store.add_run(run)
    return run


def run_traced(
    source: str,
    db: Path,
    run_id: str | None = None,
    python: str = sys.executable,
    extra_env: dict[str, str] | None = None,
    args: tuple[str, ...] = (),
    timeout: float = 60,
) -> subprocess.CompletedProcess:
    """Run a Python program (source text) in a child with the tracing environment."""
    script = db.parent / f"prog_{abs(hash(source))}.py"
    script.write_text(textwrap.dedent(source))
    env = tracing_env(str(db), run_id=run_id)
    env.update(extra_env or {})
    return subprocess.run(
        [python, str(script), *args], env=env, capture_output=True, text=True, timeout=timeout
    )


def stored_calls(db: Path, run_id: str) -> list[Call]:
    with Store(str(db)) as store:
        return store.calls(run_id, with_traces=False)


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]




def py38_venv() -> str | None:
    """A Python 3.8 venv with requests (built once, kept in the temp dir)."""
    if not os.path.exists(PY38):
        return None
    venv = Path(tempfile.gettempdir()) / "stacktap-py38-requests"
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([PY38, "-m", "venv", str(venv)], check=True)
        done = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "requests"], capture_output=True)
        if done.returncode != 0:
            return None
    return str(python)
