"""``stacktap export`` / ``import`` through click's CliRunner: files, stdout, errors."""

from __future__ import annotations

import importlib.util
import json
import os
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from tests.fixtures.otlp_receiver import Receiver

from stacktap.cli.main import cli
from stacktap.cli.transfer import otlp_endpoint, otlp_headers
from stacktap.export.otlp import OTLPExportError
from stacktap.store import Store, load_trace

_SPEC = importlib.util.spec_from_file_location(
    "exchange_traces", Path(__file__).parents[1] / "render" / "exchange_traces.py"
)
assert _SPEC and _SPEC.loader
samples = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(samples)


def _run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_export_json_import_elsewhere_and_again(tmp_path: Path) -> None:
    run_id = samples.write_sample_run(tmp_path / "a.db")
    out = tmp_path / "trace.json"
    result = _run("export", run_id, "--format", "json", "-o", str(out), "--db", str(tmp_path / "a.db"))
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    first = _run("import", str(out), "--db", str(tmp_path / "b.db"))
    assert first.exit_code == 0
    assert first.output == f"imported run {run_id} (openstack image list): 8 calls\n"
    again = _run("import", str(out), "--db", str(tmp_path / "b.db"))
    assert again.output == f"run {run_id} (openstack image list) already present: nothing imported\n"
    back = _run("export", run_id, "--db", str(tmp_path / "b.db"))
    assert back.output == out.read_text()


def test_export_har_and_markdown_to_stdout(tmp_path: Path) -> None:
    samples.write_sample_run(tmp_path / "a.db")
    har = _run("export", "last", "--format", "har", "--db", str(tmp_path / "a.db"))
    assert json.loads(har.output)["log"]["version"] == "1.2"
    page = _run("export", "--format", "markdown", "--db", str(tmp_path / "a.db"))
    assert page.output.startswith("# openstack image list\n")


def test_bad_import_file_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "x.har"
    bad.write_text('{"log": {}}')
    result = CliRunner().invoke(cli, ["import", str(bad), "--db", str(tmp_path / "b.db")])
    assert result.exit_code == 1
    assert result.output.startswith("stacktap: not a stacktap JSON trace")
    assert len(result.output.splitlines()) == 1
    missing = CliRunner().invoke(cli, ["import", str(tmp_path / "nope.json"), "--db", str(tmp_path / "b.db")])
    assert missing.exit_code == 1 and missing.output.startswith("stacktap: cannot read")


def test_unknown_run_is_one_line(tmp_path: Path) -> None:
    samples.write_sample_run(tmp_path / "a.db")
    result = CliRunner().invoke(cli, ["export", "zzzz", "--db", str(tmp_path / "a.db")])
    assert result.exit_code == 1 and result.output.startswith("stacktap: no run 'zzzz'")


def test_otlp_to_a_closed_port_is_one_line(tmp_path: Path) -> None:
    samples.write_sample_run(tmp_path / "a.db")
    result = CliRunner().invoke(
        cli,
        [
            "export",
            "--format",
            "otlp",
            "--endpoint",
            "http://127.0.0.1:9/v1/traces",
            "--db",
            str(tmp_path / "a.db"),
        ],
    )
    assert result.exit_code == 1
    assert result.output.startswith("stacktap: ") and len(result.output.splitlines()) == 1
    assert "Traceback" not in result.output


def test_bad_header_option_is_one_line(tmp_path: Path) -> None:
    samples.write_sample_run(tmp_path / "a.db")
    result = CliRunner().invoke(
        cli, ["export", "--format", "otlp", "--header", "novalue", "--db", str(tmp_path / "a.db")]
    )
    assert result.exit_code == 1 and result.output == "stacktap: --header needs K=V, got 'novalue'\n"


