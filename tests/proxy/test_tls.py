"""The proxy in front of an HTTPS keystone (real clouds are): the CA given with ``cacert`` is
trusted, an untrusted certificate is a 502 naming the TLS failure (recorded, the proxy goes on
serving), and ``insecure`` skips the check as ``--insecure`` does for the OSC."""

from __future__ import annotations

import http.client
import json
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from stacktap.model import Run
from stacktap.proxy import Proxy
from stacktap.store import Store


class _Keystone(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        body = json.dumps({"version": {"id": "v3.14", "links": []}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _Quiet(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        return  # NOTE: the refused handshakes of the untrusted case


@pytest.fixture(scope="module")
def tls_keystone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """An HTTPS upstream on 127.0.0.1 with a self-signed certificate made by the real openssl."""
    where = tmp_path_factory.mktemp("tls")
    cert, key = where / "cert.pem", where / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    server = _Quiet(("127.0.0.1", 0), _Keystone)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"https://127.0.0.1:{server.server_address[1]}/v3", cert
    server.shutdown()
    server.server_close()


def _ask(tmp_path: Path, auth_url: str, **options: Any) -> tuple[int, str, list[Any]]:
    db = tmp_path / "st.db"
    run = Run(kind="command", argv=["test"], started=time.time())
    with Store(str(db)) as store:
        store.add_run(run)
    proxy = Proxy(auth_url, str(db), run.id, **options).start()
    try:
        conn = http.client.HTTPConnection(urlsplit(proxy.auth_url).netloc, timeout=30)
        conn.request("GET", urlsplit(proxy.auth_url).path)
        response = conn.getresponse()
        status, text = response.status, response.read().decode()
        conn.close()
    finally:
        proxy.close()
    with Store(str(db)) as store:
        return status, text, store.calls(run.id)


def test_a_trusted_ca_reaches_the_https_keystone(tmp_path: Path, tls_keystone: tuple[str, Path]) -> None:
    url, cert = tls_keystone
    status, text, calls = _ask(tmp_path, url, cacert=str(cert))
    assert status == 200 and json.loads(text)["version"]["id"] == "v3.14"
    assert [(c.method, c.status) for c in calls] == [("GET", 200)] and calls[0].url.startswith("https://")


def test_an_untrusted_certificate_is_a_502_naming_tls(tmp_path: Path, tls_keystone: tuple[str, Path]) -> None:
    url, _ = tls_keystone
    status, text, calls = _ask(tmp_path, url)
    assert status == 502 and "SSL" in text
    [call] = calls
    assert call.status is None and call.error_type and "SSL" in call.error_type


def test_insecure_skips_the_check(tmp_path: Path, tls_keystone: tuple[str, Path]) -> None:
    url, _ = tls_keystone
    status, _, calls = _ask(tmp_path, url, insecure=True)
    assert status == 200 and [c.status for c in calls] == [200]
