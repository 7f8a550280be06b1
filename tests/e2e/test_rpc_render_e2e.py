"""RPC in ``api``, ``diff`` and ``show`` of a real ``server create --wait``: the casts and calls nova's
services sent are APIs by topic, call/cast and method; a boot no host can take shows the
scheduler's call that now raises; the OSC's own polling is one row of ``show``'s table."""

from __future__ import annotations

import json
import subprocess
import uuid
from typing import Any

import pytest

from stacktap.store import Store

pytestmark = pytest.mark.e2e

HTTP_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}


def _openstack(cloud: Any, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(cloud.openstack), *args], env=cloud.env, capture_output=True, text=True,
                          timeout=300, check=False)  # fmt: skip


def _stacktap(cloud: Any, *args: str) -> str:
    done = subprocess.run([*cloud.stacktap, *args, "--db", str(cloud.db)], capture_output=True, text=True,
                          timeout=120, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def _boot(cloud: Any, flavor: str, name: str) -> str:
    """Run ``server create --wait`` traced; the id of its run."""
    label = "render-e2e-" + uuid.uuid4().hex[:8]
    boot = ["server", "create", "--nic", "none", "--flavor", flavor, "--image", "devcloud-image"]
    boot += ["--wait", name]
    subprocess.run(
        [*cloud.stacktap, "run", "--db", str(cloud.db), "--label", label, "--", str(cloud.openstack), *boot],
        env=cloud.env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    with Store(str(cloud.db), create=False) as store:
        return next(r.id for r in store.runs() if r.label == label)


@pytest.fixture(scope="module")
def runs(devcloud: Any) -> Any:
    """(a boot that works, a boot no host can take: a flavor asking more disk than the fake node has)."""
    if not devcloud.traced:
        pytest.fail("this stacktap cannot trace servers")
    suffix = uuid.uuid4().hex[:8]
    huge = "render-e2e-huge-" + suffix
    names = ["render-e2e-ok-" + suffix, "render-e2e-novalidhost-" + suffix]
    made = _openstack(devcloud, "flavor", "create", "--ram", "64", "--vcpus", "1", "--disk", "1000000", huge)
    assert made.returncode == 0, made.stderr
    try:
        yield _boot(devcloud, "m1.tiny", names[0]), _boot(devcloud, huge, names[1])
    finally:
        _openstack(devcloud, "server", "delete", "--wait", *names)
        _openstack(devcloud, "flavor", "delete", huge)


def test_api_lists_the_rpc_messages_and_their_handlers(devcloud: Any, runs: Any) -> None:
    good, _ = runs
    rows = json.loads(_stacktap(devcloud, "api", good, "--server", "-f", "json"))
    by = {(r["Caller"], r["Service"], r["Method"], r["Path"].split(" v")[0]): r for r in rows}
    cast = by[("nova-api", "conductor", "cast", "schedule_and_build_instances")]
    assert cast["Statuses"] == "sent" and cast["Path"].startswith("schedule_and_build_instances v")
    assert by[("nova-conductor", "scheduler", "call", "select_destinations")]["Statuses"] == "reply"
    assert by[("nova-conductor", "compute", "cast", "build_and_run_instance")]["Statuses"] == "sent"
    handled = by[("(server)", "nova-compute", "cast", "ComputeManager.build_and_run_instance")]
    assert handled["Statuses"] == "done"
    # every row is an HTTP or an RPC API: no SQL statement became one
    assert {r["Method"] for r in rows} <= HTTP_METHODS | {"call", "cast", "fanout", "rpc"}


def test_diff_shows_the_scheduler_call_that_now_raises(devcloud: Any, runs: Any) -> None:
    good, bad = runs
    data = json.loads(_stacktap(devcloud, "diff", good, bad, "--all-calls", "-f", "json"))
    (select,) = [c for c in data["calls"] if (c["service"], c["method"], c["path"]) ==
                 ("scheduler", "call", "select_destinations")]  # fmt: skip
    assert select["op"] == "changed" and select["kind"] == "rpc"
    assert select["a"]["statuses"] == ["reply"] and select["b"]["statuses"][0].startswith("NoValidHost")
    assert select["changes"][0].startswith("status reply -> NoValidHost")
    boot = [c for c in data["calls"] if c["path"] == "build_and_run_instance"]
    assert [c["op"] for c in boot] == ["removed"]
    text = _stacktap(devcloud, "diff", good, bad, "--all-calls", "--changes-only")
    assert "~ scheduler call select_destinations" in text


def test_show_folds_the_wait_polling_into_one_row(devcloud: Any, runs: Any) -> None:
    good, _ = runs
    rows = json.loads(_stacktap(devcloud, "show", good, "-f", "json"))
    # machine formats keep one row per call
    assert sorted(r["#"] for r in rows) == list(range(1, len(rows) + 1))
    polls = [r for r in rows if r["Depth"] == 0 and "wait_for_status" in (r["Call site"] or "")]
    assert polls and {r["Status"] for r in polls} == {"200"}, polls
    table = _stacktap(devcloud, "show", good)
    (line,) = [line for line in table.splitlines() if "wait_for_status" in line]
    cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
    if len(polls) > 1:
        assert cells[0] == f"{polls[0]['#']}-{polls[-1]['#']}"
        assert cells[6] == f"200 x{len(polls)}"
        total = sum(float(r["Duration (ms)"]) for r in polls)
        assert abs(float(cells[2]) - total) < 0.2 * len(polls)
    else:
        assert cells[0] == str(polls[0]["#"]) and cells[6] == "200"
    every = _stacktap(devcloud, "show", good, "--no-fold")
    assert len([line for line in every.splitlines() if "wait_for_status" in line]) == len(polls)
