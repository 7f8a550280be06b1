"""The proxy's server against small upstreams of its own on 127.0.0.1: bodies stream both ways,
concurrent clients, upstream failures (refused: 502, timeout: 504), clients that close mid-body,
and ``stacktap run --proxy`` keeping the command's exit code."""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from stacktap.model import Run
from stacktap.proxy import Proxy, _server
from stacktap.store import Store

#: Set by the upstream when the first chunk of a request body reached it; the client waits
#: for it before sending the rest (a proxy that buffered the body whole would never let it).
FIRST_CHUNK_IN = threading.Event()
#: Set by the client when the first chunk of a response reached it; the upstream waits for it.
FIRST_CHUNK_OUT = threading.Event()


class _Upstream(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _json(self, status: int, doc: Any) -> None:
        body = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path == "/v3":
            self._json(200, {"version": {"id": "v3.14", "links": []}})
        elif self.path.startswith("/stream"):
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for index in range(4):
                data = bytes([65 + index]) * 1000
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                self.wfile.flush()
                if index == 0:
                    FIRST_CHUNK_OUT.wait(10)
            self.wfile.write(b"0\r\n\r\n")
        elif self.path.startswith("/bytes/"):
            size = int(self.path.rsplit("/", 1)[1])
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(size))
            self.end_headers()
            block = b"\0" * (1 << 20)
            while size:
                size -= self.wfile.write(block[: min(size, len(block))])
        elif self.path.startswith("/then-close"):
            self._json(200, {"path": self.path})
            self.close_connection = True  # NOTE: closed without a "Connection: close" header
        elif self.path == "/slow":
            time.sleep(2)
            self._json(200, {"late": True})
        else:
            self._json(200, {"path": self.path, "thread": threading.current_thread().name})

    def do_POST(self) -> None:
        digest, size = hashlib.sha256(), 0
        if "chunked" in self.headers.get("Transfer-Encoding", ""):
            while True:
                chunk_size = int(self.rfile.readline().split(b";")[0], 16)
                if chunk_size == 0:
                    self.rfile.readline()
                    break
                data = self.rfile.read(chunk_size)
                self.rfile.readline()
                digest.update(data)
                size += len(data)
                FIRST_CHUNK_IN.set()
        else:
            remaining = int(self.headers.get("Content-Length") or 0)
            while remaining:
                data = self.rfile.read(min(remaining, 1 << 20))
                if not data:
                    break
                digest.update(data)
                size += len(data)
                remaining -= len(data)
        self._json(201, {"size": size, "sha256": digest.hexdigest()})


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        return  # NOTE: a request cut short by the proxy: stderr stays the proxy's to judge


@pytest.fixture
def upstream() -> Iterator[str]:
    server = _QuietServer(("127.0.0.1", 0), _Upstream)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _proxy(tmp_path: Path, auth_url: str) -> tuple[Proxy, Path, str]:
    db = tmp_path / "st.db"
    run = Run(kind="command", argv=["test"], started=time.time())
    with Store(str(db)) as store:
        store.add_run(run)
    return Proxy(auth_url, str(db), run.id).start(), db, run.id


def _calls(db: Path, run_id: str) -> list[Any]:
    with Store(str(db)) as store:
        return store.calls(run_id, with_traces=False)


def _connection(proxy: Proxy) -> http.client.HTTPConnection:
    return http.client.HTTPConnection(urlsplit(proxy.auth_url).netloc, timeout=30)


def _base(proxy: Proxy) -> str:
    """The path prefix of the upstream (origin 0: the auth URL's)."""
    return urlsplit(proxy.auth_url).path[: -len("/v3")]


def test_chunked_request_body_streams_to_the_upstream(tmp_path: Path, upstream: str) -> None:
    FIRST_CHUNK_IN.clear()
    proxy, db, run_id = _proxy(tmp_path, upstream + "/v3")
    chunks = [os.urandom(100_000) for _ in range(5)]
    seen_before_the_rest: list[bool] = []

    def body() -> Iterator[bytes]:
        yield chunks[0]
        seen_before_the_rest.append(FIRST_CHUNK_IN.wait(10))
        yield from chunks[1:]

    conn = _connection(proxy)
    conn.request("POST", _base(proxy) + "/upload", body=body(), encode_chunked=True)
    answer = json.loads(conn.getresponse().read())
    conn.close()
    proxy.close()
    assert seen_before_the_rest == [True]
    assert answer == {"size": 500_000, "sha256": hashlib.sha256(b"".join(chunks)).hexdigest()}
    [call] = _calls(db, run_id)
    assert (call.method, call.status) == ("POST", 201)


