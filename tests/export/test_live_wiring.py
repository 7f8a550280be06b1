"""Live export wired in: the bootstrap starts it in every traced process the environment asks,
and only those; the dev cloud hands ``up``'s settings to its traced services."""

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

from stacktap.launcher.env import tracing_env
from stacktap.model import Run
from stacktap.store import Store

PY38 = Path(pythons.PY38)

#: A traced program that never mentions live export: N requests, then what it imported.
PROGRAM = textwrap.dedent(
    """
    import json, sys
    import requests
    url, n = sys.argv[1], int(sys.argv[2])
    ok = sum(requests.get("%s/%d" % (url, i), timeout=5).status_code == 200 for i in range(n))
    live = ("stacktap.agent.live", "stacktap.agent.spans", "stacktap.agent.otlp_json")
    print(json.dumps({"ok": ok, "export": sorted(m for m in sys.modules if m.startswith(live))}))
    """
)


class _Hello(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def app_url() -> Iterator[str]:
    """A tiny HTTP service on 127.0.0.1 for the traced program to call."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _clean_base(**extra: str) -> dict[str, str]:
    """This environment without any OTLP setting of the developer's, plus ``extra``."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("STACKTAP_", "OTEL_"))}
    base.update(extra)
    return base


def _run_traced(
    tmp_path: Path, base: dict[str, str], args: list[str]
) -> tuple[subprocess.CompletedProcess, str]:
    """Run PROGRAM under ``stacktap run``'s environment; (the finished process, its run id)."""
    db = str(tmp_path / "live.db")
    with Store(db) as store:
        run = Run(started=1.0, label="wiring")
        store.add_run(run)
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM, *args],
        env=tracing_env(db, run_id=run.id, base=base),
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done, run.id


def _spans(rx: Receiver) -> list:
    return [
        span
        for body in rx.bodies("application/json")
        for rs in parse_otlp_json(body).resource_spans
        for ss in rs.scope_spans
        for span in ss.spans
    ]


def _stored_span_ids(tmp_path: Path, run_id: str) -> dict[str, str]:
    with Store(str(tmp_path / "live.db")) as store:
        return {c.span_id: c.trace_id for c in store.calls(run_id)}


def test_a_traced_child_with_the_endpoint_sends_its_spans(
    tmp_path: Path, app_url: str, receiver: Receiver
) -> None:
    """The child never calls stacktap: the bootstrap alone installs the exporter, and the
    exit flush delivers every stored call as a span, ids intact, without a word on stderr."""
    done, run_id = _run_traced(
        tmp_path, _clean_base(STACKTAP_OTLP_ENDPOINT=receiver.base_url), [app_url, "4"]
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["ok"] == 4 and "stacktap.agent.live" in report["export"]
    stored = _stored_span_ids(tmp_path, run_id)
    assert len(stored) == 4
    assert {span.span_id.hex(): span.trace_id.hex() for span in _spans(receiver)} == stored
    assert "stacktap:" not in done.stderr


def test_the_standard_otel_variables_count_with_stacktap_otlp(
    tmp_path: Path, app_url: str, receiver: Receiver
) -> None:
    """``STACKTAP_OTLP=1`` plus ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` and headers, as an
    operator would configure a service."""
    base = _clean_base(
        STACKTAP_OTLP="1",
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=receiver.url,
        OTEL_EXPORTER_OTLP_HEADERS="x-scope-orgid=team-a",
    )
    done, run_id = _run_traced(tmp_path, base, [app_url, "2"])
    assert done.returncode == 0, done.stderr
    assert len(_spans(receiver)) == len(_stored_span_ids(tmp_path, run_id)) == 2
    assert {headers.get("x-scope-orgid") for _, _, headers in receiver.requests()} == {"team-a"}


def test_without_the_switch_nothing_of_export_is_even_imported(
    tmp_path: Path, app_url: str, receiver: Receiver
) -> None:
    """The OTEL variables alone do not turn stacktap's export on (a service may use them for
    its own telemetry), and a process without export loads none of
    ``stacktap.agent.live`` and what it uses."""
    base = _clean_base(OTEL_EXPORTER_OTLP_ENDPOINT=receiver.base_url)
    done, run_id = _run_traced(tmp_path, base, [app_url, "2"])
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"ok": 2, "export": []}
    assert len(_stored_span_ids(tmp_path, run_id)) == 2  # traced all the same
    assert receiver.requests() == []


