"""The API map across runs: distinct (caller, service, method, template), counts, statuses;
RPC messages by topic, call/cast/fanout and method; SQL never."""

from __future__ import annotations

from pathlib import Path

from exchange_traces import GLANCE, KEYSTONE, write_run, write_sample_run
from rpc_traces import T0, load, write_server_create

from stacktap.render.api_map import api_key, api_map, api_rows
from stacktap.store import Store, Trace, load_trace

NOVA = "http://127.0.0.1:8774/v2.1"


def test_sample_run_map_keeps_the_command_apart_from_glance(tmp_path: Path) -> None:
    run_id = write_sample_run(tmp_path / "s.db")
    with Store(str(tmp_path / "s.db")) as store:
        rows = api_rows(api_map([load_trace(store, run_id)]))
    assert rows == [
        ("openstack", "keystone", "GET", "/", 1, 1, "300"),
        ("openstack", "keystone", "POST", "/v3/auth/tokens", 1, 1, "201"),
        ("openstack", "glance", "GET", "/v2/images", 1, 1, "200"),
        ("glance-api", "keystone", "GET", "/v3/auth/tokens", 1, 1, "200"),
        ("openstack", "glance", "GET", "/v2/images/{image_id}/file", 1, 1, "200"),
        ("openstack", "glance", "GET", "/v2/images/{image_id}", 1, 1, "404"),
        ("openstack", "127.0.0.1:9", "GET", "/v2.1/servers", 1, 1, "ConnectionError"),
    ]


def test_server_side_records_only_on_request(tmp_path: Path) -> None:
    run_id = write_sample_run(tmp_path / "s.db")
    with Store(str(tmp_path / "s.db")) as store:
        uses = api_map([load_trace(store, run_id)], include_server=True)
    server = [u for u in uses if u.caller == "(server)"]
    assert [(u.service, u.method, u.path) for u in server] == [("glance-api", "GET", "/v2/images")]


def test_counts_and_runs_add_up_across_runs(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    a = write_run(
        db,
        [
            ("POST", KEYSTONE + "/v3/auth/tokens", 201, 0.05),
            ("GET", GLANCE + "/v2/images/11111111-2222-3333-4444-555555555555", 200, 0.01),
            ("GET", GLANCE + "/v2/images/aaaaaaaa-2222-3333-4444-555555555555", 404, 0.01),
        ],
        label="openstack image show x",
    )
    b = write_run(
        db,
        [("POST", KEYSTONE + "/v3/auth/tokens", 201, 0.05), ("GET", NOVA + "/servers/detail", 200, 0.02)],
        label="openstack server list",
        start=1_800_000_000.0,
    )
    with Store(str(db)) as store:
        rows = api_rows(api_map([load_trace(store, a), load_trace(store, b)]))
    assert rows == [
        ("openstack", "keystone", "POST", "/v3/auth/tokens", 2, 2, "201"),
        ("openstack", "glance", "GET", "/v2/images/{image_id}", 2, 1, "200, 404"),
        ("openstack", "127.0.0.1:8774", "GET", "/v2.1/servers/detail", 1, 1, "200"),
    ]


def test_rpc_messages_are_apis_by_topic_how_sent_and_method(tmp_path: Path) -> None:
    run_id = write_server_create(tmp_path / "s.db")
    trace = load(tmp_path / "s.db", run_id)
    rows = api_rows(api_map([trace]))
    rpc = [row for row in rows if row[2] in ("call", "cast", "fanout")]
    assert rpc == [
        ("nova-api", "conductor", "cast", "schedule_and_build_instances v1.17", 1, 1, "sent"),
        ("nova-conductor", "scheduler", "call", "select_destinations v4.5", 1, 1, "reply"),
        ("nova-conductor", "compute", "cast", "build_and_run_instance v6.0", 1, 1, "sent"),
        ("nova-compute", "scheduler", "fanout", "update_instance_info v4.2", 1, 1, "sent"),
    ]
    # the HTTP APIs are as before: the OSC's polling is one API called four times
    assert ("openstack", "nova", "GET", "/v2.1/servers/{server_id}", 4, 1, "200") in rows
    # SQL is kept apart (Trace.db_calls) and never becomes an API
    assert len(trace.db_calls) == 1
    assert not [row for row in rows if row[2] == "SELECT" or row[1].startswith("mysql")]


def test_server_side_rpc_records_are_listed_by_endpoint_method(tmp_path: Path) -> None:
    run_id = write_server_create(tmp_path / "s.db")
    uses = api_map([load(tmp_path / "s.db", run_id)], include_server=True)
    server = [u.row() for u in uses if u.caller == "(server)" and u.method in ("call", "cast")]
    assert server == [
        (
            "(server)",
            "nova-conductor",
            "cast",
            "ComputeTaskManager.schedule_and_build_instances",
            1,
            1,
            "done",
        ),
        ("(server)", "nova-scheduler", "call", "SchedulerManager.select_destinations", 1, 1, "done"),
        ("(server)", "nova-compute", "cast", "ComputeManager.build_and_run_instance", 1, 1, "done"),
    ]


def test_a_raising_rpc_call_shows_the_remote_exception_across_runs(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    good = write_server_create(db)
    bad = write_server_create(
        db, label="openstack server create --wait vm2", start=T0 + 100, no_valid_host=True
    )
    uses = api_map([load(db, good), load(db, bad)], include_server=True)
    select = [u.row() for u in uses if u.path.startswith(("select_destinations", "SchedulerManager"))]
    assert select == [
        (
            "nova-conductor",
            "scheduler",
            "call",
            "select_destinations v4.5",
            2,
            2,
            "reply, NoValidHost_Remote",
        ),
        (
            "(server)",
            "nova-scheduler",
            "call",
            "SchedulerManager.select_destinations",
            2,
            2,
            "done, NoValidHost",
        ),
    ]


def test_a_handled_message_without_its_sender_is_rpc(tmp_path: Path) -> None:
    run_id = write_server_create(tmp_path / "s.db")
    full = load(tmp_path / "s.db", run_id)
    handled = next(c for c in full.calls if c.handler == "ComputeManager.build_and_run_instance")
    alone = Trace(run=full.run, calls=[handled])
    assert api_key(handled, alone) == ("nova-compute", "rpc", "ComputeManager.build_and_run_instance")
    assert api_key(handled, full) == ("nova-compute", "cast", "ComputeManager.build_and_run_instance")