def test_chunked_response_body_streams_to_the_client(tmp_path: Path, upstream: str) -> None:
    FIRST_CHUNK_OUT.clear()
    proxy, db, run_id = _proxy(tmp_path, upstream + "/v3")
    conn = _connection(proxy)
    conn.request("GET", _base(proxy) + "/stream")
    response = conn.getresponse()
    assert response.getheader("Transfer-Encoding") == "chunked"
    first = response.read1(1000)  # NOTE: the upstream sends the rest only once this arrived
    FIRST_CHUNK_OUT.set()
    rest = response.read()
    conn.close()
    proxy.close()
    assert first == b"A" * 1000
    assert first + rest == b"A" * 1000 + b"B" * 1000 + b"C" * 1000 + b"D" * 1000
    [call] = _calls(db, run_id)
    assert call.status == 200


def test_concurrent_keep_alive_clients_all_served_and_recorded(tmp_path: Path, upstream: str) -> None:
    proxy, db, run_id = _proxy(tmp_path, upstream + "/v3")
    failures: list[BaseException] = []

    def client(number: int) -> None:
        try:
            conn = _connection(proxy)
            for request in range(5):
                conn.request("GET", f"{_base(proxy)}/item/{number}/{request}")
                doc = json.loads(conn.getresponse().read())
                assert doc["path"] == f"/item/{number}/{request}"
            conn.close()
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    proxy.close()
    assert failures == []
    calls = _calls(db, run_id)
    assert len(calls) == 40
    assert {c.status for c in calls} == {200}


def test_upstream_closing_a_kept_connection_is_retried_once(tmp_path: Path, upstream: str) -> None:
    proxy, db, run_id = _proxy(tmp_path, upstream + "/v3")
    conn = _connection(proxy)
    paths = []
    for number in range(3):
        conn.request("GET", f"{_base(proxy)}/then-close/{number}")
        response = conn.getresponse()
        paths.append((response.status, json.loads(response.read())["path"]))
    conn.close()
    proxy.close()
    assert paths == [(200, f"/then-close/{n}") for n in range(3)]
    assert [c.status for c in _calls(db, run_id)] == [200, 200, 200]


def test_upstream_refused_is_502_and_recorded(tmp_path: Path, upstream: str) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proxy, db, run_id = _proxy(tmp_path, upstream + "/v3")
    dead = urlsplit(proxy.origins.proxy_url(f"http://127.0.0.1:{port}/v2/images")).path
    conn = _connection(proxy)
    conn.request("GET", dead)
    response = conn.getresponse()
    text = response.read().decode()
    conn.close()
    proxy.close()
    assert response.status == 502
    assert "ConnectionRefusedError" in text
    [call] = _calls(db, run_id)
    assert call.status is None and call.error_type == "ConnectionRefusedError"


def test_upstream_timeout_is_504_and_recorded(
    tmp_path: Path, upstream: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_server, "UPSTREAM_TIMEOUT", 0.3)
    proxy, db, run_id = _proxy(tmp_path, upstream + "/v3")
    conn = _connection(proxy)
    conn.request("GET", _base(proxy) + "/slow")
    response = conn.getresponse()
    response.read()
    conn.close()
    proxy.close()
    assert response.status == 504
    [call] = _calls(db, run_id)
    assert call.error_type == "TimeoutError"


@pytest.mark.parametrize(
    "head",
    [
        b"Content-Length: 100000\r\n\r\n" + b"x" * 1000,  # closes 1000 bytes into 100000
        b"Transfer-Encoding: chunked\r\n\r\n3e8\r\n" + b"x" * 1000 + b"\r\n",  # no last chunk
        b"Transfer-Encoding: chunked\r\n\r\nnot-hex\r\n",  # garbage framing
    ],
)
def test_client_failing_mid_body_is_recorded_and_others_still_served(
    tmp_path: Path, upstream: str, head: bytes, capfd: pytest.CaptureFixture[str]
) -> None:
    proxy, db, run_id = _proxy(tmp_path, upstream + "/v3")
    host, port = urlsplit(proxy.auth_url).netloc.split(":")
    with socket.create_connection((host, int(port))) as raw:
        raw.sendall(b"POST " + _base(proxy).encode() + b"/upload HTTP/1.1\r\nHost: x\r\n" + head)
        raw.shutdown(socket.SHUT_WR)
        raw.settimeout(10)
        with contextlib.suppress(OSError):  # NOTE: a 400, or a reset: either is fine
            while raw.recv(65536):
                pass
    conn = _connection(proxy)
    conn.request("GET", _base(proxy) + "/after")
    after = conn.getresponse()
    after.read()
    conn.close()
    proxy.close()
    assert after.status == 200
    calls = _calls(db, run_id)
    assert [(c.method, c.error_type) for c in calls] == [("POST", "ClientFailed"), ("GET", None)]
    assert capfd.readouterr().err == ""  # NOTE: a client's fault is no stacktap warning