def test_otlp_endpoint_and_headers_follow_opentelemetry_variables() -> None:
    assert otlp_endpoint(None, {}) == "http://127.0.0.1:4318/v1/traces"
    assert otlp_endpoint(None, {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318/"}) == "http://c:4318/v1/traces"
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://t/x"}
    assert otlp_endpoint(None, env) == "http://t/x"
    assert otlp_endpoint("http://e/v1/traces", env) == "http://e/v1/traces"
    headers = otlp_headers(["b=2", "c = 3"], {"OTEL_EXPORTER_OTLP_HEADERS": "a=1%202,b=1"})
    assert headers == {"a": "1 2", "b": "2", "c": "3"}


def _body_events(rx: Receiver) -> dict[str, dict[str, dict[str, object]]]:
    """span name -> event name -> attributes, for every body event the receiver got."""
    out: dict[str, dict[str, dict[str, object]]] = {}
    for payload in rx.bodies("application/x-protobuf"):
        request = ExportTraceServiceRequest()
        request.ParseFromString(payload)
        for resource_spans in request.resource_spans:
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    for event in span.events:
                        if not event.name.startswith("http."):
                            continue
                        attrs: dict[str, object] = {}
                        for kv in event.attributes:
                            attrs[kv.key] = getattr(kv.value, kv.value.WhichOneof("value") or "string_value")
                        out.setdefault(span.name, {})[event.name] = attrs
    return out


def test_otlp_bodies_are_span_events_capped(tmp_path: Path) -> None:
    """``export --format otlp --bodies --body-cap N``: the stored (already redacted) bodies
    travel as ``http.request.body`` / ``http.response.body`` span events, cut at N characters
    and marked truncated; without ``--bodies`` no body leaves the machine."""
    run_id = samples.write_sample_run(tmp_path / "a.db")
    with Store(str(tmp_path / "a.db")) as store:
        trace = load_trace(store, run_id)
    [login] = [c for c in trace.calls if c.method == "POST"]
    stored = login.request_body.text
    assert stored and "{SHA256}5e884898da280471" in stored and len(stored) > 40
    db = ["--db", str(tmp_path / "a.db")]

    with Receiver() as rx:
        plain = _run("export", "--format", "otlp", "--endpoint", rx.base_url, *db)
        assert plain.exit_code == 0 and plain.output.startswith("stacktap: sent 10 spans to ")
        assert _body_events(rx) == {}

    with Receiver() as rx:
        otlp = ["export", "--format", "otlp", "--endpoint", rx.base_url]
        capped = _run(*otlp, "--bodies", "--body-cap", "40", *db)
        assert capped.exit_code == 0, capped.output
        assert capped.output == f"stacktap: sent 10 spans to {rx.url}, bodies capped at 40 characters\n"
        events = _body_events(rx)
    request = events["POST /v3/auth/tokens"]["http.request.body"]
    assert request["stacktap.body.text"] == stored[:40]
    assert request["stacktap.body.truncated"] is True
    assert request["stacktap.body.size"] == login.request_body.size
    assert "http.response.body" in events["GET /v2/images"]

    with Receiver() as rx:
        whole = _run("export", "--format", "otlp", "--endpoint", rx.base_url, "--bodies", *db)
        assert whole.exit_code == 0, whole.output
        request = _body_events(rx)["POST /v3/auth/tokens"]["http.request.body"]
    assert request["stacktap.body.text"] == stored  # as stored: the password is its mark
    assert "stacktap.body.truncated" not in request


def test_otlp_body_cap_must_be_positive(tmp_path: Path) -> None:
    """A zero cap is refused by the option itself, before anything is sent."""
    samples.write_sample_run(tmp_path / "a.db")
    result = CliRunner().invoke(
        cli, ["export", "--format", "otlp", "--bodies", "--body-cap", "0", "--db", str(tmp_path / "a.db")]
    )
    assert result.exit_code == 2 and "--body-cap" in result.output


def test_otlp_refused_by_the_receiver_is_one_line(tmp_path: Path) -> None:
    """A collector answering an error (here 404: wrong path) is one ``stacktap:`` line naming
    the URL and the answer, exit 1."""
    samples.write_sample_run(tmp_path / "a.db")
    with Receiver() as rx:
        url = rx.base_url + "/elsewhere/v1/traces"
        result = CliRunner().invoke(
            cli, ["export", "--format", "otlp", "--endpoint", url, "--db", str(tmp_path / "a.db")]
        )
    assert result.exit_code == 1
    assert result.output == f"stacktap: the receiver at {url} answered 404 (Not Found)\n"


def test_otlp_export_error_message_is_the_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever OTLPExportError says (no SDK, collector down...) is printed as is, once, as
    ``stacktap: <message>``, with exit 1 and no traceback."""
    import stacktap.export.otlp as otlp

    message = "OTLP export needs the OpenTelemetry SDK (opentelemetry.sdk): pip install 'stacktap[otlp]'"

    def refuse(*args: object, **kwargs: object) -> int:
        raise OTLPExportError(message)

    monkeypatch.setattr(otlp, "send_trace", refuse)
    samples.write_sample_run(tmp_path / "a.db")
    result = CliRunner().invoke(cli, ["export", "--format", "otlp", "--db", str(tmp_path / "a.db")])
    assert result.exit_code == 1
    assert result.output == f"stacktap: {message}\n"