def test_a_bad_endpoint_is_one_line_and_the_program_runs(tmp_path: Path, app_url: str) -> None:
    done, run_id = _run_traced(tmp_path, _clean_base(STACKTAP_OTLP_ENDPOINT="localhost:4318"), [app_url, "2"])
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["ok"] == 2
    lines = [line for line in done.stderr.splitlines() if line.startswith("stacktap:")]
    assert len(lines) == 1 and "live OTLP export disabled" in lines[0] and "Traceback" not in done.stderr
    assert len(_stored_span_ids(tmp_path, run_id)) == 2


@pytest.mark.skipif(not PY38.exists(), reason="needs the pyenv Python 3.8")
def test_the_bootstrap_starts_live_export_on_python_38(tmp_path: Path, receiver: Receiver) -> None:
    """A service venv may be Python 3.8 with nothing installed: the bootstrap and live path
    work there from the standard library (the call is submitted directly: no requests)."""
    db = str(tmp_path / "live.db")
    code = textwrap.dedent(
        """
        import sys
        from stacktap.agent.recorder import get_recorder
        from stacktap.agent import live
        from stacktap.model import Call
        assert live.installed() is not None, "the bootstrap did not install live export"
        call = Call(run_id="", method="GET", url="http://h/v2/images", start=1.0, duration=0.1)
        get_recorder().submit(call)
        """
    )
    env = tracing_env(db, service="glance-api", base=_clean_base(STACKTAP_OTLP_ENDPOINT=receiver.base_url))
    done = subprocess.run([str(PY38), "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "stacktap:" not in done.stderr
    [span] = _spans(receiver)
    with Store(db) as store:
        [run] = store.runs()
        [call] = store.calls(run.id)
    assert span.span_id.hex() == call.span_id


def test_dev_cloud_services_inherit_ups_live_export_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """``manage.clean_env`` drops ``STACKTAP_*``; the tracing env puts the live-export ones
    back, and they are part of the fingerprint, so pointing export elsewhere restarts."""
    from stacktap.devcloud import processes, tracing
    from stacktap.devcloud.manage import clean_env
    from stacktap.devcloud.services import GLANCE

    tracer = tracing.load("/tmp/x.db")
    monkeypatch.setenv("STACKTAP_OTLP_ENDPOINT", "http://127.0.0.1:4318")
    monkeypatch.setenv("STACKTAP_OTLP_BODIES", "1")
    monkeypatch.setenv("STACKTAP_RUN_ID", "not-for-services")
    monkeypatch.delenv("STACKTAP_OTLP", raising=False)
    env = tracer.env(GLANCE, clean_env())
    assert env["STACKTAP_OTLP_ENDPOINT"] == "http://127.0.0.1:4318" and env["STACKTAP_OTLP_BODIES"] == "1"
    assert "STACKTAP_OTLP" not in env and "STACKTAP_RUN_ID" not in env
    monkeypatch.setenv("STACKTAP_OTLP_ENDPOINT", "http://127.0.0.1:4319")
    moved = tracer.env(GLANCE, clean_env())
    assert processes.fingerprint(["x"], moved, []) != processes.fingerprint(["x"], env, [])
    otel = dict(env, OTEL_EXPORTER_OTLP_ENDPOINT="http://tempo:4318")
    assert processes.fingerprint(["x"], otel, []) != processes.fingerprint(["x"], env, [])
