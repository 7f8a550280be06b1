"""``stacktap open RUN N``: the call site and the handler of a call, with the code around them."""

from __future__ import annotations

import inspect
import os
import sys
from pathlib import Path

from click.testing import CliRunner

from stacktap.cli.main import cli
from stacktap.model import Call, CallSite, Peer, Run
from stacktap.store import Store

T0 = 1_750_000_000.0
GLANCE = "http://127.0.0.1:9292"


def _issue_the_call() -> None:  # the "client code" of the stored run
    pass


class ImagesController:  # the "handler" of the stored run
    def index(self) -> None:
        pass


def _site(func: object, cls: str | None = None) -> CallSite:
    code = func.__code__  # type: ignore[attr-defined]
    return CallSite(file=code.co_filename, line=code.co_firstlineno, function=code.co_name, cls=cls)


def _write_run(db: Path) -> Run:
    run = Run(id="src111", argv=["openstack", "image", "list"], started=T0, ended=T0 + 1, exit_code=0)
    client = Call(
        run_id=run.id,
        method="GET",
        url=GLANCE + "/v2/images",
        start=T0 + 0.1,
        status=200,
        peer=Peer(service_type="image", service_name="glance"),
        call_site=_site(_issue_the_call),
    )
    server = Call(
        run_id="glance-run",
        method="GET",
        url=GLANCE + "/v2/images",
        start=T0 + 0.11,
        side="server",
        status=200,
        local_service="glance-api",
        handler="ImagesController.index",
        trace_id=client.trace_id,
        parent_span_id=client.span_id,
        call_site=_site(ImagesController.index, "ImagesController"),
    )
    bare = Call(run_id=run.id, method="GET", url=GLANCE + "/versions", start=T0 + 0.2, status=200)
    with Store(str(db)) as store:
        store.add_run(run)
        store.add_calls([client, server, bare])
    return run


def test_open_prints_the_call_site_and_the_handler_with_their_code(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    _write_run(db)
    result = CliRunner().invoke(cli, ["open", "src111", "1", "--db", str(db), "-C", "1"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    call_line = inspect.getsourcelines(_issue_the_call)[1]
    handler_line = inspect.getsourcelines(ImagesController.index)[1]
    assert lines[0] == "#1 GET /v2/images"
    assert lines[1].startswith(f"call site: {__file__}:{call_line}")
    assert f">{call_line:6d}  def _issue_the_call() -> None:" in result.output
    assert f"glance-api handler: {__file__}:{handler_line}" in result.output
    assert f">{handler_line:6d}      def index(self) -> None:" in result.output


def test_open_says_when_nothing_is_known_and_rejects_unknown_numbers(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    _write_run(db)
    result = CliRunner().invoke(cli, ["open", "src111", "3", "--db", str(db)])
    assert result.exit_code == 0
    assert "(no call site or handler recorded)" in result.output
    result = CliRunner().invoke(cli, ["open", "src111", "9", "--db", str(db)])
    assert result.exit_code == 1
    assert result.output.strip().startswith("stacktap: run src111 has no call 9")


def test_open_editor_runs_the_editor_with_line_and_file(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    _write_run(db)
    record = tmp_path / "opened.txt"
    editor = tmp_path / "editor"
    editor.write_text(
        f'#!{sys.executable}\nimport sys\nopen({str(record)!r}, "a").write(" ".join(sys.argv[1:]) + "\\n")\n'
    )
    editor.chmod(0o755)
    env = {"PATH": "/nonexistent", "EDITOR": str(editor)}  # NOTE: no `code` on this PATH
    result = CliRunner().invoke(cli, ["open", "src111", "1", "--editor", "--db", str(db)], env=env)
    assert result.exit_code == 0, result.output
    opened = record.read_text().splitlines()
    handler_line = ImagesController.index.__code__.co_firstlineno
    assert opened[0].endswith(f" {__file__}") and opened[0].startswith("+")
    assert opened[1] == f"+{handler_line} {__file__}"
    result = CliRunner().invoke(
        cli,
        ["open", "src111", "1", "--editor", "--db", str(db)],
        env={"PATH": "/nonexistent", "EDITOR": "", "VISUAL": ""},
    )
    assert result.exit_code == 1 and "no editor" in result.output
    assert os.path.exists(__file__)
