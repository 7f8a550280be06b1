"""``stacktap list/show/log/curl/catalog`` through click's CliRunner and the installed script."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from stacktap.cli.main import cli
from stacktap.model import Body, Call, CatalogEntry, Layer, Peer, Run
from stacktap.store import Store

T0 = 1_750_000_000.0
GLANCE = "http://127.0.0.1:9292"
STACKTAP = Path(sys.executable).with_name("stacktap")


def write_runs(db: Path) -> tuple[Run, Run]:
    """Two runs with ids sharing a prefix: an image list (glance served it, linked only by
    request id) and a failed command."""
    with Store(str(db)) as store:
        first = Run(
            id="abc111",
            label="image list",
            argv=["openstack", "image", "list"],
            started=T0,
            ended=T0 + 1,
            exit_code=0,
        )
        second = Run(
            id="abc222", argv=["openstack", "server", "list"], started=T0 + 10, ended=T0 + 12, exit_code=1
        )
        for run in (first, second):
            store.add_run(run)
        images = Call(
            run_id=first.id,
            method="GET",
            url=GLANCE + "/v2/images",
            start=T0 + 0.1,
            status=200,
            reason="OK",
            duration=0.05,
            request_id="req-1",
            request_headers=[("X-Auth-Token", "{SHA256}0123456789abcdef")],
            response_body=Body(kind="json", text='{"images": []}'),
        )
        # NOTE: another trace id: glance got no traceparent, only the request id links it.
        served = Call(
            run_id="glance-run",
            method="GET",
            url="/v2/images",
            start=T0 + 0.11,
            side="server",
            status=200,
            duration=0.04,
            local_service="glance-api",
            request_id="req-1",
            handler="ImagesController.index",
        )
        served.layers = [Layer(span_id=served.span_id, order=0, name="authtoken")]
        failed = Call(
            run_id=second.id,
            method="GET",
            url="http://127.0.0.1:8774/v2.1/servers/detail",
            start=T0 + 10.5,
            error_type="ConnectTimeout",
            error_message="timed out",
            peer=Peer(service_type="compute", service_name="nova"),
        )
        store.add_calls([images, served, failed])
        store.add_catalog(first.id, [CatalogEntry("image", GLANCE, "glance", "public", "RegionOne")])
    return first, second


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "s.db"
    write_runs(path)
    return path


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit), (
        result.exception
    )
    return result.exit_code, result.stdout, result.stderr


def test_list_newest_first(db: Path) -> None:
    code, out, _ = invoke("list", "--db", str(db), "-f", "json")
    rows = json.loads(out)
    assert code == 0
    assert [r["ID"] for r in rows] == ["abc222", "abc111"]
    assert rows[1]["Command"] == "image list" and rows[1]["Calls"] == 1 and rows[1]["Exit"] == 0
    assert rows[0]["Command"] == "openstack server list" and rows[0]["Duration (s)"] == "2.00"
    code, out, _ = invoke("list", "--db", str(db), "--limit", "1", "-f", "value")
    assert out.split()[0] == "abc222" and len(out.strip().splitlines()) == 1


def test_show_table_and_all(db: Path) -> None:
    code, out, _ = invoke("show", "abc1", "--db", str(db))
    assert code == 0
    assert "| 1 | 100.0       | 50.0          | glance  | GET    | /v2/images | 200    |" in out
    assert "glance-api" not in out
    code, out, _ = invoke("show", "abc1", "--db", str(db), "--all", "-f", "json")
    rows = json.loads(out)
    assert [(r["#"], r["Service"], r["Side"], r["Depth"], r["Call site"]) for r in rows] == [
        (1, "glance", "client", 0, ""),
        (2, "glance-api", "server", 1, "ImagesController.index (1 layer)"),
    ]


def test_show_folds_polling_in_the_table_only(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location(
        "rpc_traces", Path(__file__).parents[1] / "render" / "rpc_traces.py"
    )
    assert spec and spec.loader
    samples = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(samples)
    db = str(tmp_path / "s.db")
    run_id = samples.write_server_create(tmp_path / "s.db", polls=(200, 200, 200, 200))
    code, table, _ = invoke("show", run_id, "--db", db)
    assert code == 0
    (poll,) = [line for line in table.splitlines() if "wait_for_status" in line]
    assert poll.startswith("| 10-19 |") and "| 200 x4 |" in poll and "[+6 inner calls hidden]" in poll
    code, every, _ = invoke("show", run_id, "--db", db, "--no-fold")
    assert len([line for line in every.splitlines() if "wait_for_status" in line]) == 4
    assert " x4 " not in every
    code, out, _ = invoke("show", run_id, "--db", db, "-f", "json")
    rows = json.loads(out)
    assert [r["#"] for r in rows] == list(range(1, 24))  # one row per call: machine formats never fold
    assert [r["Status"] for r in rows if "wait_for_status" in r["Call site"]] == ["200"] * 4


def test_show_last_is_the_newest_command(db: Path) -> None:
    code, out, _ = invoke("show", "--db", str(db), "-f", "value")
    assert code == 0
    assert out.split()[3:7] == ["nova", "GET", "/v2.1/servers/detail", "ConnectTimeout"]


def test_log_curl_and_catalog(db: Path) -> None:
    code, out, _ = invoke("log", "abc111", "1", "--db", str(db))
    assert code == 0 and "----- REQUEST [1] ---" in out and 'DATA={\n  "images": []\n}' in out
    code, out, _ = invoke("curl", "abc111", "--db", str(db))
    assert code == 0 and '-H "X-Auth-Token: $OS_TOKEN"' in out
    code, out, _ = invoke("catalog", "abc111", "--db", str(db), "-f", "value")
    assert (code, out) == (0, "image glance public RegionOne http://127.0.0.1:9292\n")
    code, out, err = invoke("catalog", "abc222", "--db", str(db))
    assert code == 0 and err == "stacktap: no catalog seen in run abc222\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["show", "abc"], "stacktap: run id 'abc' is ambiguous: give more digits\n"),
        (["log", "zzz"], "stacktap: no run 'zzz' in "),
        (["curl", "abc111", "5"], "stacktap: run abc111 has no call 5 (it has 1 calls"),
        (["catalog", "nope"], "stacktap: no run 'nope' in "),
    ],
)
def test_bad_input_is_one_line(db: Path, args: list[str], message: str) -> None:
    code, out, err = invoke(*args, "--db", str(db))
    assert code == 1 and out == ""
    assert err.startswith(message) and err.count("\n") == 1


def test_missing_store_is_one_line(tmp_path: Path) -> None:
    code, _, err = invoke("list", "--db", str(tmp_path / "none.db"))
    assert code == 1 and err.startswith("stacktap: no store at ") and err.count("\n") == 1
    assert not (tmp_path / "none.db").exists()


def test_installed_script(db: Path) -> None:
    shown = subprocess.run(
        [str(STACKTAP), "show", "abc111", "--db", str(db), "-f", "json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)[0]["Path"] == "/v2/images"
    missing = subprocess.run(
        [str(STACKTAP), "log", "nope", "--db", str(db)], capture_output=True, text=True, timeout=60
    )
    assert missing.returncode == 1
    assert missing.stderr.startswith("stacktap: no run 'nope'") and "Traceback" not in missing.stderr
