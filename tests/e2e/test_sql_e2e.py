"""The SQL the services run while serving a traced command: recorded, folded per call, kept out of
the HTTP views, parameter values never stored."""

from __future__ import annotations

import json
import subprocess
import uuid
from typing import Any

import pytest

pytestmark = pytest.mark.e2e


def _stacktap(cloud: Any, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*cloud.stacktap, *args, "--db", str(cloud.db)], capture_output=True, text=True, timeout=300
    )


@pytest.fixture(scope="module")
def traced_create(devcloud: Any) -> Any:
    if not devcloud.traced:
        pytest.fail("this stacktap cannot trace servers")
    name = "sql-e2e-" + uuid.uuid4().hex[:8]
    label = "sql-e2e-" + uuid.uuid4().hex[:8]
    boot = ["--nic", "none", "--flavor", "m1.tiny", "--image", "devcloud-image", "--wait", "-f", "value"]
    done = subprocess.run(
        [*devcloud.stacktap, "run", "--db", str(devcloud.db), "--label", label, "--",
         str(devcloud.openstack), "server", "create", *boot, "-c", "name", name],
        env=devcloud.env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    yield done, name, label
    subprocess.run(
        [str(devcloud.openstack), "server", "delete", "--wait", name],
        env=devcloud.env, capture_output=True, timeout=300, check=False,
    )  # fmt: skip


def _run_id(cloud: Any, label: str) -> str:
    runs = json.loads(_stacktap(cloud, "list", "-f", "json").stdout)
    return next(r["ID"] for r in runs if r["Command"] == label)


def test_post_servers_shows_its_statements_folded(devcloud: Any, traced_create: Any) -> None:
    done, name, label = traced_create
    assert done.returncode == 0 and done.stdout.strip() == name, done.stderr[-2000:]
    run = _run_id(devcloud, label)
    result = _stacktap(devcloud, "show", run, "--sql", "-f", "json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    posted = [r for r in rows if r["Serving"] == "POST /v2.1/servers" and r["Service"] == "nova-api"]
    assert posted, rows[:5]
    assert sum(r["Count"] for r in posted) >= 3
    assert any(r["SQL"].startswith("SELECT") for r in posted)
    assert all(r["Time (ms)"] >= 0 for r in rows)
    # NOTE: values travel as parameters, never stored: the server's name is in no statement.
    assert not any(name in r["SQL"] for r in rows)
    assert all(devcloud.password not in r["SQL"] for r in rows)


def test_http_views_never_meet_a_statement(devcloud: Any, traced_create: Any) -> None:
    _, _, label = traced_create
    run = _run_id(devcloud, label)
    shown = _stacktap(devcloud, "show", run, "-f", "json")
    assert shown.returncode == 0, shown.stderr
    calls = json.loads(shown.stdout)
    sql_verbs = {"SELECT", "INSERT", "UPDATE", "DELETE FROM", "BEGIN", "COMMIT", "SHOW", "SET"}
    assert calls and not [c for c in calls if c["Method"] in sql_verbs or "sqlite" in c["Path"]]
    assert not [c for c in calls if "mysql" in c["Path"] or c["Path"].startswith("sqlite")]
    server_post = [c for c in calls if c["Side"] == "server" and c["Path"] == "/v2.1/servers"
                   and c["Method"] == "POST"]  # fmt: skip
    assert server_post and " SQL, " in server_post[0]["Call site"]
    diagram = _stacktap(devcloud, "diagram", run)
    assert diagram.returncode == 0, diagram.stderr
    assert "sqlite" not in diagram.stdout and "mysql" not in diagram.stdout and "?:80" not in diagram.stdout
    har = json.loads(_stacktap(devcloud, "export", run, "--format", "har").stdout)
    assert all(e["request"]["url"].startswith("http") for e in har["log"]["entries"])
