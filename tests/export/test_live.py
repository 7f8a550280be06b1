"""Live export: a traced process sends OTLP/JSON as it goes; a dead backend costs nothing but spans."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from test_otlp_json import parse_otlp_json
from tests.fixtures import pythons
from tests.fixtures.otlp_receiver import Receiver

from stacktap.agent.live import LiveExporter
from stacktap.agent.spans import spans_for_call
from stacktap.launcher.env import tracing_env
from stacktap.model import Call, Run
from stacktap.store import Store

PY38 = Path(pythons.PY38)
SRC = Path(__file__).resolve().parents[2] / "src"


class _Hello(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b'{"hello": "world"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Openstack-Request-Id", "req-" + self.path.strip("/"))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def app_url() -> Iterator[str]:
    """A tiny HTTP service on 127.0.0.1 for the traced program to call."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


# The traced program: N requests; after HALF of them it reports and waits for "go".
PROGRAM = textwrap.dedent(
    """
    import json, sys
    import requests
    from stacktap.agent.recorder import get_recorder
    from stacktap.agent import live

    assert live.installed() is not None  # the bootstrap installed it, from the environment
    url, total, half = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    ok = 0
    for n in range(total):
        if n == half:
            get_recorder().flush(10)
            live.installed().flush(10)
            print("half", json.dumps(live.stats()), flush=True)
            sys.stdin.readline()
        ok += requests.get("%s/%d" % (url, n), timeout=5).status_code == 200
    get_recorder().flush(10)
    live.installed().flush(10)
    print("done", ok, json.dumps(live.stats()), flush=True)
    """
)


def _traced(tmp_path: Path, endpoint: str, args: list[str]) -> subprocess.Popen:
    db = str(tmp_path / "live.db")
    with Store(db) as store:
        run = Run(started=1.0, label="live")
        store.add_run(run)
    script = tmp_path / "traced.py"
    script.write_text(PROGRAM)
    base = dict(os.environ, STACKTAP_OTLP_ENDPOINT=endpoint, OTEL_EXPORTER_OTLP_HEADERS="x-scope-orgid=t1")
    env = tracing_env(db, run_id=run.id, base=base)
    return subprocess.Popen(
        [sys.executable, str(script), *args],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _spans(rx: Receiver) -> list:
    return [
        span
        for body in rx.bodies("application/json")
        for rs in parse_otlp_json(body).resource_spans
        for ss in rs.scope_spans
        for span in ss.spans
    ]


def test_traced_program_sends_spans_live(tmp_path: Path, app_url: str, receiver: Receiver) -> None:
    proc = _traced(tmp_path, receiver.base_url, [app_url, "6", "3"])
    half = proc.stdout.readline().split(maxsplit=1)
    assert half[0] == "half", proc.stderr.read()
    assert json.loads(half[1])["sent"] == 3
    assert len(_spans(receiver)) == 3  # live: before the program ends
    out, err = proc.communicate("go\n", timeout=60)
    assert proc.returncode == 0, err

    done = out.split(maxsplit=2)
    assert done[:2] == ["done", "6"]
    assert json.loads(done[2]) == {"sent": 6, "dropped": 0, "failed": 0, "queued": 0}
    spans = _spans(receiver)
    with Store(str(tmp_path / "live.db")) as store:
        stored = {c.span_id: c for c in store.calls(store.get_run("last").id)}
    assert len(spans) == len(stored) == 6
    for span in spans:
        call = stored[span.span_id.hex()]
        assert span.trace_id.hex() == call.trace_id
        attrs = {kv.key: kv.value for kv in span.attributes}
        assert attrs["url.full"].string_value == call.url
        assert attrs["openstack.request_id"].string_value == call.request_id
    assert all(headers.get("x-scope-orgid") == "t1" for _, _, headers in receiver.requests())
    assert "dropped" not in err


def test_dead_backend_drops_and_counts(tmp_path: Path, app_url: str) -> None:
    rx = Receiver()
    proc = _traced(tmp_path, rx.base_url, [app_url, "40", "10"])
    half = proc.stdout.readline().split(maxsplit=1)
    assert half[0] == "half", proc.stderr.read()
    rx.stop()  # the backend dies mid-run
    out, err = proc.communicate("go\n", timeout=60)

    assert proc.returncode == 0, err
    done = out.split(maxsplit=2)
    assert done[:2] == ["done", "40"]  # every request of the traced program still worked
    stats = json.loads(done[2])
    assert stats["sent"] == 10 == len(_spans(rx))
    assert stats["dropped"] == 30
    assert stats["failed"] >= 1
    assert err.count("dropped 30 spans") == 1  # said once, at exit


def test_full_queue_drops_instead_of_blocking() -> None:
    exporter = LiveExporter("http://127.0.0.1:9/v1/traces", max_queue=3, flush_interval=30)
    call = Call(run_id="r", method="GET", url="http://h/", start=1.0)
    exporter.submit(spans_for_call(call) * 5)
    assert exporter.stats()["dropped"] == 2
    exporter.close(timeout=5)
    assert exporter.stats()["dropped"] == 5 and exporter.stats()["sent"] == 0


def test_own_posts_are_not_exported(receiver: Receiver) -> None:
    exporter = LiveExporter(receiver.url)
    own = Call(run_id="r", method="POST", url=receiver.url, start=1.0)
    other = Call(run_id="r", method="GET", url="http://h/x", start=1.0)
    exporter.sink([own, other])
    assert exporter.flush(5)
    assert [s.span_id.hex() for s in _spans(receiver)] == [other.span_id]


@pytest.mark.skipif(not PY38.exists(), reason="needs the pyenv Python 3.8")
def test_live_path_runs_on_python_38(receiver: Receiver) -> None:
    code = textwrap.dedent(
        """
        import sys
        from stacktap.agent.live import LiveExporter
        from stacktap.model import Call, Layer
        call = Call(run_id="r", method="GET", url="http://h/v2/images", start=1.0, duration=0.1,
                    side="server")
        call.layers = [Layer(span_id=call.span_id, order=0, name="cors")]
        exporter = LiveExporter(sys.argv[1])
        exporter.sink([call])
        assert exporter.flush(10), exporter.stats()
        print(exporter.stats()["sent"])
        """
    )
    out = subprocess.run(
        [str(PY38), "-c", code, receiver.url],
        env={"PYTHONPATH": str(SRC), "PATH": os.environ["PATH"]},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["2"]
    assert len(_spans(receiver)) == 2
