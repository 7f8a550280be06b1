"""The paste filter's live-export options: ``otlp_endpoint``, ``otlp_headers``, ``otlp_bodies``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from tests.fixtures.otlp_receiver import Receiver
from wsgi_apps import Router

from stacktap.agent import live
from stacktap.agent.server.filter import filter_factory

HERE = Path(__file__).parent


class _Installed:
    """Stands in for ``live.install``: remembers how it was called."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def __call__(self, url: str, headers: Any = None, bodies: bool = False, recorder: Any = None) -> Any:
        self.calls.append({"url": url, "headers": dict(headers or {}), "bodies": bodies})
        return live.LiveExporter(url)


@pytest.fixture
def installed(monkeypatch: pytest.MonkeyPatch) -> _Installed:
    """``live.install`` replaced, and an environment without OTLP settings."""
    fake = _Installed()
    monkeypatch.setattr(live, "install", fake)
    for name in list(os.environ):
        if name.startswith(("STACKTAP_OTLP", "OTEL_")):
            monkeypatch.delenv(name)
    return fake


def test_options_start_live_export_over_the_environment(
    installed: _Installed, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The endpoint option is a base URL (``/v1/traces`` appended); its headers add to, and win
    over, ``OTEL_EXPORTER_OTLP_HEADERS``; ``otlp_bodies`` overrides ``STACKTAP_OTLP_BODIES``."""
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-scope-orgid=from-env,x-env=1")
    monkeypatch.setenv("STACKTAP_OTLP_BODIES", "0")
    make = filter_factory(
        {},
        service="glance-api",
        otlp_endpoint=" http://127.0.0.1:4318 ",
        otlp_headers="x-scope-orgid=team-a,authorization=Basic%20abc",
        otlp_bodies="true",
    )
    make(Router())
    assert installed.calls == [
        {
            "url": "http://127.0.0.1:4318/v1/traces",
            "headers": {"x-scope-orgid": "team-a", "x-env": "1", "authorization": "Basic abc"},
            "bodies": True,
        }
    ]


def test_without_options_the_environment_decides(
    installed: _Installed, monkeypatch: pytest.MonkeyPatch
) -> None:
    filter_factory({}, service="glance-api")(Router())
    assert installed.calls == []  # nothing asked for it
    monkeypatch.setenv("STACKTAP_OTLP", "1")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://tempo:4318")
    monkeypatch.setenv("STACKTAP_OTLP_BODIES", "yes")
    filter_factory({}, service="glance-api", otlp_headers="x-tenant=t")(Router())
    assert installed.calls == [
        {"url": "http://tempo:4318/v1/traces", "headers": {"x-tenant": "t"}, "bodies": True}
    ]


def test_a_disabled_filter_exports_nothing(installed: _Installed) -> None:
    filter_factory({}, enabled="false", otlp_endpoint="http://127.0.0.1:4318")(Router())
    assert installed.calls == []


def test_a_bad_endpoint_option_is_reported_and_requests_go_on(
    installed: _Installed, capsys: pytest.CaptureFixture[str]
) -> None:
    from serve import make_environ, serve
    from wsgi_apps import CollectingRecorder

    from stacktap.agent.server.filter import TraceMiddleware

    recorder = CollectingRecorder()
    app = TraceMiddleware(Router(), service="glance-api", recorder=recorder, otlp_endpoint="127.0.0.1:4318")
    status, _, _ = serve(app, make_environ("/images"))
    assert status == "200 OK" and len(recorder.calls) == 1
    assert installed.calls == []
    assert "live OTLP export disabled" in capsys.readouterr().err


# A service process: the paste pipeline from an ini file, N requests, the live stats.
SERVICE = textwrap.dedent(
    """
    import json, sys
    sys.path.insert(0, HERE)
    from paste.deploy import loadapp
    from serve import make_environ, serve
    from stacktap.agent.recorder import get_recorder
    from stacktap.agent import live
    app = loadapp("config:" + sys.argv[1])
    codes = [serve(app, make_environ("/images/%d" % n, headers={"X-Auth-Token": "gAAAAAB-s3cr3t-t0ken"}))[0]
             for n in range(int(sys.argv[2]))]
    get_recorder().flush(10)
    live.installed().flush(10)
    print(json.dumps({"codes": sorted(set(codes)), "stats": live.stats()}))
    """
).replace("HERE", repr(str(HERE)))

PASTE_INI = """\
[pipeline:main]
pipeline = stacktap router

[filter:stacktap]
paste.filter_factory = stacktap.wsgi:filter_factory
service = glance-api
otlp_endpoint = {endpoint}
otlp_headers = x-scope-orgid=team-a
otlp_bodies = true

[app:router]
paste.app_factory = wsgi_apps:make_router
"""


def _serve_with_ini(tmp_path: Path, endpoint: str, requests: int) -> subprocess.CompletedProcess[str]:
    ini = tmp_path / "api-paste.ini"
    ini.write_text(PASTE_INI.format(endpoint=endpoint))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STACKTAP_", "OTEL_"))}
    env.update(STACKTAP_DB=str(tmp_path / "stacktap.db"), PYTHONPATH=str(HERE))
    return subprocess.run(
        [sys.executable, "-c", SERVICE, str(ini), str(requests)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _received(rx: Receiver) -> list[dict[str, Any]]:
    """The spans the receiver got (OTLP/JSON), each with its resource attributes."""
    out = []
    for body in rx.bodies("application/json"):
        for rs in json.loads(body)["resourceSpans"]:
            resource = {kv["key"]: kv["value"] for kv in rs["resource"]["attributes"]}
            out.extend(dict(span, resource=resource) for ss in rs["scopeSpans"] for span in ss["spans"])
    return out


def test_a_paste_configured_service_sends_its_server_spans(tmp_path: Path) -> None:
    """The ini's options alone (no environment) make the service export each request live,
    as a SERVER span of ``glance-api``, with the headers and the bodies asked for."""
    with Receiver() as receiver:
        done = _serve_with_ini(tmp_path, receiver.base_url, 3)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report == {"codes": ["200 OK"], "stats": {"sent": 3, "dropped": 0, "failed": 0, "queued": 0}}
    spans = _received(receiver)
    assert len(spans) == 3
    assert {span["kind"] for span in spans} == {2}  # SPAN_KIND_SERVER
    assert {span["resource"]["service.name"]["stringValue"] for span in spans} == {"glance-api"}
    assert all(
        any(e["name"].startswith("http.response.body") for e in span.get("events", [])) for span in spans
    )
    assert b"s3cr3t-t0ken" not in b"".join(receiver.bodies())  # no header, no token, is exported
    assert {headers.get("x-scope-orgid") for _, _, headers in receiver.requests()} == {"team-a"}


def test_a_dead_backend_never_fails_a_request_and_is_counted(tmp_path: Path) -> None:
    rx = Receiver()
    rx.stop()  # a port nobody listens on any more
    done = _serve_with_ini(tmp_path, rx.base_url, 5)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["codes"] == ["200 OK"]
    assert report["stats"]["sent"] == 0 and report["stats"]["dropped"] == 5
    assert done.stderr.count("dropped 5 spans (0 sent") == 1
