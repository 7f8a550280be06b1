"""The filter with the real recorder and store: a traced client, a served request, and the
calls the app makes while serving it, all in one trace."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
import requests
from wsgi_apps import Router

import stacktap
from stacktap.agent.server.filter import TraceMiddleware
from stacktap.model import CLIENT, SERVER
from stacktap.store import Store, load_trace


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


class _Upstream(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def upstream() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Upstream)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v3/auth/tokens"
    server.shutdown()
    server.server_close()


@pytest.fixture
def served() -> Iterator[WSGIServer]:
    """glance-api-like app behind the filter, on a one-thread server (one request at a time)."""
    server = make_server(
        "127.0.0.1", 0, TraceMiddleware(Router(), service="glance-api"), handler_class=_Quiet
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def test_client_server_and_inner_calls_form_one_trace(
    tmp_path: Path, served: WSGIServer, upstream: str
) -> None:
    db = str(tmp_path / "stacktap.db")
    service = f"http://127.0.0.1:{served.server_address[1]}"
    with stacktap.trace(db=db, label="children") as run:
        response = requests.get(service + "/call-out", headers={"X-Call-Out": upstream}, timeout=10)
        assert response.status_code == 200
        # NOTE: the filter records when the server closes the response, which may come after
        # the client has read it: stop the server (it finishes the request first) inside the block.
        served.shutdown()
    with Store(db) as store:
        trace = load_trace(store, run.id)
    client = [c for c in trace.calls if c.side == CLIENT and c.url.startswith(service)]
    server = [c for c in trace.calls if c.side == SERVER]
    inner = [c for c in trace.calls if c.side == CLIENT and c.url == upstream]
    assert len(client) == len(server) == len(inner) == 1
    assert server[0].parent_span_id == client[0].span_id
    assert inner[0].parent_span_id == server[0].span_id
    assert inner[0].trace_id == server[0].trace_id == client[0].trace_id
    assert server[0].handler == "ImagesController.call_out"
    assert server[0].local_service == "glance-api"
    assert [c.span_id for c in trace.walk()] == [client[0].span_id, server[0].span_id, inner[0].span_id]


def test_wrap_application_traces_the_app_named_in_the_environment(tmp_path: Path) -> None:
    db = tmp_path / "stacktap.db"
    script = textwrap.dedent(
        """
        import sys
        sys.path.insert(0, HERE)
        from serve import make_environ, serve
        from stacktap.agent.server.wrap import application
        from stacktap.agent.recorder import get_recorder
        status, _, _ = serve(application, make_environ("/images/5"))
        assert status == "200 OK", status
        assert get_recorder().flush(10)
        """
    ).replace("HERE", repr(str(Path(__file__).parent)))
    env = dict(
        os.environ,
        STACKTAP_DB=str(db),
        STACKTAP_SERVICE="keystone",
        STACKTAP_WRAP_APP="wsgi_apps:Router()",
        PYTHONPATH=str(Path(__file__).parent),
    )
    env.pop("STACKTAP_RUN_ID", None)
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    with Store(str(db)) as store:
        [run] = store.runs()
        assert run.kind == "server" and run.label == "keystone"
        [call] = store.calls(run.id)
    assert call.side == SERVER and call.local_service == "keystone"
    assert call.handler == "ImagesController.show" and call.status == 200


def test_wrap_without_an_app_fails_loudly() -> None:
    env = {k: v for k, v in os.environ.items() if k != "STACKTAP_WRAP_APP"}
    done = subprocess.run(
        [sys.executable, "-c", "import stacktap.agent.server.wrap"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "set STACKTAP_WRAP_APP" in done.stderr
