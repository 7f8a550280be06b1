"""Run diff: aligned steps, folded repeats, added/removed/changed, thresholds; RPC steps."""

from __future__ import annotations

import json
from pathlib import Path

from exchange_traces import KEYSTONE, write_run
from rpc_traces import T0, WAIT, load, server_create_calls, write_server_create

from stacktap.model import Run
from stacktap.render.run_diff import ADDED, CHANGED, REMOVED, SAME, diff_runs, render_diff
from stacktap.store import Store, load_trace

NOVA = "http://127.0.0.1:8774/v2.1"
GLANCE = "http://127.0.0.1:9292"
SERVER_ID = "11111111-2222-3333-4444-555555555555"

BASE = [
    ("GET", KEYSTONE + "/", 300, 0.005),
    ("POST", KEYSTONE + "/v3/auth/tokens", 201, 0.080),
    ("GET", NOVA + "/servers/detail", 200, 0.040),
]


def _diff(tmp_path: Path, a: list, b: list, **kw: object) -> list:
    db = tmp_path / "s.db"
    run_a = write_run(db, a, label="openstack server list")
    run_b = write_run(db, b, label="openstack server list --long", start=1_800_000_000.0)
    with Store(str(db)) as store:
        return diff_runs(load_trace(store, run_a), load_trace(store, run_b), **kw)


def test_long_listing_adds_image_and_flavor_lookups(tmp_path: Path) -> None:
    longer = [*BASE, ("GET", GLANCE + "/v2/images", 200, 0.030), ("GET", NOVA + "/flavors/detail", 200, 0.02)]
    lines = _diff(tmp_path, BASE, longer)
    assert [(line.op, line.key[2]) for line in lines] == [
        (SAME, "/"),
        (SAME, "/v3/auth/tokens"),
        (SAME, "/v2.1/servers/detail"),
        (ADDED, "/v2/images"),
        (ADDED, "/v2.1/flavors/detail"),
    ]


def test_removed_and_changed_status(tmp_path: Path) -> None:
    b = [BASE[1], ("GET", NOVA + "/servers/detail", 403, 0.040)]
    lines = _diff(tmp_path, BASE, b)
    assert [(line.op, line.key[2]) for line in lines] == [
        (REMOVED, "/"),
        (SAME, "/v3/auth/tokens"),
        (CHANGED, "/v2.1/servers/detail"),
    ]
    assert lines[2].changes == ["status 200 -> 403"]


def test_consecutive_repeats_fold_and_counts_compare(tmp_path: Path) -> None:
    poll = ("GET", NOVA + "/servers/" + SERVER_ID, 200, 0.010)
    lines = _diff(tmp_path, [*BASE, poll, poll], [*BASE, poll, poll, poll, poll, poll])
    assert lines[-1].op == CHANGED and lines[-1].key[2] == "/v2.1/servers/{server_id}"
    assert lines[-1].changes == ["count 2 -> 5", "time 20.0 -> 50.0 ms (2.5x slower)"]


def test_duration_needs_both_ratio_and_absolute_delta(tmp_path: Path) -> None:
    # 5 ms -> 15 ms is 3x but only 10 ms: not reported. 40 ms -> 100 ms is.
    b = [("GET", KEYSTONE + "/", 300, 0.015), BASE[1], ("GET", NOVA + "/servers/detail", 200, 0.100)]
    lines = _diff(tmp_path, BASE, b)
    assert [line.op for line in lines] == [SAME, SAME, CHANGED]
    assert lines[2].changes == ["time 40.0 -> 100.0 ms (2.5x slower)"]
    strict = _diff(tmp_path, BASE, b, ratio=3.0)
    assert [line.op for line in strict] == [SAME, SAME, SAME]


def test_text_and_json_renderings(tmp_path: Path) -> None:
    b = [*BASE[1:], ("GET", GLANCE + "/v2/images", 200, 0.030)]
    lines = _diff(tmp_path, BASE, b)
    text = render_diff(lines, "aaa", "bbb")
    assert text.splitlines() == [
        "--- A aaa",
        "+++ B bbb",
        "- keystone GET /",
        "  keystone POST /v3/auth/tokens",
        "  127.0.0.1:8774 GET /v2.1/servers/detail",
        "+ glance GET /v2/images",
        "1 added, 1 removed, 0 changed, 2 same",
    ]
    assert "keystone POST" not in render_diff(lines, "a", "b", only_changes=True)
    data = [line.to_dict() for line in lines]
    assert json.loads(json.dumps(data))[0] == {
        "op": "removed",
        "kind": "http",
        "service": "keystone",
        "method": "GET",
        "path": "/",
        "a": {"count": 1, "statuses": ["300"], "duration_ms": 5.0},
        "b": None,
        "changes": [],
    }


