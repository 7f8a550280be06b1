"""``stacktap diagram`` and ``stacktap report``: thin commands, one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from stacktap.cli.main import cli
from stacktap.model import Call, Layer, Peer, Run
from stacktap.store import Store

GLANCE = "http://127.0.0.1:9292"


@pytest.fixture()
def db(tmp_path: Path) -> str:
    path = str(tmp_path / "s.db")
    with Store(path) as store:
        run = Run(id="abc123def456", argv=["openstack", "image", "list"], started=100.0, ended=101.0,
                  exit_code=0)
        store.add_run(run)
        images = Call(run_id=run.id, method="GET", url=GLANCE + "/v2/images", start=100.1, status=200,
                      reason="OK", duration=0.05, peer=Peer(service_type="image", service_name="glance"))
        served = Call(run_id="glance", method="GET", url=GLANCE + "/v2/images", start=100.11, side="server",
                      status=200, duration=0.04, trace_id=images.trace_id, parent_span_id=images.span_id,
                      local_service="glance-api", handler="ImagesController.index")
        served.layers = [Layer(span_id=served.span_id, order=0, name="authtoken")]
        schema = Call(run_id=run.id, method="GET", url=GLANCE + "/v2/schemas/image", start=100.2, status=200,
                      peer=Peer(service_type="image", service_name="glance"))
        store.add_calls([images, served, schema])
    return path


def _run(*args: str) -> object:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_diagram_prints_mermaid_by_default(db: str) -> None:
    result = _run("diagram", "--db", db)
    assert result.exit_code == 0, result.output
    assert result.output.startswith("sequenceDiagram\n")
    assert "P1->>+P2: GET /v2/images" in result.output
    assert "ImagesController.index" in result.output


def test_diagram_plantuml_to_a_file_with_a_limit(db: str, tmp_path: Path) -> None:
    out = tmp_path / "d.puml"
    result = _run("diagram", "abc1", "--db", db, "-f", "plantuml", "-o", str(out), "--limit", "2")
    assert result.exit_code == 0 and result.output == ""
    text = out.read_text()
    assert text.startswith("@startuml") and "1 more calls not drawn (limit 2)" in text


def test_report_writes_one_html_file(db: str, tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    result = CliRunner().invoke(cli, ["report", "last", "--db", db, "-o", str(out)])
    assert result.exit_code == 0, result.output
    html = out.read_text()
    assert html.startswith("<!DOCTYPE html>") and "ImagesController.index" in html
    assert str(out) in result.output  # the path and the call count, on stderr


def test_report_default_file_name_is_the_run_id(
    db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert _run("report", "--db", db).exit_code == 0
    assert (tmp_path / "stacktap-abc123def456.html").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["diagram", "nope"], "stacktap: no run 'nope'"),
        (["report", "nope"], "stacktap: no run 'nope'"),
        (["diagram", "last", "-o", "/nonexistent-dir/x.mmd"], "stacktap: "),
        (["report", "last", "-o", "."], "stacktap: . is a directory"),
    ],
)
def test_bad_input_is_a_one_line_error(db: str, args: list[str], message: str) -> None:
    result = CliRunner().invoke(cli, [*args, "--db", db])
    assert result.exit_code == 1
    assert result.output.startswith(message) and result.output.count("\n") == 1
    assert "Traceback" not in result.output


def test_missing_store_is_a_one_line_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["report", "--db", str(tmp_path / "none.db")])
    assert result.exit_code == 1 and result.output.startswith("stacktap: no store at")