def test_client_leaving_mid_download_is_recorded_and_others_still_served(
    tmp_path: Path, upstream: str, capfd: pytest.CaptureFixture[str]
) -> None:
    proxy, db, run_id = _proxy(tmp_path, upstream + "/v3")
    conn = _connection(proxy)
    conn.request("GET", f"{_base(proxy)}/bytes/{500 * 1024 * 1024}")
    response = conn.getresponse()
    assert len(response.read(1 << 20)) == 1 << 20
    conn.sock.shutdown(socket.SHUT_RDWR)  # type: ignore[union-attr]
    conn.close()
    after = _connection(proxy)
    after.request("GET", _base(proxy) + "/after")
    assert after.getresponse().status == 200
    after.close()
    proxy.close()
    calls = _calls(db, run_id)
    assert [c.method for c in calls] == ["GET", "GET"]
    assert calls[0].error_type in ("BrokenPipeError", "ConnectionResetError"), calls[0].error_type
    assert calls[0].status == 200 and calls[1].error_type is None
    assert capfd.readouterr().err == ""


def test_a_kept_alive_client_after_close_gets_503_not_an_unrecorded_call(
    tmp_path: Path, upstream: str
) -> None:
    proxy, db, run_id = _proxy(tmp_path, upstream + "/v3")
    conn = _connection(proxy)
    conn.request("GET", _base(proxy) + "/before")
    conn.getresponse().read()
    proxy.close()
    conn.request("GET", _base(proxy) + "/after")
    late = conn.getresponse()
    late.read()
    conn.close()
    assert late.status == 503
    assert [c.url.rsplit("/", 1)[1] for c in _calls(db, run_id)] == ["before"]


def test_run_proxy_keeps_the_exit_code_and_says_no_more_than_a_line(tmp_path: Path, upstream: str) -> None:
    """The command calls the upstream through the proxy, then exits 7."""
    client = (
        "import os, sys, urllib.request\n"
        "base = os.environ['OS_AUTH_URL'][: -len('/v3')]\n"
        "print(urllib.request.urlopen(base + '/hello').read().decode())\n"
        "sys.exit(7)\n"
    )
    db = tmp_path / "st.db"
    stacktap = str(Path(sys.executable).parent / "stacktap")
    result = subprocess.run(
        [stacktap, "run", "--db", str(db), "--proxy", "--", sys.executable, "-c", client],
        env={**os.environ, "OS_AUTH_URL": upstream + "/v3"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 7
    assert json.loads(result.stdout)["path"] == "/hello"
    assert "Traceback" not in result.stderr
    # NOTE: the "--proxy: recording through" notice and the summary; never a warning on top.
    lines = result.stderr.splitlines()
    assert len(lines) == 2 and all(line.startswith("stacktap: ") for line in lines), lines
    with Store(str(db)) as store:
        run = store.get_run("last")
        assert run.exit_code == 7
        assert [c.status for c in store.calls(run.id, with_traces=False)] == [200]


def _vm(pid: int, field: str) -> int:
    """``field`` (VmRSS, VmHWM) of process ``pid``, in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} for {pid}")


def test_200_mb_up_and_down_through_stacktap_proxy_bounded_memory(tmp_path: Path, upstream: str) -> None:
    """Loose bound only; ``benchmarks/bench_proxy_memory.py`` measures (against the untraced client)."""
    size = 200 * 1024 * 1024
    stacktap = str(Path(sys.executable).parent / "stacktap")
    server = subprocess.Popen(
        [stacktap, "proxy", "--db", str(tmp_path / "st.db"), "--auth-url", upstream + "/v3"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        auth_url = server.stdout.readline().split("OS_AUTH_URL=")[1].split()[0]
        netloc, base = urlsplit(auth_url).netloc, urlsplit(auth_url).path[: -len("/v3")]
        conn = http.client.HTTPConnection(netloc, timeout=120)
        conn.request("GET", base + "/warm-up")
        conn.getresponse().read()
        before = _vm(server.pid, "VmHWM")
        block = b"x" * (1 << 20)
        conn.request(
            "POST", base + "/upload", body=(block for _ in range(200)), headers={"Content-Length": str(size)}
        )
        assert json.loads(conn.getresponse().read())["size"] == size
        conn.request("GET", f"{base}/bytes/{size}")
        response = conn.getresponse()
        received = 0
        while data := response.read(1 << 20):
            received += len(data)
        assert received == size
        peak = _vm(server.pid, "VmHWM")
        conn.close()
    finally:
        server.send_signal(signal.SIGINT)
        server.communicate(timeout=60)
    assert server.returncode == 0
    # NOTE: streamed in 64 KiB chunks, bodies captured up to the cap: some MB, never the 200.
    assert peak - before < 40 * 1024, (before, peak)