def _rpc_diff(tmp_path: Path, **b_kw: object) -> list:
    db = tmp_path / "rpc.db"
    a = write_server_create(db)
    b = write_server_create(db, label="openstack server create --wait vm2", start=T0 + 100, **b_kw)
    return diff_runs(load(db, a), load(db, b), all_calls=True)


def test_rpc_steps_align_and_a_call_that_now_raises_is_changed(tmp_path: Path) -> None:
    lines = _rpc_diff(tmp_path, no_valid_host=True)
    rpc = [(line.op, line.key, line.changes) for line in lines if line.key[1] in ("call", "cast", "fanout")]
    assert rpc == [
        (SAME, ("conductor", "cast", "schedule_and_build_instances"), []),
        (CHANGED, ("scheduler", "call", "select_destinations"), ["status reply -> NoValidHost_Remote"]),
        (REMOVED, ("compute", "cast", "build_and_run_instance"), []),
        (REMOVED, ("scheduler", "fanout", "update_instance_info"), []),
    ]
    text = render_diff(lines, "a", "b", only_changes=True)
    assert "~ scheduler call select_destinations     status reply -> NoValidHost_Remote\n" in text
    assert "- compute cast build_and_run_instance" in text
    data = json.loads(json.dumps([line.to_dict() for line in lines]))
    select = next(d for d in data if d["path"] == "select_destinations")
    assert select == {
        "op": "changed",
        "kind": "rpc",
        "service": "scheduler",
        "method": "call",
        "path": "select_destinations",
        "a": {"count": 1, "statuses": ["reply"], "duration_ms": 10.0, "versions": ["4.5"]},
        "b": {"count": 1, "statuses": ["NoValidHost_Remote"], "duration_ms": 10.0, "versions": ["4.5"]},
        "changes": ["status reply -> NoValidHost_Remote"],
    }
    # SQL statements are never steps
    assert not [line for line in lines if line.key[1] == "SELECT"]


def test_services_calls_align_whatever_ran_meanwhile(tmp_path: Path) -> None:
    """The OSC's first poll starting while the conductor asks the scheduler (they race) moves
    no step: services' calls are compared where they happened, under the call they served."""
    db = tmp_path / "rpc.db"
    a = write_server_create(db)
    with Store(str(db)) as store:
        run = Run(label="raced", argv=["openstack"], started=T0 + 100, ended=T0 + 130, exit_code=0)
        store.add_run(run)
        calls = server_create_calls(run.id, T0 + 100)
        select = next(c for c in calls if c.method == "select_destinations")
        poll = next(c for c in calls if c.call_site == WAIT)
        moved, shift = [poll], select.start - 0.0005 - poll.start
        for call in calls:  # the poll's server record and the calls nova-api made for it
            if call.parent_span_id in {m.span_id for m in moved}:
                moved.append(call)
        for call in moved:
            call.start += shift
        assert poll.start < select.start
        store.add_calls(calls)
    lines = diff_runs(load(db, a), load(db, run.id), all_calls=True)
    assert [line.op for line in lines] == [SAME] * len(lines), render_diff(lines, "a", "b")


def test_a_new_rpc_api_version_is_a_change_of_the_same_step(tmp_path: Path) -> None:
    lines = _rpc_diff(tmp_path, scheduler_version="4.6")
    (select,) = [line for line in lines if line.key == ("scheduler", "call", "select_destinations")]
    assert select.op == CHANGED and select.changes == ["version 4.5 -> 4.6"]
    assert [line.op for line in lines if line is not select] == [SAME] * (len(lines) - 1)


def test_rpc_steps_only_with_all_calls(tmp_path: Path) -> None:
    db = tmp_path / "rpc.db"
    a = write_server_create(db)
    b = write_server_create(
        db, label="openstack server create --wait vm2", start=T0 + 100, no_valid_host=True
    )
    lines = diff_runs(load(db, a), load(db, b))
    # the command's own calls: POST /servers, the polls (one step of 3), the final GET
    assert [(line.op, line.key[1], line.key[2]) for line in lines] == [
        (SAME, "POST", "/v2.1/servers"),
        (SAME, "GET", "/v2.1/servers/{server_id}"),
    ]
    assert lines[1].a is not None and lines[1].a.count == 4
