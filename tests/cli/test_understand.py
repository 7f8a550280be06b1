"""``stacktap api`` / ``diff`` / ``which`` through click's CliRunner."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

from click.testing import CliRunner

from stacktap.cli.main import cli

_SPEC = importlib.util.spec_from_file_location(
    "exchange_traces", Path(__file__).parents[1] / "render" / "exchange_traces.py"
)
assert _SPEC and _SPEC.loader
samples = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(samples)
_RPC_SPEC = importlib.util.spec_from_file_location(
    "rpc_traces", Path(__file__).parents[1] / "render" / "rpc_traces.py"
)
assert _RPC_SPEC and _RPC_SPEC.loader
rpc_samples = importlib.util.module_from_spec(_RPC_SPEC)
_RPC_SPEC.loader.exec_module(rpc_samples)
NOVA = "http://127.0.0.1:8774/v2.1"


def _invoke(*args: str) -> object:
    return CliRunner().invoke(cli, list(args))


def test_api_map_json_across_runs(tmp_path: Path) -> None:
    db = str(tmp_path / "s.db")
    a = samples.write_sample_run(tmp_path / "s.db")
    b = samples.write_run(
        tmp_path / "s.db",
        [("POST", samples.KEYSTONE + "/v3/auth/tokens", 201, 0.05)],
        label="openstack token issue",
        start=1_800_000_000.0,
    )
    result = _invoke("api", a, b, "-f", "json", "--db", db)
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    token = next(r for r in rows if r["Path"] == "/v3/auth/tokens" and r["Caller"] == "openstack")
    assert (token["Calls"], token["Runs"], token["Service"]) == (2, 2, "keystone")
    table = _invoke("api", "--server", "--db", db)  # default: last run
    assert "| (server) | glance-api" not in table.output and "/v3/auth/tokens" in table.output
    with_server = _invoke("api", a, "--server", "--db", db)
    assert "| (server)   | glance-api  | GET    | /v2/images" in with_server.output


def test_diff_text_and_json(tmp_path: Path) -> None:
    db = str(tmp_path / "s.db")
    base = [
        ("POST", samples.KEYSTONE + "/v3/auth/tokens", 201, 0.05),
        ("GET", NOVA + "/servers/detail", 200, 0.04),
    ]
    a = samples.write_run(tmp_path / "s.db", base, label="openstack server list")
    b = samples.write_run(
        tmp_path / "s.db",
        [*base, ("GET", NOVA + "/flavors/detail", 200, 0.02)],
        label="openstack server list --long",
        start=1_800_000_000.0,
    )
    text = _invoke("diff", a, b, "--db", db)
    assert text.exit_code == 0
    assert "+ 127.0.0.1:8774 GET /v2.1/flavors/detail" in text.output
    assert text.output.rstrip().endswith("1 added, 0 removed, 0 changed, 2 same")
    data = json.loads(_invoke("diff", a, b, "-f", "json", "--changes-only", "--db", db).output)
    assert [c["op"] for c in data["calls"]] == ["added"]


def test_api_and_diff_of_rpc_in_json_and_yaml(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    good = rpc_samples.write_server_create(db)
    bad = rpc_samples.write_server_create(
        db, label="server create vm2", start=rpc_samples.T0 + 100, no_valid_host=True
    )
    rows = json.loads(_invoke("api", good, bad, "--server", "-f", "json", "--db", str(db)).output)
    select = next(r for r in rows if r["Caller"] == "nova-conductor" and r["Service"] == "scheduler")
    assert select == {
        "Caller": "nova-conductor",
        "Service": "scheduler",
        "Method": "call",
        "Path": "select_destinations v4.5",
        "Calls": 2,
        "Runs": 2,
        "Statuses": "reply, NoValidHost_Remote",
    }
    yaml_text = _invoke("api", good, "--server", "-f", "yaml", "--db", str(db)).output
    assert "Path: ComputeManager.build_and_run_instance" in yaml_text and "Method: fanout" in yaml_text
    data = json.loads(
        _invoke("diff", good, bad, "--all-calls", "--changes-only", "-f", "json", "--db", str(db)).output
    )
    changed = [
        (c["op"], c["kind"], c["method"], c["path"], c["changes"])
        for c in data["calls"]
        if c["kind"] == "rpc"
    ]
    assert changed == [
        ("changed", "rpc", "call", "select_destinations", ["status reply -> NoValidHost_Remote"]),
        ("removed", "rpc", "cast", "build_and_run_instance", []),
        ("removed", "rpc", "fanout", "update_instance_info", []),
    ]


def test_which_without_openstack_is_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["which", "server", "list"], env={"PATH": str(tmp_path)})
    assert result.exit_code == 1
    assert result.output == "stacktap: no openstack on PATH (give one with --openstack PATH)\n"


def test_which_in_an_environment_without_osc(tmp_path: Path) -> None:
    fake = tmp_path / "openstack"
    fake.write_text(f"#!{Path(sys.base_prefix) / 'bin' / 'python3'}\nraise SystemExit(0)\n")  # no OSC there
    fake.chmod(0o755)
    result = CliRunner().invoke(cli, ["which", "openstack", "server", "list", "--openstack", str(fake)])
    assert result.exit_code == 1
    assert result.output.startswith("stacktap: no OpenStackClient commands in the environment of ")
