"""``stacktap export`` / ``import`` through click's CliRunner: files, stdout, errors."""

from __future__ import annotations

import importlib.util
import json
import os
import stat
from pathlib import Path

from click.testing import CliRunner

from stacktap.cli.exchange import otlp_endpoint, otlp_headers
from stacktap.cli.main import cli

_SPEC = importlib.util.spec_from_file_location(
    "exchange_traces", Path(__file__).parents[1] / "render" / "exchange_traces.py"
)
assert _SPEC and _SPEC.loader
samples = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(samples)


def _run(*args: str) -> object:
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
